"""The paper's facts, transcribed once from ../shared/paper/wang2019-dscmr-neurocomputing.txt.

Everything else (data builders, the network generator, the audit) imports from here.
Section, equation and table numbers are the paper's.
"""

# Sec. 3.1 "Database": "AUs included in the database are AU1, AU2, AU4, AU5, AU6, AU9, AU12,
# AU17, AU20, AU25, and AU26."
EMOTIONET_AUS = (1, 2, 4, 5, 6, 9, 12, 17, 20, 25, 26)

# Table 5 (CK+): the AU column.
CKPLUS_AUS = (1, 2, 4, 5, 6, 7, 9, 12, 15, 17, 20, 23, 24, 25)

# Table 2: "Train samples N:P" on EmotioNet, 11 AUs. Table 4 repeats these, except AU2 (57.26
# there, 57.36 here); Table 2 is the one that gives them as the training-set ratios.
TABLE2_TRAIN_NP = {1: 30.00, 2: 57.36, 4: 81.06, 5: 105.94, 6: 27.03, 9: 152.51,
                   12: 1.22, 17: 191.70, 20: 220.85, 25: 2.37, 26: 2.79}

# Table 4: "Test samples N:P" and "Validation samples N:P" on EmotioNet (the two columns after
# "Train samples N:P"). The built-in dataset uses them for its test and val splits.
TABLE4_TEST_NP = {1: 1.00, 2: 5.34, 4: 14.62, 5: 14.44, 6: 14.14, 9: 26.75,
                  12: 1.06, 17: 74.45, 20: 18.50, 25: 2.68, 26: 0.78}
TABLE4_VAL_NP = {1: 1.00, 2: 5.28, 4: 13.43, 5: 14.32, 6: 13.43, 9: 26.39,
                 12: 1.00, 17: 101.53, 20: 19.29, 25: 2.40, 26: 0.76}

# Table 3: the AU subsets of the 3, 5, 8 and 11 AU experiments (rows with entries).
TABLE3_AU_SUBSETS = {3: (1, 2, 4), 5: (1, 2, 4, 5, 6), 8: (1, 2, 4, 5, 6, 9, 12, 17),
                     11: EMOTIONET_AUS}

# Sec. 3.2, Fig. 5: single-AU (AU1) training N:P ratios; balanced test set.
FIG5_AU = 1
FIG5_TRAIN_NP = (5, 10, 20, 30)

# Sec. 2.1: input size, the L-DSCMR region map, the region grid and the fc width.
INPUT_SIZE = 224
REGION_MAP_SIZE = 214          # "divides a 214 x 214 feature map into 8 x 8 blocks"
REGION_GRID = (8, 8)
FC_WIDTH = 2046                # "a fully connected layer with 2046 neural units"
RESNET18_GROUP_WIDTHS = (64, 128, 256, 512)

# Sec. 3.1 "Preprocessing and configuration".
BASE_LR = 0.0005               # "initialized with the learning rate of 0.0005"
LR_STEP = 2000                 # "further reduced after 2000 iterations"
MOMENTUM = 0.9
WEIGHT_DECAY = 0.0005
ALPHA = 0.5                    # "For Eq. (8), alpha = 0.5"

# The ignore label for "not annotated" (EmotioNet's 999); not a number the paper states.
IGNORE_LABEL = 999

"""The paper's facts, transcribed once from its text, and where that text is.

Everything else (data builders, the network generator, the audit) imports from here.
Section, equation and table numbers are the paper's.

The text itself is the publisher's and is not shipped: like CK+, it is the user's to bring. The
environment variable DSCMR_PAPER names the file; by default it is
../shared/paper/wang2019-dscmr-neurocomputing.txt beside the clone. Only the checks of these
transcriptions against the text (tests/core/test_paper.py, the quotes of tools/experiments/paper_facts.py) need it.
"""
import os
from pathlib import Path

PAPER_ENV = "DSCMR_PAPER"
PAPER_FILE = "wang2019-dscmr-neurocomputing.txt"
_DEFAULT_TEXT = Path(__file__).resolve().parent.parent.parent / "shared" / "paper" / PAPER_FILE


def text_path():
    """Where the paper's text is looked for: $DSCMR_PAPER, else ../shared/paper/ beside the clone."""
    return Path(os.environ[PAPER_ENV]) if os.environ.get(PAPER_ENV) else _DEFAULT_TEXT


def text_missing_reason(path=None):
    """None when the paper's text is readable at path (default: text_path()), else why not, naming
    the setting that says where it is."""
    path = Path(path) if path else text_path()
    if path.is_file():
        return None
    return (f"the paper's text is not at {path}; put {PAPER_FILE} there or set {PAPER_ENV} to its path "
            "(it is the publisher's text, not shipped with this repository)")

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
# Fig. 5 has no table: the test accuracy Sec. 3.2's text names for each method, and its words.
FIG5_TEXT = {"AlexNet": (70.0, "more than 70% at N:P 5, then \"drastically reduced\" at 10 and above"),
             "AlexNet + MSR": (90.0, "about 90% at N:P 5 and 30, curves \"almost overlapped\"")}

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

# ---- The paper's results (tests/core/test_paper.py checks every row against the paper's text) ----

# Tables 4 and 5: the six methods, in the tables' column order.
METHODS = ("DRML", "ResNet18", "AlexNet", "DSCMR", "AlexNet+Ad-MSR", "L-DSCMR")

# Table 2 (EmotioNet, 11 AUs): accuracy (%) of AlexNet with MSR and with Ad-MSR.
TABLE2_MSR_ACCURACY = {1: 85.88, 2: 71.23, 4: 68.57, 5: 63.80, 6: 83.28, 9: 68.76,
                       12: 81.68, 17: 70.68, 20: 64.28, 25: 87.23, 26: 84.17}
TABLE2_ADMSR_ACCURACY = {1: 88.18, 2: 73.01, 4: 73.91, 5: 67.72, 6: 84.44, 9: 74.37,
                         12: 83.45, 17: 74.73, 20: 66.60, 25: 89.63, 26: 86.19}

# Table 3 (EmotioNet): accuracy (%) as (MSR, Ad-MSR) per AU, for 3, 5, 8 and 11 AUs, and the means.
# Its 11-AU column differs from Table 2 in places (e.g. AU2 71.53 vs 71.23); both are kept as printed.
TABLE3_ACCURACY = {
    3: {1: (87.24, 88.36), 2: (71.33, 73.28), 4: (72.38, 74.78)},
    5: {1: (86.89, 88.33), 2: (72.94, 73.04), 4: (71.78, 74.14), 5: (67.69, 67.64), 6: (83.76, 84.15)},
    8: {1: (86.57, 88.20), 2: (71.94, 72.99), 4: (71.41, 74.25), 5: (65.21, 68.42), 6: (83.78, 84.30),
        9: (71.45, 75.47), 12: (82.36, 83.96), 17: (73.53, 72.42)},
    11: {1: (85.88, 88.18), 2: (71.53, 73.00), 4: (69.33, 73.39), 5: (63.85, 67.72), 6: (83.44, 84.44),
         9: (69.14, 74.73), 12: (81.88, 83.45), 17: (70.89, 74.04), 20: (64.60, 66.60), 25: (87.52, 89.62),
         26: (84.67, 86.19)},
}
TABLE3_MEAN = {3: (76.98, 78.81), 5: (76.61, 77.46), 8: (75.78, 77.50), 11: (75.70, 78.31)}

# Table 4 (EmotioNet): F1-score and AUC (%) per AU, one value per METHODS entry.
TABLE4_F1 = {1: (2.10, 21.67, 2.02, 67.68, 60.71, 89.84), 2: (3.40, 3.93, 3.49, 52.62, 50.34, 51.42),
             4: (4.02, 7.00, 4.81, 37.37, 25.54, 33.65), 5: (5.19, 7.62, 5.26, 34.36, 27.31, 28.36),
             6: (4.78, 32.46, 5.00, 47.51, 41.76, 45.70), 9: (1.33, 10.09, 5.01, 27.15, 22.72, 22.18),
             12: (80.91, 72.92, 66.30, 76.21, 76.42, 83.09), 17: (9.58, 17.24, 2.01, 18.21, 6.93, 19.22),
             20: (0.99, 10.00, 3.19, 27.53, 24.67, 25.00), 25: (80.44, 70.28, 54.72, 72.05, 66.42, 82.52),
             26: (83.67, 81.20, 58.61, 79.62, 72.44, 88.32)}
TABLE4_AUC = {1: (18.04, 38.94, 19.98, 48.77, 47.21, 49.77), 2: (17.51, 36.29, 18.94, 49.75, 49.46, 49.83),
              4: (12.04, 17.81, 8.31, 49.92, 49.16, 53.78), 5: (6.55, 0.99, 4.82, 49.77, 50.05, 49.93),
              6: (28.43, 38.62, 27.79, 49.27, 49.33, 50.46), 9: (9.39, 13.99, 6.69, 51.45, 49.80, 50.47),
              12: (50.33, 49.23, 50.28, 51.13, 50.64, 50.02), 17: (4.42, 50.08, 16.97, 55.84, 52.76, 63.37),
              20: (6.04, 11.24, 5.32, 50.10, 49.75, 50.03), 25: (47.80, 49.50, 48.28, 52.48, 51.01, 50.31),
              26: (43.46, 48.66, 44.10, 50.33, 49.86, 50.55)}

# Table 5 (CK+): F1-score and AUC (%) per AU and method, and the train / test / validation N:P.
TABLE5_F1 = {1: (50.00, 64.15, 34.09, 54.23, 45.56, 64.25), 2: (40.00, 70.96, 43.47, 64.70, 47.05, 58.57),
             4: (72.28, 42.85, 52.63, 61.11, 54.32, 69.13), 5: (52.63, 60.00, 35.08, 42.24, 47.36, 66.67),
             6: (57.78, 60.00, 54.54, 68.18, 57.14, 62.22), 7: (24.39, 26.67, 35.48, 35.89, 27.02, 47.05),
             9: (54.54, 36.36, 21.27, 53.84, 35.29, 51.53), 12: (75.56, 51.28, 60.00, 80.00, 63.41, 75.56),
             15: (57.14, 24.00, 53.52, 82.92, 61.53, 71.42), 17: (81.92, 60.24, 68.81, 89.74, 67.39, 82.35),
             20: (58.06, 21.05, 48.80, 83.87, 66.67, 84.84), 23: (41.67, 15.00, 31.11, 75.00, 50.09, 73.26),
             24: (30.76, 20.00, 17.00, 36.36, 22.22, 26.67), 25: (76.42, 79.33, 78.94, 85.49, 77.06, 89.06)}
TABLE5_AUC = {1: (49.99, 49.85, 49.48, 49.87, 50.00, 50.05), 2: (50.00, 49.48, 48.63, 49.96, 50.00, 50.53),
              4: (49.99, 45.67, 45.58, 50.00, 48.94, 49.98), 5: (49.97, 31.16, 30.50, 49.99, 49.85, 47.22),
              6: (55.43, 27.52, 45.80, 53.16, 49.80, 55.04), 7: (49.93, 41.45, 49.57, 50.00, 49.90, 49.08),
              9: (31.37, 28.80, 20.87, 49.98, 49.94, 62.26), 12: (49.57, 5.22, 35.43, 40.10, 25.58, 9.32),
              15: (50.10, 30.61, 27.43, 50.02, 49.92, 51.03), 17: (49.62, 49.58, 48.40, 50.60, 36.80, 54.56),
              20: (49.97, 11.80, 7.29, 28.18, 49.50, 30.44), 23: (50.01, 32.94, 42.27, 49.87, 49.71, 43.06),
              24: (27.01, 28.77, 31.12, 49.83, 50.03, 44.62), 25: (49.71, 51.09, 51.06, 50.00, 41.23, 49.98)}
TABLE5_NP = {1: (2.16, 2.93, 2.54), 2: (2.27, 5.94, 6.31), 4: (1.93, 2.57, 2.16), 5: (4.54, 8.07, 3.87),
             6: (2.98, 5.94, 5.88), 7: (3.22, 5.21, 6.31), 9: (5.12, 12.11, 15.71), 12: (3.61, 3.21, 3.5),
             15: (6.10, 4.61, 4.08), 17: (1.88, 2.27, 1.85), 20: (6.10, 5.94, 9.63), 23: (9.44, 10.8, 6.315),
             24: (6.88, 15.85, 18.5), 25: (1.29, 1.80, 2.06)}

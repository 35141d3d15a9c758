"""Log parsing on a real log from a short `caffe train` run, with Ad-MSR's per-AU tops logged."""
import numpy as np
from helpers.caffe import dummy_multilabel_net, run_caffe

from tools.nets.parse_log import main, parse_log, trained_on, wall_seconds

NET = dummy_multilabel_net(
    'layer { name: "loss" type: "AdMSRLoss" bottom: "logits" bottom: "y" top: "loss" top: "beta" top: "l_cur"\n'
    '  loss_weight: 1 loss_weight: 0 loss_weight: 0 }', positive_fraction=0.4)


def test_parses_a_real_training_log(tmp_path):
    (tmp_path / "net.prototxt").write_text(NET)
    (tmp_path / "solver.prototxt").write_text(
        'net: "net.prototxt"\ntest_net: "net.prototxt"\ntest_iter: 2\ntest_interval: 5\ntest_initialization: true\n'
        'base_lr: 0.01\nlr_policy: "fixed"\nmax_iter: 10\ndisplay: 2\nrandom_seed: 3\nsnapshot_after_train: false\n')
    log = run_caffe("train", "-solver", "solver.prototxt", cwd=tmp_path).stderr
    train, test = parse_log(log.splitlines())

    assert [r["iteration"] for r in train] == [0, 2, 4, 6, 8]
    assert [r["iteration"] for r in test] == [0, 5, 10]
    for r in train:
        assert r["lr"] == 0.01
        assert len(r["beta"]) == 3 and len(r["l_cur"]) == 3
        assert all(1 <= b <= 2 for b in r["beta"])
        # eq. 11: the loss is sum_i beta_i L_cur^(i); the log rounds to 6 significant digits.
        assert np.isclose(r["loss"], np.dot(r["beta"], r["l_cur"]), rtol=1e-4)
        assert r["smoothed_loss"] == r["loss"]
    assert all(len(r["l_cur"]) == 3 and r["loss"] > 0 for r in test)

    (tmp_path / "train.log").write_text(log)
    main([str(tmp_path / "train.log"), "--plot", str(tmp_path / "curves.png")])
    header = (tmp_path / "train.train.csv").read_text().splitlines()[0].split(",")
    assert header[0] == "iteration"
    assert {"smoothed_loss", "lr", "loss", "beta_2", "l_cur_0"} <= set(header)
    assert (tmp_path / "curves.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_nan_losses_of_an_untrained_batchnorm_net_are_kept_as_nan():
    # A BatchNorm net tested before any training logs "-nan" (Caffe's global statistics are 0 then).
    train, test = parse_log(["I1128 solver.cpp:330] Iteration 0, Testing net (#0)",
                             "I1128 solver.cpp:414]     Test net output #0: loss = -nan (* 1 = -nan loss)",
                             "I1128 solver.cpp:239] Iteration 0 (0 iter/s, 3.6s/1 iters), loss = inf"])
    assert np.isnan(test[0]["loss"]) and test[0]["iteration"] == 0
    assert train[0]["smoothed_loss"] == np.inf


def test_a_resumed_runs_log_keeps_each_test_phase_apart():
    # caffe train -snapshot tests its first iteration again; the appended log holds both tests of 750.
    lines = ["I1202 solver.cpp:330] Iteration 750, Testing net (#0)",
             "I1202 solver.cpp:414]     Test net output #0: loss = 17.1314 (* 1 = 17.1314 loss)",
             "I1202 caffe.cpp:241] Resuming from dscmr_iter_750.solverstate",
             "I1202 solver.cpp:330] Iteration 750, Testing net (#0)",
             "I1202 solver.cpp:414]     Test net output #0: loss = 16.5719 (* 1 = 16.5719 loss)",
             "I1202 solver.cpp:330] Iteration 1000, Testing net (#0)",
             "I1202 solver.cpp:414]     Test net output #0: loss = 15.0 (* 1 = 15.0 loss)"]
    _, test = parse_log(lines)
    assert [(r["iteration"], r["loss"]) for r in test] == [(750, 17.1314), (750, 16.5719), (1000, 15.0)]


def test_wall_seconds_sum_each_segment_and_leave_out_the_pause_between():
    lines = ["# caffe train -solver s.prototxt",
             "I20261201 23:59:50.000000   658 caffe.cpp:204] Using GPUs 0",          # across midnight
             "I20261202 00:00:10.500000   658 solver.cpp:239] Iteration 20 (...), loss = 3.1",
             "  a line that glog did not write",
             "# caffe train -solver s.prototxt -snapshot s_iter_20.solverstate",   # resumed an hour later
             "I20261202 01:00:00.000000   700 caffe.cpp:241] Resuming from s_iter_20.solverstate",
             "W20261202 01:00:30.250000   700 solver.cpp:239] Iteration 40 (...), loss = 2.9"]
    assert wall_seconds(lines) == 20.5 + 30.25
    assert wall_seconds(lines[:1]) == 0.0


def test_the_cpus_and_builds_a_log_trained_on_each_once_in_order():
    lines = ["# caffe train -solver s.prototxt",
             "# on: Intel Xeon (family 6, model 106), 2 cores, avx512f, OPENBLAS_CORETYPE=unset; build caffe-a",
             "I20261202 00:00:00.000000   658 solver.cpp:239] Iteration 0 (...), loss = 3.1",
             "I20261202 00:00:10.000000   658 solver.cpp:239] Iteration 20 (...), loss = 3.0",
             "# caffe train -solver s.prototxt -snapshot s_iter_20.solverstate",
             "# on: AMD EPYC (family 25, model 17), 2 cores, avx512f, OPENBLAS_CORETYPE=unset; build caffe-a",
             "I20261202 01:00:00.000000   700 solver.cpp:239] Iteration 20 (...), loss = 3.0",
             "I20261202 01:00:05.000000   700 solver.cpp:239] Iteration 40 (...), loss = 2.9",
             "# caffe train -solver s.prototxt -snapshot s_iter_40.solverstate",
             "# on: Intel Xeon (family 6, model 106), 2 cores, avx512f, OPENBLAS_CORETYPE=unset; build caffe-a",
             "I20261202 02:00:00.000000   800 solver.cpp:239] Iteration 40 (...), loss = 2.9"]
    assert trained_on(lines) == [lines[1][len("# on: "):], lines[5][len("# on: "):]]
    assert trained_on(lines[2:4]) == []         # a log from before the runs recorded it
    assert wall_seconds(lines) == 10.0 + 5.0     # the extra header line is no segment of its own


def test_a_gpu_segment_names_its_gpu_beside_the_cpu():
    lines = ["# caffe train -solver s.prototxt",
             "# on: Intel Xeon (family 6, model 207), 16 cores, avx512f, OPENBLAS_CORETYPE=unset; build caffe-b",
             "I20261204 17:36:35.341534   791 caffe.cpp:205] Using GPUs 0",
             "I20261204 17:36:35.360069   791 caffe.cpp:210] GPU 0: NVIDIA H200",
             "# caffe train -solver s.prototxt -snapshot s_iter_20.solverstate",
             "# on: AMD EPYC (family 26, model 2), 2 cores, avx512f, OPENBLAS_CORETYPE=unset; build caffe-a"]
    assert trained_on(lines) == [lines[1][len("# on: "):] + "; GPU 0: NVIDIA H200", lines[5][len("# on: "):]]

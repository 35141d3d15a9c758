"""tools/experiments/repeatability.py: committed runs of one training, compared up to the shorter one's end."""
import json

import pytest

from tools.experiments.repeatability import repeats


def commit(results, budget, seed, iters, losses, aucs, trained_on=None):
    folder = results / "synthau" / "table4-5" / "runs" / f"{budget}-s{seed}"
    folder.mkdir(parents=True)
    record = {"method": "dscmr", "data_manifest": "abc", "aus": [1, 2], "val_count": 500,
              "schedule": {"iters": iters, "batch_size": 16, "points": iters // 20, "solver_mode": "CPU", "seed": seed},
              "evaluations": [{"iteration": it, "mean": {"auc": auc, "f1": float("nan")},
                               "per_au": [{"au": 1, "auc": auc, "f1": float("nan"), "accuracy": 50.0}],
                               "val": {"mean": {"auc": auc - 1}, "per_au": []}}
                              for it, auc in zip(range(20, iters + 1, 20), aucs)]}
    if trained_on is not None:
        record["trained_on"] = trained_on
    (folder / "dscmr_aus2.json").write_text(json.dumps(record))
    (folder / "dscmr_aus2.log").write_text("".join(
        f"I20261202 10:00:{i:02d}.000000 1 solver.cpp:239] Iteration {it} (1 iter/s, 1s/20 iters), loss = {loss}\n"
        for i, (it, loss) in enumerate(zip(range(0, iters + 1, 20), losses))))


def test_two_runs_of_one_training_agree_up_to_the_shorter_ones_end(tmp_path):
    commit(tmp_path, "cpu", 1, 40, [3.0, 2.5, 2.25], [60.0, 65.0])
    commit(tmp_path, "curve", 1, 80, [3.0, 2.5, 2.25, 2.0, 1.5], [60.0, 65.0, 70.0, 71.0])
    commit(tmp_path, "curve", 2, 80, [3.1, 2.6, 2.2, 2.0, 1.5], [61.0, 66.0, 70.0, 71.0])   # another seed: no pair
    (r,) = repeats(tmp_path)
    assert (r.where, r.first, r.second) == ("synthau/table4-5/runs", "cpu-s1/dscmr_aus2", "curve-s1/dscmr_aus2")
    assert (r.losses, r.loss_difference, r.snapshots, r.metric_difference) == (3, 0.0, 2, 0.0)


def test_a_difference_is_reported_as_the_largest_one(tmp_path):
    commit(tmp_path, "cpu", 1, 40, [3.0, 2.5, 2.25], [60.0, 65.0])
    commit(tmp_path, "curve", 1, 80, [3.0, 2.5, 2.125, 2.0, 1.5], [60.0, 65.5, 70.0, 71.0])
    (r,) = repeats(tmp_path)
    assert r.loss_difference == pytest.approx(0.125) and r.metric_difference == pytest.approx(0.5)


ZEN4 = "AMD EPYC (family 25, model 17), 2 cores, avx512f, OPENBLAS_CORETYPE=unset; build caffe-a"
ICELAKE = "Intel(R) Xeon(R) Processor @ 2.60GHz (family 6, model 106), 2 cores, avx512f, OPENBLAS_CORETYPE=unset; build caffe-a"


def test_where_each_run_trained_tells_why_they_may_differ(tmp_path):
    commit(tmp_path, "cpu", 1, 40, [3.0, 2.5, 2.25], [60.0, 65.0], [ICELAKE])
    commit(tmp_path, "curve", 1, 80, [3.0, 2.5, 2.125, 2.0, 1.5], [60.0, 65.5, 70.0, 71.0], [ZEN4])
    (r,) = repeats(tmp_path)
    assert (r.first_on, r.second_on) == ((ICELAKE,), (ZEN4,))
    assert r.cause().startswith("they trained on different CPUs or Caffe builds")
    (tmp_path / "synthau" / "table4-5" / "runs" / "curve-s1" / "dscmr_aus2.json").unlink()
    commit(tmp_path, "curve", 2, 80, [3.0, 2.5, 2.25, 2.0, 1.5], [60.0, 65.0, 70.0, 71.0], [ICELAKE])
    commit(tmp_path, "short", 2, 40, [3.0, 2.5, 2.25], [60.0, 65.0], [ICELAKE])
    commit(tmp_path, "smoke", 2, 20, [3.0, 2.5], [60.0])
    causes = {(r.first, r.second): r.cause() for r in repeats(tmp_path)}
    assert causes[("short-s2/dscmr_aus2", "curve-s2/dscmr_aus2")] == \
        "both trained on the same CPU and build, where they should agree bit for bit"
    commit(tmp_path, "short", 3, 40, [3.0, 2.5, 2.25], [60.0, 65.0], [ICELAKE])
    commit(tmp_path, "curve", 3, 80, [3.0, 2.5, 2.25, 2.0, 1.5], [60.0, 65.0 + 2e-14, 70.0, 71.0], [ZEN4])
    commit(tmp_path, "long", 3, 60, [3.0, 2.5, 2.25, 2.5], [60.0, 65.5, 70.0], [ZEN4])
    causes = {(r.first, r.second): r.cause() for r in repeats(tmp_path)}
    assert causes[("short-s3/dscmr_aus2", "curve-s3/dscmr_aus2")] == \
        "they agree, though their records name different CPUs or Caffe builds"          # 2e-14: rounding
    assert causes[("long-s3/dscmr_aus2", "curve-s3/dscmr_aus2")] == \
        "both trained on the same CPU and build, where they should agree bit for bit, and they do not"
    assert causes[("smoke-s2/dscmr_aus2", "short-s2/dscmr_aus2")] == "where one of them trained was not recorded"

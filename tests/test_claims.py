"""The one rule that judges the paper's claims (tools/claims.py), on constructed test probabilities."""

import json

import numpy as np
import pytest

from dscmr.errors import InputError
from tools import claims, training_run

RNG = np.random.default_rng(0)
LABELS = (RNG.random((300, 2)) < 0.3).astype(float)


def learned(strength):
    """Probabilities that rank positives higher the larger strength is (0: chance)."""
    return np.clip(strength * LABELS + (1 - strength) * RNG.random(LABELS.shape), 0, 1)


def commit(root, experiment, budget, seed, run_name, probs, labels=LABELS, aus=(1, 2)):
    folder = root / "synthau" / experiment / "runs" / f"{budget}-s{seed}"
    folder.mkdir(parents=True, exist_ok=True)
    np.savez(folder / f"{run_name}.test.npz", probs=probs, labels=labels, aus=np.array(aus))


def report(runs, budget="cpu"):
    return {"dataset": "synthau", "budget_name": budget,
            "runs": [{"key": key, "run_name": name} for key, name in runs]}


def comparison(low, high, learned=True, current=True):
    return claims.Comparison(1, "x", (low + high) / 2, (low, high), learned, current)


def test_the_rule():
    assert claims.judge([comparison(1, 3), comparison(0.5, 2)]) == "holds"
    assert claims.judge([comparison(1, 3), comparison(-2, 1)]) == "inconclusive"
    assert claims.judge([comparison(1, 3), comparison(-3, -1)]) == "does not hold"
    # a comparison of two nets that have not learned is no evidence either way
    assert claims.judge([comparison(1, 3), comparison(-3, -1, learned=False)]) == "inconclusive"
    assert claims.judge([comparison(1, 3, learned=False)]) == "inconclusive"
    # nor is one of nets trained with code that has changed since
    assert claims.judge([comparison(1, 3), comparison(-3, -1, current=False)]) == "inconclusive"
    assert claims.judge([comparison(1, 3, current=False)]) == "inconclusive"
    assert claims.judge([]) == "inconclusive"
    # a part of the claim not compared yet (L-DSCMR vs DSCMR while only DSCMR vs ResNet18 ran) cannot hold
    assert claims.judge([comparison(1, 3)], missing=["L-DSCMR vs DSCMR"]) == "inconclusive"
    assert claims.judge([comparison(-3, -1)], missing=["L-DSCMR vs DSCMR"]) == "does not hold"


def test_tables_4_5_claims_from_committed_probabilities(tmp_path):
    for seed in (1, 2):
        commit(tmp_path, "table4-5", "cpu", seed, "ldscmr_aus2", learned(0.6))
        commit(tmp_path, "table4-5", "cpu", seed, "dscmr_aus2", learned(0.4))
        commit(tmp_path, "table4-5", "cpu", seed, "resnet18_aus2", learned(0.2))
        commit(tmp_path, "table4-5", "cpu", seed, "alexnet_aus2", learned(0.4))
        commit(tmp_path, "table4-5", "cpu", seed, "alexnet_admsr_aus2", learned(0.0))
    rep = report([("L-DSCMR", "ldscmr_aus2"), ("DSCMR", "dscmr_aus2"), ("ResNet18", "resnet18_aus2"),
                  ("AlexNet", "alexnet_aus2"), ("AlexNet+Ad-MSR", "alexnet_admsr_aus2")])
    ordering, alexnet = claims.table45_claims(tmp_path, rep)
    assert ordering.verdict == "holds" and not ordering.missing
    assert len(ordering.comparisons) == 8          # 2 pairs x (F1, AUC) x 2 seeds
    assert all(c.interval[0] > 0 for c in ordering.comparisons)
    assert alexnet.verdict == "does not hold"
    auc = [c for c in alexnet.comparisons if c.what.startswith("mean AUC")]
    assert all(c.difference < -20 and c.interval[1] < 0 for c in auc)
    spread = claims.over_seeds(alexnet.comparisons)["mean AUC, AlexNet+Ad-MSR − AlexNet"]
    assert spread[2] == 2 and spread[0] == pytest.approx(np.mean([c.difference for c in auc]))


def test_a_run_trained_with_code_changed_since_does_not_count(tmp_path):
    commit(tmp_path, "table4-5", "cpu", 1, "alexnet_aus2", learned(0.4))
    commit(tmp_path, "table4-5", "cpu", 1, "alexnet_admsr_aus2", learned(0.0))
    rep = report([("AlexNet", "alexnet_aus2"), ("AlexNet+Ad-MSR", "alexnet_admsr_aus2")])
    assert claims.table45_claims(tmp_path, rep)[1].verdict == "does not hold"
    record = {"method": "alexnet", "aus": [1, 2], "schedule": {"iters": 4000, "batch_size": 16, "points": 16},
              "val_count": 500}
    folder = tmp_path / "synthau" / "table4-5" / "runs" / "cpu-s1"
    today = training_run.current_code(record)
    (folder / "alexnet_aus2.json").write_text(json.dumps(dict(record, code=today)))
    assert claims.table45_claims(tmp_path, rep)[1].verdict == "does not hold"
    (folder / "alexnet_aus2.json").write_text(json.dumps(dict(record, code="0" * 16)))
    alexnet = claims.table45_claims(tmp_path, rep)[1]
    assert alexnet.verdict == "inconclusive" and not any(c.current for c in alexnet.comparisons)
    assert all(c.learned and c.interval[1] < 0 for c in alexnet.comparisons if c.what.startswith("mean AUC"))


def test_a_claim_without_both_runs_is_inconclusive_and_says_what_is_missing(tmp_path):
    commit(tmp_path, "table4-5", "cpu", 1, "dscmr_aus2", learned(0.4))
    rep = report([("DSCMR", "dscmr_aus2"), ("ResNet18", "resnet18_aus2")])
    ordering, _ = claims.table45_claims(tmp_path, rep)
    assert ordering.verdict == "inconclusive" and not ordering.comparisons
    assert ordering.missing == ["DSCMR vs ResNet18", "L-DSCMR vs DSCMR"]


def test_runs_on_other_test_faces_cannot_be_paired(tmp_path):
    commit(tmp_path, "table4-5", "cpu", 1, "dscmr_aus2", learned(0.4))
    commit(tmp_path, "table4-5", "cpu", 1, "resnet18_aus2", learned(0.4), labels=1 - LABELS)
    rep = report([("DSCMR", "dscmr_aus2"), ("ResNet18", "resnet18_aus2")])
    with pytest.raises(InputError, match="resnet18_aus2.test.npz.*not tested on the same faces"):
        claims.table45_claims(tmp_path, rep)


def test_fig5_robustness_is_the_spread_of_accuracy_over_the_ratios(tmp_path):
    au1 = LABELS[:, :1]
    runs = []
    for ratio, strength in zip((5, 10, 20, 30), (0.8, 0.5, 0.3, 0.1)):
        for method, s in (("AlexNet", strength), ("AlexNet + MSR", 0.7)):
            name = f"{method.replace(' + ', '_').lower()}_np{ratio}"
            probs = np.clip(s * au1 + (1 - s) * RNG.random(au1.shape), 0, 1)
            commit(tmp_path, "fig5", "cpu", 1, name, probs, labels=au1, aus=(1,))
            runs.append(([method, ratio], name))
    claim = claims.fig5_claim(tmp_path, report(runs))
    (c,) = claim.comparisons
    assert c.difference > 10 and c.interval[0] > 0 and claim.verdict == "holds"
    # one run missing: that seed has nothing to compare
    (tmp_path / "synthau" / "fig5" / "runs" / "cpu-s1" / "alexnet_np30.test.npz").unlink()
    assert claims.fig5_claim(tmp_path, report(runs)).verdict == "inconclusive"


def test_tables_2_3_compare_accuracy_per_au_count(tmp_path):
    runs = []
    for k in (1, 2):
        labels = LABELS[:, :k]
        for method, s in (("MSR", 0.1), ("Ad-MSR", 0.6)):
            name = f"{method.lower()}_aus{k}"
            commit(tmp_path, "table2-3", "cpu", 1, name, np.clip(s * labels + (1 - s) * 0.3, 0, 1), labels=labels,
                   aus=(1, 2)[:k])
            runs.append(([method, k], name))
    claim = claims.table23_claim(tmp_path, report(runs))
    assert [c.what for c in claim.comparisons] == ["mean accuracy, 1 AUs, Ad-MSR 1 − MSR 1",
                                                   "mean accuracy, 2 AUs, Ad-MSR 2 − MSR 2"]
    assert claim.verdict == "holds"

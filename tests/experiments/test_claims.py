"""The one rule that judges the paper's claims (tools/experiments/claims.py), on constructed test probabilities."""

import json

import numpy as np
import pytest

from dscmr.errors import InputError
from tools.experiments import audit, claims
from tools.experiments.run_spec import RunSpec

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


def comparison(low, high, untrained=(), current=True, margin=0.0):
    return claims.Comparison(1, "x", (low + high) / 2, (low, high), untrained, current, margin)


def test_the_rule():
    assert claims.judge([comparison(1, 3), comparison(0.5, 2)]) == "holds"
    assert claims.judge([comparison(1, 3), comparison(-2, 1)]) == "inconclusive"
    assert claims.judge([comparison(1, 3), comparison(-3, -1)]) == "does not hold"
    # a comparison where a net did not train is no evidence of "worse": the claim is not tested by it
    assert claims.judge([comparison(1, 3), comparison(-3, -1, untrained=("A",))]) == "inconclusive"
    assert claims.judge([comparison(-3, -1, untrained=("A",))]) == "not tested"
    assert claims.judge([comparison(-3, -1, untrained=("A", "B"))]) == "not tested"
    # a non-inferiority margin moves both bounds
    assert claims.judge([comparison(-4, 2, margin=5)]) == "holds"
    assert claims.judge([comparison(-9, -6, margin=5)]) == "does not hold"
    assert claims.judge([comparison(-7, 2, margin=5)]) == "inconclusive"
    # nor is one of nets trained with code that has changed since
    assert claims.judge([comparison(1, 3), comparison(-3, -1, current=False)]) == "inconclusive"
    assert claims.judge([comparison(-3, -1, untrained=("A",), current=False)]) == "inconclusive"
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
        commit(tmp_path, "table4-5", "cpu", seed, "alexnet_admsr_aus2", learned(0.15))
    rep = report([("L-DSCMR", "ldscmr_aus2"), ("DSCMR", "dscmr_aus2"), ("ResNet18", "resnet18_aus2"),
                  ("AlexNet", "alexnet_aus2"), ("AlexNet+Ad-MSR", "alexnet_admsr_aus2")])
    ordering, alexnet = claims.table45_claims(tmp_path, rep)
    assert ordering.verdict == "holds" and not ordering.missing
    assert len(ordering.comparisons) == 8          # 2 pairs x (F1, AUC) x 2 seeds
    assert all(c.interval[0] > 0 for c in ordering.comparisons)
    # AlexNet+Ad-MSR has learned (AUC about 66), less than AlexNet: worse, not untrained
    assert alexnet.verdict == "does not hold" and not alexnet.findings
    auc = [c for c in alexnet.comparisons if c.what.startswith("mean AUC")]
    assert all(c.difference < -20 and c.interval[1] < 0 and c.counts for c in auc)
    spread = claims.over_seeds(alexnet.comparisons)["mean AUC, AlexNet+Ad-MSR − AlexNet"]
    assert spread[2] == 2 and spread[0] == pytest.approx(np.mean([c.difference for c in auc]))


def test_a_run_trained_with_code_changed_since_does_not_count(tmp_path):
    commit(tmp_path, "table4-5", "cpu", 1, "alexnet_aus2", learned(0.4))
    commit(tmp_path, "table4-5", "cpu", 1, "alexnet_admsr_aus2", learned(0.15))
    rep = report([("AlexNet", "alexnet_aus2"), ("AlexNet+Ad-MSR", "alexnet_admsr_aus2")])
    assert claims.table45_claims(tmp_path, rep)[1].verdict == "does not hold"
    record = {"method": "alexnet", "aus": [1, 2], "schedule": {"iters": 4000, "batch_size": 16, "points": 16},
              "val_count": 500}
    folder = tmp_path / "synthau" / "table4-5" / "runs" / "cpu-s1"
    today = RunSpec.of_record(record).code()
    (folder / "alexnet_aus2.json").write_text(json.dumps(dict(record, code=today)))
    assert claims.table45_claims(tmp_path, rep)[1].verdict == "does not hold"
    (folder / "alexnet_aus2.json").write_text(json.dumps(dict(record, code="0" * 16)))
    alexnet = claims.table45_claims(tmp_path, rep)[1]
    assert alexnet.verdict == "inconclusive" and not any(c.current for c in alexnet.comparisons)
    assert all(c.interval[1] < 0 for c in alexnet.comparisons if c.what.startswith("mean AUC"))


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


def bias_only(labels, rate=0.3):
    """A net at its bias-only solution: every face gets nearly the base rate."""
    return np.clip(rate + 0.002 * RNG.standard_normal(labels.shape), 0, 1)


def test_a_run_at_its_bias_only_solution_has_not_trained_even_with_an_auc_above_50(tmp_path):
    # its outputs rank the positives a little higher (AUC interval above 50) but hardly depend on the face
    probs = bias_only(LABELS) + 0.004 * LABELS
    commit(tmp_path, "table4-5", "cpu", 1, "alexnet_admsr_aus2", probs)
    commit(tmp_path, "table4-5", "cpu", 1, "alexnet_aus2", learned(0.4))
    faces = claims.TestFaces(tmp_path / "synthau" / "table4-5", "cpu")
    from tools.evaluation import metrics
    assert metrics.interval(faces.means(1, "alexnet_admsr_aus2")["auc"][1])[0] > 50
    assert metrics.output_spread(probs) < metrics.SPREAD_MIN
    assert not faces.trained(1, "alexnet_admsr_aus2") and faces.trained(1, "alexnet_aus2")


def test_one_side_untrained_is_a_finding_not_a_worse_verdict(tmp_path):
    commit(tmp_path, "table4-5", "cpu", 1, "alexnet_aus2", learned(0.4))
    commit(tmp_path, "table4-5", "cpu", 1, "alexnet_admsr_aus2", bias_only(LABELS))
    rep = report([("AlexNet", "alexnet_aus2"), ("AlexNet+Ad-MSR", "alexnet_admsr_aus2")])
    alexnet = claims.table45_claims(tmp_path, rep)[1]
    assert all(c.interval[1] < 0 for c in alexnet.comparisons if c.what.startswith("mean AUC"))
    assert alexnet.verdict == "not tested"
    assert alexnet.findings == ["AlexNet+Ad-MSR did not train (seed 1)"]
    # both untrained: not tested either, and no "A did not train" finding (neither did)
    commit(tmp_path, "table4-5", "cpu", 1, "alexnet_aus2", learned(0.0))
    alexnet = claims.table45_claims(tmp_path, rep)[1]
    assert alexnet.verdict == "not tested" and not alexnet.findings
    assert all(c.untrained == ("AlexNet+Ad-MSR", "AlexNet") for c in alexnet.comparisons)


def test_runs_trained_until_flat_say_where_each_stopped_when_they_stopped_apart(tmp_path):
    commit(tmp_path, "table4-5", "plateau-once", 1, "alexnet_aus2", learned(0.3))
    commit(tmp_path, "table4-5", "plateau-once", 1, "alexnet_admsr_aus2", learned(0.4))
    rep = report([("AlexNet", "alexnet_aus2"), ("AlexNet+Ad-MSR", "alexnet_admsr_aus2")], budget="plateau-once")
    folder = tmp_path / "synthau" / "table4-5" / "runs" / "plateau-once-s1"

    def stopped(name, at, flattened):
        plateau = {"cap": 10000, "reached": at, "stopped_at": at, "flattened": flattened}
        (folder / f"{name}.json").write_text(json.dumps({"schedule": {"iters": 4000}, "plateau": plateau}))
    # without records nothing is known of where they stopped
    assert all(c.stopped == () for c in claims.table45_claims(tmp_path, rep)[1].comparisons)
    stopped("alexnet_aus2", 4000, True)
    stopped("alexnet_admsr_aus2", 10000, False)
    alexnet = claims.table45_claims(tmp_path, rep)[1]
    assert alexnet.verdict == "holds"
    assert [c.stopped for c in alexnet.comparisons] == [(("AlexNet+Ad-MSR", 10000, "the cap"), ("AlexNet", 4000, "flat"))] * 2
    assert "(AlexNet+Ad-MSR stopped at 10000, the cap; AlexNet stopped at 4000, flat)" in audit.claim_lines(alexnet)[1]
    # both flat at 4000: nothing to say
    stopped("alexnet_admsr_aus2", 4000, True)
    assert all(c.stopped == () for c in claims.table45_claims(tmp_path, rep)[1].comparisons)


def fig5_runs(tmp_path, strengths):
    """Commits Fig. 5's eight runs, {(method, ratio): strength} (None: at its bias-only solution)."""
    au1, runs = LABELS[:, :1], []
    for (method, ratio), s in strengths.items():
        name = f"{method.replace(' + ', '_').lower()}_np{ratio}"
        probs = bias_only(au1) if s is None else np.clip(s * au1 + (1 - s) * RNG.random(au1.shape), 0, 1)
        commit(tmp_path, "fig5", "cpu", 1, name, probs, labels=au1, aus=(1,))
        runs.append(([method, ratio], name))
    return report(runs)


def test_fig5_is_msr_at_np30_against_np5_and_msr_against_alexnet_at_each_ratio(tmp_path):
    ratios = (5, 10, 20, 30)
    strengths = {("AlexNet", r): s for r, s in zip(ratios, (0.3, 0.25, 0.2, 0.15))}
    strengths |= {("AlexNet + MSR", r): 0.9 for r in ratios}
    claim = claims.fig5_claim(tmp_path, fig5_runs(tmp_path, strengths))
    first, *per_ratio = claim.comparisons
    assert first.what == "test accuracy, AlexNet + MSR 30 − AlexNet + MSR 5" and first.margin == claims.FIG5_MARGIN
    assert [c.what for c in per_ratio] == [f"test accuracy, AlexNet + MSR {r} − AlexNet {r}" for r in ratios]
    assert all(c.interval[0] > 0 for c in per_ratio) and claim.verdict == "holds"
    # MSR falls to chance at N:P 30: a finding of its own, not "MSR is not robust"
    strengths[("AlexNet + MSR", 30)] = None
    claim = claims.fig5_claim(tmp_path, fig5_runs(tmp_path, strengths))
    assert claim.verdict == "inconclusive"
    assert claim.findings == ["AlexNet + MSR 30 did not train (seed 1)"]
    # MSR learns at 30 but far worse than at 5: not robust
    strengths[("AlexNet + MSR", 30)] = 0.25
    assert claims.fig5_claim(tmp_path, fig5_runs(tmp_path, strengths)).verdict == "does not hold"
    # one run missing: its comparison is not made, and the claim cannot hold
    (tmp_path / "synthau" / "fig5" / "runs" / "cpu-s1" / "alexnet_np30.test.npz").unlink()
    strengths[("AlexNet + MSR", 30)] = 0.9
    rep = fig5_runs(tmp_path, {k: v for k, v in strengths.items() if k != ("AlexNet", 30)})
    claim = claims.fig5_claim(tmp_path, rep)
    assert claim.missing == ["AlexNet + MSR 30 vs AlexNet 30"] and claim.verdict == "inconclusive"


def test_tables_2_3_compare_accuracy_per_au_count(tmp_path):
    runs = []
    for k in (1, 2):
        labels = LABELS[:, :k]
        for method, s in (("MSR", 0.15), ("Ad-MSR", 0.6)):
            name = f"{method.lower()}_aus{k}"
            commit(tmp_path, "table2-3", "cpu", 1, name, np.clip(s * labels + (1 - s) * 0.3, 0, 1), labels=labels,
                   aus=(1, 2)[:k])
            runs.append(([method, k], name))
    claim = claims.table23_claim(tmp_path, report(runs))
    assert [c.what for c in claim.comparisons] == ["mean accuracy, 1 AUs, Ad-MSR 1 − MSR 1",
                                                   "mean accuracy, 2 AUs, Ad-MSR 2 − MSR 2"]
    assert claim.verdict == "holds"
    # which AUs carry the difference: each AU's accuracy, Ad-MSR minus MSR, with its paired interval
    per_au = claim.comparisons[1].per_au
    assert [au for au, _, _ in per_au] == [1, 2]
    assert all(d == pytest.approx(100 - acc) and lo > 0 for (_, d, (lo, _)), acc in
               zip(per_au, 100 * (1 - LABELS.mean(0))))


def test_the_summary_over_readings_names_where_a_claim_holds_and_where_it_does_not():
    assert claims.summary({"cpu": "does not hold", "cpu-once": "does not hold"}) == \
        "does not hold under every reading tried"
    assert claims.summary({"cpu": "holds", "cpu-once": "not tested"}) == \
        "holds wherever decided (`cpu`); undecided under `cpu-once`"
    assert claims.summary({"cpu": "does not hold", "plateau-once": "holds"}) == \
        "depends on the reading: does not hold under `cpu`; holds under `plateau-once`"
    assert claims.summary({"cpu": "not tested", "short": "inconclusive"}) == \
        "no reading tried has decided it yet (inconclusive under `short`; not tested under `cpu`)"

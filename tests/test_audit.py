"""tools/audit.py: every quoted sentence is the paper's, every row points at a line that holds its
value, and the committed AUDIT.md is what the audit writes from the committed results."""
import json
from dataclasses import asdict

import numpy as np
import pytest
from caffe_helpers import REPO

from dscmr import paper, readings
from tools import audit, training_run


def test_every_quote_is_in_the_paper(paper_text):
    assert audit.unquoted(paper_text) == []


def test_without_the_paper_the_audit_writes_all_else_and_says_so(tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(paper.PAPER_ENV, str(tmp_path / "absent.txt"))
    assert audit.main(["--out", str(tmp_path / "AUDIT.md")]) == 0
    err = capsys.readouterr().err
    assert "quotes not checked" in err and paper.PAPER_ENV in err
    written = (tmp_path / "AUDIT.md").read_text()
    assert (REPO / "AUDIT.md").read_text().split(audit.ENVIRONMENT_HEADING)[0] == \
        written.split(audit.ENVIRONMENT_HEADING)[0]


def test_a_quote_not_in_the_text_fails_the_audit(tmp_path, capsys):
    (tmp_path / "paper.txt").write_text("a text that quotes nothing of the audit")
    assert audit.main(["--out", str(tmp_path / "AUDIT.md"), "--paper", str(tmp_path / "paper.txt")]) == 1
    quotes = len(audit.FACTS) + len(readings.AXES)
    assert f"{quotes} quote(s) of tools/audit.py or dscmr/readings.py are not in" in capsys.readouterr().err
    assert not (tmp_path / "AUDIT.md").exists()


def test_every_row_points_at_a_line_holding_its_anchor():
    for fact in audit.FACTS:
        path, line = audit.locate(fact.path, fact.anchor).rsplit(":", 1)
        assert fact.anchor in (REPO / path).read_text().splitlines()[int(line) - 1]
        assert fact.status in ("same", "interpreted", "differs")
        assert fact.status == "same" or fact.why, fact.quote


def test_a_vanished_anchor_stops_the_audit_with_its_name():
    with pytest.raises(KeyError, match="dscmr/paper.py no longer holds 'NO SUCH LINE'"):
        audit.locate("dscmr/paper.py", "NO SUCH LINE")


def test_the_paper_values_the_audit_names_are_tools_papers():
    rows = {f.anchor: f for f in audit.FACTS}
    assert f"BASE_LR = {paper.BASE_LR}" in rows and f"ALPHA = {paper.ALPHA}" in rows
    assert f"FIG5_TRAIN_NP = {paper.FIG5_TRAIN_NP}" in rows


def test_committed_audit_is_up_to_date(capsys):
    assert audit.main(["--check"]) == 0, capsys.readouterr().err


def test_results_are_named_by_dataset_and_claims_are_judged_by_the_rule(tmp_path):
    def run(key, method, seed, f1, auc):
        return {"key": key, "method": method, "seed": seed, "run_name": f"{method}_aus2", "aus": [1, 2],
                "evaluations": [{"mean": {"f1": f1, "auc": auc}}], "train_seconds": 80.0, "schedule": {"iters": 40}}
    report = {"dataset": "synthau", "budget_name": "short", "commit": "abc", "command": "au-reproduce",
              "budget": {"iters": 40, "batch_size": 16, "train_size": 2000, "test_size": 256},
              "runs": [run("L-DSCMR", "ldscmr", 1, 30.0, 70.0), run("L-DSCMR", "ldscmr", 2, 34.0, 72.0),
                       dict(run("DSCMR", "dscmr", 1, 20.0, 55.0), code="0123456789abcdef", val_count=8,
                            schedule=asdict(training_run.Schedule(40, 16, 2))),
                       run("ResNet18", "resnet18", 1, 25.0, 60.0)]}
    (tmp_path / "synthau" / "table4-5" / "short").mkdir(parents=True)
    (tmp_path / "synthau" / "table4-5" / "short" / "table4-5.json").write_text(json.dumps(report))
    text = "\n".join(audit.results_section(tmp_path))
    assert "### Tables 4-5, this project on synthau at budget `short` vs the paper's Table 4 (EmotioNet)" in text
    # paper Table 4, AU1 and AU2 of L-DSCMR: F1 (89.84 + 51.42) / 2, AUC (49.77 + 49.83) / 2
    assert "| L-DSCMR | 1 | 30.00 | – | 70.63 | 70.00 | – | 49.80 | 2.00 |" in text
    assert "| L-DSCMR | mean ± sd of 2 | 32.00 ± 2.83 |  | 70.63 | 71.00 ± 1.41 |  | 49.80 |  |" in text
    assert "| DSCMR | 1 † | 20.00 |" in text and "| L-DSCMR | 1 | 30.00 |" in text   # † trained with other code
    # no test probabilities committed: every claim is inconclusive, and says what it lacks
    assert ("**Tables 4-5: L-DSCMR >= DSCMR >= ResNet18**, on synthau (budget `short`; readings loss_scale sum, "
            "lr_policy step, beta clamped): **inconclusive** (no seed") in text
    assert "not compared yet: DSCMR vs ResNet18, L-DSCMR vs DSCMR" in text
    assert "not trained in some seed" not in text  # without test probabilities there is no interval to judge by
    # every claim of the paper has a verdict, in the paper's order, those of experiments not run too
    fig5 = "- **Fig. 5: MSR is robust to the N:P ratio**, on synthau: **inconclusive** (not run: `au-reproduce fig5`)."
    table23 = "- **Tables 2-3: Ad-MSR >= MSR**, on synthau: **inconclusive** (not run: `au-reproduce table2-3`)."
    assert text.index(fig5) < text.index(table23) < text.index("- **Tables 4-5: L-DSCMR >= DSCMR >= ResNet18**") \
        < text.index("- **Tables 4-5: AlexNet+Ad-MSR >= AlexNet**")


def test_the_audit_names_the_runs_that_have_not_learned_by_the_claims_rule(tmp_path):
    rng = np.random.default_rng(0)
    labels = (rng.random((400, 2)) < 0.3).astype(np.int64)
    probs = {"dscmr": rng.random((400, 2)), "resnet18": np.clip(labels * 0.6 + rng.random((400, 2)) * 0.5, 0, 1)}
    runs = []
    for method, key in (("dscmr", "DSCMR"), ("resnet18", "ResNet18")):
        folder = tmp_path / "synthau" / "table4-5" / "runs" / "short-s1"
        folder.mkdir(parents=True, exist_ok=True)
        np.savez(folder / f"{method}_aus2.test.npz", probs=probs[method], labels=labels, aus=np.array([1, 2]))
        runs.append({"key": key, "method": method, "seed": 1, "run_name": f"{method}_aus2", "aus": [1, 2],
                     "evaluations": [{"mean": {"f1": 30.0, "auc": 60.0}}], "train_seconds": 80.0,
                     "schedule": {"iters": 40}})
    report = {"dataset": "synthau", "budget_name": "short", "commit": "abc", "command": "au-reproduce",
              "budget": {"iters": 40, "batch_size": 16, "train_size": 2000, "test_size": 400}, "runs": runs}
    (tmp_path / "synthau" / "table4-5" / "short").mkdir(parents=True)
    (tmp_path / "synthau" / "table4-5" / "short" / "table4-5.json").write_text(json.dumps(report))
    text = "\n".join(audit.results_section(tmp_path))
    # random scores: an AUC interval around 50; labels plus noise: far above it
    assert ("1 of 2 methods has not trained in some seed (by the rule's measure, `metrics.trained`): "
            "DSCMR (seed 1).") in text


def test_a_run_whose_own_nets_would_be_written_otherwise_today_is_flagged():
    schedule = training_run.Schedule(4000, 16, 16)
    code = training_run.code_fingerprint("dscmr", [1, 2], schedule, 500)
    assert code == training_run.code_fingerprint("dscmr", [1, 2], schedule, 500)
    # what only this run's options show: its AUs, its batch size, its seed
    assert code != training_run.code_fingerprint("dscmr", [1, 2, 4], schedule, 500)
    assert code != training_run.code_fingerprint("dscmr", [1, 2], training_run.Schedule(4000, 8, 16), 500)
    assert code != training_run.code_fingerprint("dscmr", [1, 2], training_run.Schedule(4000, 16, 16, seed=2), 500)

    def run(name, recorded):
        return {"run_name": name, "method": "dscmr", "aus": [1, 2], "schedule": asdict(schedule), "val_count": 500,
                "code": recorded}
    report = {"runs": [run("current", code), run("stale", "0123456789abcdef"), run("old", None)]}
    lines = audit.code_changed(report, "synthau", "table4-5")
    assert lines[0].endswith("since (layers, Caffe patches, or the nets and solver the generator writes for them): stale.")
    assert lines[1].startswith("- table4-5 on synthau: 1 run(s) predate the code record")


def test_tables_2_3_show_accuracy_with_intervals_and_whether_each_run_has_learned(tmp_path):
    """Accuracy on an imbalanced test split rewards answering "absent": a run answering 0 for every face
    scores high accuracy at an AUC of 50, which the section shows beside it."""
    labels = np.zeros((400, 3), np.int64)
    labels[:40] = 1                                       # 10 % positives per AU
    folder = tmp_path / "synthau" / "table2-3" / "runs" / "cpu-s1"
    folder.mkdir(parents=True)
    np.savez(folder / "alexnet_msr_aus3.test.npz", probs=np.zeros((400, 3)), labels=labels, aus=np.array([1, 2, 4]))
    np.savez(folder / "alexnet_admsr_aus3.test.npz", probs=labels * 0.9 + 0.05, labels=labels,
             aus=np.array([1, 2, 4]))

    def run(key, method, accuracy, auc):
        return {"key": [key, 3], "method": method, "seed": 1, "run_name": f"{method}_aus3", "aus": [1, 2, 4],
                "evaluations": [{"mean": {"f1": 0.0, "auc": auc, "accuracy": accuracy}}]}
    report = {"dataset": "synthau", "budget_name": "cpu", "commit": "abc", "command": "au-reproduce",
              "budget": {"iters": 4000, "batch_size": 16, "train_size": None, "test_size": None},
              "runs": [run("MSR", "alexnet_msr", 90.0, 50.0), run("Ad-MSR", "alexnet_admsr", 100.0, 100.0)]}
    (tmp_path / "synthau" / "table2-3" / "cpu").mkdir(parents=True)
    (tmp_path / "synthau" / "table2-3" / "cpu" / "table2-3.json").write_text(json.dumps(report))
    text = "\n".join(audit.results_section(tmp_path))
    # paper Table 3, 3 AUs: MSR 82.37, Ad-MSR 85.11 (dscmr/paper.py); the intervals come from the probabilities:
    # the constant run's AUC is 50 in every resample, the perfect one's accuracy and AUC 100
    row = next(line for line in text.splitlines() if line.startswith("| 3 | 1 |"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[2:4] == [f"{v:.2f}" for v in paper.TABLE3_MEAN[3]]
    assert cells[4] == "90.00" and cells[6:] == ["100.00", "[100.0, 100.0]", "50.00 [50.0, 50.0]",
                                                  "100.00 [100.0, 100.0]"]
    low, high = (float(v) for v in cells[5].strip("[]").split(", "))
    assert 86 < low < 90 < high < 94                      # 10 % positives of 400 faces, resampled


def test_part_a_lists_each_reading_with_its_sentence_and_the_values_tried(tmp_path):
    for budget, tried in (("cpu", {}), ("cpu-once", {"lr_policy": "once"})):
        (tmp_path / "synthau" / "table4-5" / budget).mkdir(parents=True)
        (tmp_path / "synthau" / "table4-5" / budget / "table4-5.json").write_text(json.dumps({"readings": tried}))
    rows = {line.split(" | ")[2]: line for line in audit.readings_table(tmp_path) if line.startswith("| ") and "`" in
            line.split(" | ")[2]}
    assert set(rows) == {"`loss_scale`", "`lr_policy`", "`beta`"}
    assert '"Here, we use the arithmetic mean of the all label loss values' in rows["`loss_scale`"]
    assert rows["`lr_policy`"].endswith("| `step`, `once` |") and rows["`beta`"].endswith("| `clamped` |")
    assert "`dscmr/readings.py:" in rows["`beta`"]


def test_the_sensitivity_table_summarises_each_claim_over_the_readings():
    from tools import claims

    def claim(budget, verdict_interval, reading):
        c = claims.Comparison(1, "mean F1, A − B", sum(verdict_interval) / 2, verdict_interval)
        return claims.Claim("Tables 4-5", "AlexNet+Ad-MSR >= AlexNet", "synthau", budget, (c,), [], reading)
    judged = [claim("cpu", (-3.0, -1.0), readings.DEFAULT),
              claim("cpu-once", (1.0, 3.0), readings.Readings(lr_policy="once"))]
    text = "\n".join(audit.sensitivity(judged))
    assert ("| Tables 4-5: AlexNet+Ad-MSR >= AlexNet | synthau | `cpu-once` | loss_scale sum, lr_policy once, beta "
            "clamped | 1 | holds | mean F1, A − B: +2.00 |") in text
    assert ("- **Tables 4-5: AlexNet+Ad-MSR >= AlexNet** on synthau: depends on the reading: does not hold under "
            "`cpu`; holds under `cpu-once`.") in text


def test_an_unfinished_run_is_listed_with_how_far_it_got_and_never_judged(tmp_path):
    folder = tmp_path / "synthau" / "table4-5" / "runs" / "plateau-once-s1"
    folder.mkdir(parents=True)
    (folder / "alexnet_admsr_aus11.partial.json").write_text(json.dumps({
        "unfinished": True, "plateau": {"cap": 10000, "reached": 5000, "stopped_at": None, "flattened": None},
        "evaluations": [{"iteration": 5000, "val": {"mean": {"auc": 51.234}, "trained": False}}]}))
    (line,) = audit.unfinished(tmp_path, "synthau")
    assert line == ("- Unfinished (not judged): `synthau/table4-5/runs/plateau-once-s1/alexnet_admsr_aus11.partial.json` "
                    "reached iteration 5000 of at most 10000; validation mean AUC 51.23 there, and it has not trained "
                    "yet (`metrics.trained` on val).")

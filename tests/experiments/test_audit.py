"""tools/experiments/audit.py: every quoted sentence is the paper's, every row points at a line that holds its
value, and the committed AUDIT.md is what the audit writes from the committed results."""
import json
from dataclasses import asdict

import numpy as np
import pytest
from helpers.caffe import REPO
from helpers.results import committed_run, report

from dscmr import paper, readings
from dscmr.methods import get as method
from tools.experiments import audit, paper_facts
from tools.experiments.run_spec import RunSpec, Schedule


def test_every_quote_is_in_the_paper(paper_text):
    assert paper_facts.unquoted(paper_text) == []


@pytest.mark.slow
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
    quotes = len(paper_facts.FACTS) + len(readings.AXES)
    assert f"{quotes} quote(s) of tools/experiments/paper_facts.py or dscmr/readings.py are not in" in capsys.readouterr().err
    assert not (tmp_path / "AUDIT.md").exists()


def test_every_row_points_at_a_line_holding_its_anchor():
    for fact in paper_facts.FACTS:
        path, line = paper_facts.locate(fact.path, fact.anchor).rsplit(":", 1)
        assert fact.anchor in (REPO / path).read_text().splitlines()[int(line) - 1]
        assert fact.status in ("same", "interpreted", "differs")
        assert fact.status == "same" or fact.why, fact.quote


def test_a_vanished_anchor_stops_the_audit_with_its_name():
    with pytest.raises(KeyError, match="dscmr/paper.py no longer holds 'NO SUCH LINE'"):
        paper_facts.locate("dscmr/paper.py", "NO SUCH LINE")


def test_the_paper_values_the_audit_names_are_tools_papers():
    rows = {f.anchor: f for f in paper_facts.FACTS}
    assert f"BASE_LR = {paper.BASE_LR}" in rows and f"ALPHA = {paper.ALPHA}" in rows
    assert f"FIG5_TRAIN_NP = {paper.FIG5_TRAIN_NP}" in rows


@pytest.mark.slow
def test_committed_audit_is_up_to_date(capsys):
    assert audit.main(["--check"]) == 0, capsys.readouterr().err


def learned(seed, n=400, aus=2):
    """(probs, labels) of a net that has learned: labels plus noise."""
    rng = np.random.default_rng(seed)
    labels = (rng.random((n, aus)) < 0.3).astype(np.int64)
    return labels * 0.4 + rng.random((n, aus)) * 0.5, labels


def test_results_are_named_by_dataset_and_claims_are_judged_by_the_rule(tmp_path):
    short = {"iters": 40, "batch_size": 16, "train_size": 2000, "test_size": 400}

    def run(key, method, seed, **fields):
        probs, labels = learned(seed)
        return committed_run(tmp_path, "table4-5", "short", seed, f"{method}_aus2", probs, labels, [1, 2],
                             **{"key": key, "method": method, "train_seconds": 80.0, "schedule": {"iters": 40}, **fields})
    runs = [run("L-DSCMR", "ldscmr", 1), run("L-DSCMR", "ldscmr", 2),
            run("DSCMR", "dscmr", 1, code="0123456789abcdef", val_count=8,
                schedule=asdict(Schedule(40, 16, 2))),
            run("ResNet18", "resnet18", 1)]
    (tmp_path / "synthau" / "table4-5" / "runs" / "short-s1" / "resnet18_aus2.test.npz").unlink()
    report(tmp_path, "table4-5", "short", runs, budget=short)
    text = "\n".join(audit.results_section(tmp_path))
    assert "### Tables 4-5, this project on synthau at budget `short` vs the paper's Table 4 (EmotioNet)" in text
    rows = {tuple(c.strip() for c in line.strip("|").split("|")[:2]): [c.strip() for c in line.strip("|").split("|")]
            for line in text.splitlines() if line.startswith("| L-DSCMR |") or line.startswith("| DSCMR |")}
    f1, auc = ([runs[i]["evaluations"][-1]["mean"][m] for i in (0, 1)] for m in ("f1", "auc"))
    # paper Table 4, AU1 and AU2 of L-DSCMR: F1 (89.84 + 51.42) / 2, AUC (49.77 + 49.83) / 2; 80 s / 40 iterations
    first = rows["L-DSCMR", "1"]
    assert [first[i] for i in (2, 4, 5, 7, 8)] == [f"{f1[0]:.2f}", "70.63", f"{auc[0]:.2f}", "49.80", "2.00"]
    low, high = (float(v) for v in first[3].strip("[]").split(", "))
    assert low < f1[0] < high
    assert rows["L-DSCMR", "mean ± sd of 2"][2] == f"{np.mean(f1):.2f} ± {np.std(f1, ddof=1):.2f}"
    assert ("DSCMR", "1 †") in rows                       # † trained with code that has changed since
    # a run without test probabilities is shown apart, in no table and no comparison
    assert "| ResNet18 |" not in text
    assert ("- Not shown or judged, as it does not re-derive (`tools/experiments/rederive.py`): "
            "`synthau/table4-5/runs/short-s1/resnet18_aus2.json` of budget `short`: it has no test probabilities "
            "(resnet18_aus2.test.npz).") in text
    assert "not compared yet: DSCMR vs ResNet18" in text
    # every claim of the paper has a verdict, in the paper's order, those of experiments not run too
    fig5 = "- **Fig. 5: MSR is robust to the N:P ratio**, on synthau: **inconclusive** (not run: `au-reproduce fig5`)."
    table23 = "- **Tables 2-3: Ad-MSR >= MSR**, on synthau: **inconclusive** (not run: `au-reproduce table2-3`)."
    assert text.index(fig5) < text.index(table23) < text.index("- **Tables 4-5: L-DSCMR >= DSCMR >= ResNet18**") \
        < text.index("- **Tables 4-5: AlexNet+Ad-MSR >= AlexNet**")


def test_a_run_whose_record_its_probabilities_do_not_give_is_shown_apart(tmp_path):
    probs, labels = learned(1)
    run = committed_run(tmp_path, "table4-5", "short", 1, "resnet18_aus2", probs, labels, [1, 2], key="ResNet18",
                        method="resnet18", train_seconds=80.0, schedule={"iters": 40})
    run["evaluations"][-1]["per_au"][1]["auc"] += 0.01          # a number the probabilities do not give
    report(tmp_path, "table4-5", "short", [run], budget={"iters": 40, "batch_size": 16, "train_size": None,
                                                          "test_size": None})
    text = "\n".join(audit.results_section(tmp_path))
    assert "| ResNet18 |" not in text
    kept = run["evaluations"][-1]["per_au"][1]["auc"]
    assert (f"`synthau/table4-5/runs/short-s1/resnet18_aus2.json` of budget `short`: AU2 auc is {kept} in the "
            f"record, {kept - 0.01} from the probabilities.") in text


def test_the_audit_names_the_runs_that_have_not_learned_by_the_claims_rule(tmp_path):
    rng = np.random.default_rng(0)
    labels = (rng.random((400, 2)) < 0.3).astype(np.int64)
    probs = {"dscmr": rng.random((400, 2)), "resnet18": np.clip(labels * 0.6 + rng.random((400, 2)) * 0.5, 0, 1)}
    runs = [committed_run(tmp_path, "table4-5", "short", 1, f"{method}_aus2", probs[method], labels, [1, 2], key=key,
                          method=method, train_seconds=80.0, schedule={"iters": 40})
            for method, key in (("dscmr", "DSCMR"), ("resnet18", "ResNet18"))]
    report(tmp_path, "table4-5", "short", runs, budget={"iters": 40, "batch_size": 16, "train_size": 2000,
                                                         "test_size": 400})
    text = "\n".join(audit.results_section(tmp_path))
    # random scores: an AUC interval around 50; labels plus noise: far above it
    assert ("1 of 2 methods has not trained in some seed (by the rule's measure, `metrics.trained`): "
            "DSCMR (seed 1).") in text


def test_a_run_whose_own_nets_would_be_written_otherwise_today_is_flagged():
    schedule = Schedule(4000, 16, 16)

    def code(aus=(1, 2), schedule=schedule):
        return RunSpec(method("dscmr"), "<data>", aus, schedule, 500).code()
    assert code() == code()
    # what only this run's options show: its AUs, its batch size, its seed
    assert code() != code((1, 2, 4))
    assert code() != code(schedule=Schedule(4000, 8, 16))
    assert code() != code(schedule=Schedule(4000, 16, 16, seed=2))

    def run(name, recorded):
        return {"run_name": name, "method": "dscmr", "aus": [1, 2], "schedule": asdict(schedule), "val_count": 500,
                "code": recorded}
    report = {"runs": [run("current", code()), run("stale", "0123456789abcdef"), run("old", None)]}
    lines = audit.code_changed(report, "synthau", "table4-5")
    assert lines[0].endswith("since (layers, Caffe patches, or the nets and solver the generator writes for them): stale.")
    assert lines[1].startswith("- table4-5 on synthau: 1 run(s) predate the code record")


def test_tables_2_3_show_accuracy_with_intervals_and_whether_each_run_has_learned(tmp_path):
    """Accuracy on an imbalanced test split rewards answering "absent": a run answering 0 for every face
    scores high accuracy at an AUC of 50, which the section shows beside it."""
    labels = np.zeros((400, 3), np.int64)
    labels[:40] = 1                                       # 10 % positives per AU
    def run(key, method, probs):
        return committed_run(tmp_path, "table2-3", "cpu", 1, f"{method}_aus3", probs, labels, [1, 2, 4],
                             key=[key, 3], method=method)
    report(tmp_path, "table2-3", "cpu", [run("MSR", "alexnet_msr", np.zeros((400, 3))),
                                         run("Ad-MSR", "alexnet_admsr", labels * 0.9 + 0.05)],
           budget={"iters": 4000, "batch_size": 16, "train_size": None, "test_size": None})
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
    from tools.experiments import claims

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


def test_an_interval_bound_that_is_not_0_never_shows_as_0():
    # plateau-once's AUC comparison holds with a lower bound of +0.0006: "+0.00" would read as touching 0
    assert [audit.bound(x) for x in (0.0006063, -0.0031, 0.0, 4.4639, -2.005)] == \
        ["+0.0006", "-0.003", "+0.00", "+4.46", "-2.00"]

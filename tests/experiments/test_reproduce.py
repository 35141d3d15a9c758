"""tools/experiments/reproduce.py: every experiment runs end to end through `caffe train` at the smoke budget,
and its report is written from the committed runs alone."""
import json
import shutil

import numpy as np
import pytest

from data_prep.lmdb_io import read_split
from dscmr import machine, paper
from tools.experiments import claims, report_plots, reproduce, reproduce_report, training_run

pytestmark = pytest.mark.slow   # every test runs au-reproduce's experiments, training smoke runs


def smoke(experiment, tiny, root):
    """au-reproduce at the smoke budget with --work and --results under root: (its report's folder, report)."""
    reproduce.main([experiment, "--budget", "smoke", "--data", str(tiny), "--work", str(root / "work"),
                    "--results", str(root / "results")])
    out = root / "results" / "synthau" / experiment / "smoke"
    return out, json.loads((out / f"{experiment}.json").read_text())


@pytest.fixture(scope="module")
def smoke45(tiny, tmp_path_factory):
    """Tables 4-5's six runs at the smoke budget, trained once for the module: the folder holding its
    work/ and results/."""
    root = tmp_path_factory.mktemp("smoke45")
    smoke("table4-5", tiny, root)
    return root


@pytest.fixture
def committed(smoke45, tmp_path):
    """tmp_path/results: a copy of smoke45's results (the six runs committed for seed 1); tmp_path/work
    does not hold them, so a command that finds them committed trains nothing."""
    shutil.copytree(smoke45 / "results", tmp_path / "results")
    return tmp_path / "results"


def assert_probability_metrics(run):
    for evaluation in run["evaluations"]:
        for row in evaluation["per_au"]:
            assert 0 <= row["accuracy"] <= 100
            assert 0 <= row["f1"] <= 100 if row["positives"] else np.isnan(row["f1"])
            assert np.isnan(row["auc"]) or 0 <= row["auc"] <= 100


def test_fig5_smoke_trains_every_ratio_with_and_without_msr(tiny, tmp_path):
    out, report = smoke("fig5", tiny, tmp_path)
    runs = report["runs"]
    assert sorted((r["method"], r["key"][1]) for r in runs) == sorted(
        (m, ratio) for m in ("alexnet", "alexnet_msr") for ratio in paper.FIG5_TRAIN_NP)
    for r in runs:
        train, test = r["derived"]["train"], r["derived"]["test"]
        assert (train["positives"]["AU1"], train["negatives"]["AU1"]) == (1, r["key"][1])   # exact N:P
        assert test["positives"]["AU1"] == test["negatives"]["AU1"] == 4                    # balanced, 8 faces
        assert r["aus"] == [1] and [e["iteration"] for e in r["evaluations"]] == [2]
        assert_probability_metrics(r)
    assert (out / "fig5.png").stat().st_size > 10_000
    assert "| AlexNet + MSR | 30 | 1 | 30 |" in (out / "fig5.md").read_text()
    # each run's log is named by the report, not copied into it
    assert not (out / "logs").exists() and len({(out / r["log"]).resolve() for r in runs if (out / r["log"]).is_file()}) == 8
    # the claim is judged from the committed runs: N:P 30 against 5, and each ratio's pair, seed 1
    found = claims.fig5_claim(tmp_path / "results", report).comparisons
    assert len(found) == 1 + len(paper.FIG5_TRAIN_NP)
    assert all(c.seed == 1 and c.interval[0] <= c.difference <= c.interval[1] for c in found)


def test_table45_smoke_runs_the_six_methods_and_resumes(tiny, smoke45, tmp_path, capsys):
    out = smoke45 / "results" / "synthau" / "table4-5" / "smoke"
    report = json.loads((out / "table4-5.json").read_text())
    assert [r["key"] for r in report["runs"]] == list(paper.METHODS)
    for r in report["runs"]:
        assert r["aus"] == list(paper.EMOTIONET_AUS)
        assert len(r["evaluations"][-1]["per_au"]) == 11
        assert_probability_metrics(r)
        run_dir = smoke45 / "work" / "synthau" / "it2-b2-tr24-va4-te8-p1-cpu" / "aus11" / r["method"]
        assert sorted(p.name for p in run_dir.glob("*.caffemodel")) == [f"{r['method']}_iter_2.caffemodel"]
        assert json.loads((run_dir / f"{r['method']}.model.json").read_text())["aus"] == list(paper.EMOTIONET_AUS)
        assert not list(run_dir.glob("*.solverstate"))
    text = (out / "table4-5.md").read_text()
    assert "### F1-score (%), paper Table 4 (EmotioNet)" in text and "this project on synthau, seed 1" in text
    here = f"{machine.describe()}; build {training_run.caffe_build()}"
    assert f"- DSCMR, seed 1: {here}\n" in text and f"- L-DSCMR, seed 1: {here}\n" in text
    logs = {p: p.stat().st_mtime_ns for p in (smoke45 / "work").rglob("train.log")}
    capsys.readouterr()
    smoke("table4-5", tiny, smoke45)   # finished runs are not repeated
    assert {p: p.stat().st_mtime_ns for p in (smoke45 / "work").rglob("train.log")} == logs
    assert "[1/6]" not in capsys.readouterr().err
    committed = out.parent / "runs" / "smoke-s1"
    assert sorted(p.name for p in committed.glob("*.json")) == sorted(f"{r['method']}_aus11.json" for r in report["runs"])
    assert all((committed / f"{r['method']}_aus11.test.npz").is_file() for r in report["runs"])
    # Another machine: no run directories, only results/: the report is rebuilt, nothing is trained.
    shutil.copytree(smoke45 / "results", tmp_path / "results")
    elsewhere, again = smoke("table4-5", tiny, tmp_path)
    assert not (tmp_path / "work" / "synthau" / "it2-b2-tr24-va4-te8-p1-cpu").exists()
    assert [r["evaluations"] for r in again["runs"]] == [r["evaluations"] for r in report["runs"]]
    assert "95 % CI" in (elsewhere / "table4-5.md").read_text()


def test_per_au_bars_spread_a_method_over_its_seeds_and_give_one_seed_no_error_bar(tiny, committed, tmp_path,
                                                                                     monkeypatch):
    drawn = []
    monkeypatch.setattr(report_plots, "per_au_bars", lambda bars, aus, path, dataset, spread: drawn.append((bars, spread)))
    for seed, only in ((1, "alexnet,drml"), (2, "alexnet")):
        reproduce.main(["table4-5", "--budget", "smoke", "--only", only, "--seed", str(seed), "--data", str(tiny),
                        "--work", str(tmp_path / "work"), "--results", str(tmp_path / "results")])
    bars, spread = drawn[-1]
    assert spread == "mean ± sd over seeds, dots: each seed"
    assert list(bars) == [f"{m} (2 seeds)" if m == "AlexNet" else f"{m} (1 seed)" for m in paper.METHODS]
    report = json.loads((tmp_path / "results" / "synthau" / "table4-5" / "smoke" / "table4-5.json").read_text())
    auc = {r["seed"]: [a["auc"] for a in r["evaluations"][-1]["per_au"]] for r in report["runs"] if r["key"] == "AlexNet"}
    values, low, high, dots = bars["AlexNet (2 seeds)"]["auc"]
    sd = np.std([auc[1], auc[2]], axis=0, ddof=1)
    assert np.allclose(values, np.mean([auc[1], auc[2]], axis=0), equal_nan=True)
    assert np.allclose(high - values, sd, equal_nan=True) and not np.isnan(sd).all()
    assert np.allclose(dots, [auc[1], auc[2]], equal_nan=True)
    _, low, high, dots = bars["DRML (1 seed)"]["auc"]
    assert np.isnan(low).all() and np.isnan(high).all() and len(dots) == 1


def test_report_rewrites_the_report_from_results_alone_and_trains_nothing(tiny, committed, tmp_path, monkeypatch,
                                                                          capsys):
    args = ["table4-5", "--budget", "smoke", "--data", str(tiny), "--work", str(tmp_path / "work"),
            "--results", str(tmp_path / "results")]
    assert reproduce.main(args + ["--only", "alexnet"]) == 0
    out = tmp_path / "results" / "synthau" / "table4-5" / "smoke"
    written = (out / "table4-5.md").read_text()
    shutil.rmtree(tmp_path / "work")
    (out / "table4-5.md").write_text("an older report")

    def trains(*args, **kwargs):
        raise AssertionError("--report trained a run")
    monkeypatch.setattr(training_run, "run", trains)
    capsys.readouterr()
    assert reproduce.main(args + ["--report"]) == 0
    last = capsys.readouterr().err.splitlines()[-1]
    assert "report rewritten in" in last and last.endswith("from results/ (seed 1: 6)")
    text = (out / "table4-5.md").read_text()
    assert text.replace("--report", "--only alexnet") == written
    assert not (tmp_path / "work" / "synthau" / "it2-b2-tr24-va4-te8-p1-cpu").exists()


def test_a_rewritten_report_plots_again_only_the_curves_of_a_changed_log(tiny, committed, tmp_path, monkeypatch):
    args = ["table4-5", "--budget", "smoke", "--report", "--data", str(tiny), "--work", str(tmp_path / "work"),
            "--results", str(committed)]
    out = committed / "synthau" / "table4-5" / "smoke"
    before = {p.name: p.read_bytes() for p in (out / "curves").glob("*.png")}
    assert len(before) == 6
    plotted = []
    monkeypatch.setattr(reproduce_report, "plot_curves", lambda *a, **k: plotted.append(k["title"]))
    assert reproduce.main(args) == 0
    assert plotted == [] and {p.name: p.read_bytes() for p in (out / "curves").glob("*.png")} == before
    with open(committed / "synthau" / "table4-5" / "runs" / "smoke-s1" / "dscmr_aus11.log", "a") as log:
        log.write("I1207 00:00:00.000000 1 solver.cpp:218] Iteration 3 (1 iter/s, 1s/1 iters), loss = 0.5\n")
    assert reproduce.main(args) == 0
    assert plotted == ["dscmr_aus11-s1"]


def test_the_report_covers_every_committed_seed_of_its_budget(tiny, committed, tmp_path, capsys):
    for seed in (2, 1):
        reproduce.main(["table4-5", "--budget", "smoke", "--only", "alexnet", "--seed", str(seed), "--data", str(tiny),
                        "--work", str(tmp_path / "work"), "--results", str(tmp_path / "results")])
    out = tmp_path / "results" / "synthau" / "table4-5" / "smoke"
    report = json.loads((out / "table4-5.json").read_text())
    assert report["seeds"] == [1, 2] and report["seed"] == 1
    assert sorted((r["key"], r["seed"]) for r in report["runs"]) == sorted([(m, 1) for m in paper.METHODS] + [("AlexNet", 2)])
    alexnet = [r for r in report["runs"] if r["key"] == "AlexNet"]
    assert alexnet[0]["evaluations"] != alexnet[1]["evaluations"]   # another initialisation
    assert [r["log"] for r in alexnet] == ["../runs/smoke-s1/alexnet_aus11.log", "../runs/smoke-s2/alexnet_aus11.log"]
    assert all((out / r["log"]).is_file() for r in report["runs"])
    text = (out / "table4-5.md").read_text()
    assert "| AlexNet | mean ± sd of 2 |" in text and "mean ± sd over seeds 1, 2" in text
    def plan(seed):
        reproduce.main(["table4-5", "--budget", "smoke", "--seed", str(seed), "--plan", "--data", str(tiny),
                        "--work", str(tmp_path / "work"), "--results", str(tmp_path / "results")])
        return {line.split()[1]: line.split()[0] for line in capsys.readouterr().out.splitlines()[1:]}
    capsys.readouterr()
    assert plan(2) == dict.fromkeys(["drml", "resnet18", "dscmr", "alexnet_admsr", "ldscmr"], "todo") | {"alexnet": "committed"}
    assert plan(3)["alexnet"] == "todo"
    # an overridden budget is another budget: its runs and report leave these alone
    stamps = {p: p.stat().st_mtime_ns for p in out.parent.rglob("*") if p.is_file() and p.name != reproduce.RESULTS_LOCK}
    reproduce.main(["table4-5", "--budget", "smoke", "--iters", "1", "--only", "alexnet", "--data", str(tiny),
                    "--work", str(tmp_path / "work"), "--results", str(tmp_path / "results")])
    assert {p: p.stat().st_mtime_ns for p in stamps} == stamps
    assert json.loads((out.parent / "smoke-iters1" / "table4-5.json").read_text())["runs"][0]["schedule"]["iters"] == 1
    assert (out.parent / "runs" / "smoke-iters1-s1" / "alexnet_aus11.json").is_file()
    # seed 2 reads the same train samples in another order; validation and test are the same
    data = tmp_path / "work" / "synthau" / "data"
    for split in ("train", "val", "test"):
        one, two = (read_split(data / name / split) for name in ("aus11-tr24-va4-te8", "aus11-tr24-va4-te8-order2"))
        pairs = [sorted((image.tobytes(), labels.tobytes()) for _, image, labels in s) for s in (one, two)]
        assert pairs[0] == pairs[1]
        same_order = [image.tobytes() for _, image, _ in one] == [image.tobytes() for _, image, _ in two]
        assert same_order == (split != "train"), split


def test_a_committed_run_on_another_build_of_the_data_stops_the_command_in_one_line(tiny, committed, tmp_path, capsys):
    def main(*extra):
        return reproduce.main(["table4-5", "--budget", "smoke", "--data", str(tiny), "--work", str(tmp_path / "work"),
                               "--results", str(tmp_path / "results"), *extra])
    record = tmp_path / "results" / "synthau" / "table4-5" / "runs" / "smoke-s1" / "alexnet_aus11.json"
    (record.parent / "drml_aus11.json").unlink()                                 # DRML is to be trained
    ours = json.loads(record.read_text())["data_manifest"]
    record.write_text(record.read_text().replace(ours, "0123456789abcdef"))   # as if trained on another build
    capsys.readouterr()
    assert main("--plan") == 0
    states = {line[19:].split()[0]: line[2:18].strip() for line in capsys.readouterr().out.splitlines()[1:]}
    assert states["alexnet"] == "other data" and states["drml"] == "todo"
    for extra in (("--only", "drml"), ("--report",)):
        assert main(*extra) == 2
        err = capsys.readouterr().err.strip().splitlines()[-1]
        assert err == (f"au-reproduce: {record}: was trained on data 0123456789abcdef, but {tiny} derives data {ours} "
                       "for it: another build of the dataset (docs/data.md); train yours apart with --results DIR, or "
                       "move the committed runs away")
    assert not (tmp_path / "work" / "synthau" / "it2-b2-tr24-va4-te8-p1-cpu").exists()


def test_table23_smoke_compares_msr_and_admsr_per_subset_and_takes_the_same_run_from_tables_4_5(tiny, committed,
                                                                                                tmp_path, capsys):
    first = json.loads((committed / "synthau" / "table4-5" / "runs" / "smoke-s1" / "alexnet_admsr_aus11.json").read_text())
    reproduce.main(["table2-3", "--budget", "smoke", "--plan", "--data", str(tiny), "--work", str(tmp_path / "work"),
                    "--results", str(committed)])
    states = {tuple(line.split()[-3:-1]): line.split()[0] for line in capsys.readouterr().out.splitlines()[1:]}
    assert states[("alexnet_admsr", "aus11")] == "in" and states[("alexnet_admsr", "aus3")] == "todo"
    out, report = smoke("table2-3", tiny, tmp_path)
    assert "alexnet_admsr aus11: the same run is committed in table4-5" in capsys.readouterr().err
    assert not list((tmp_path / "work").rglob("aus11/alexnet_admsr"))          # not trained again
    kept = committed / "synthau" / "table2-3" / "runs" / "smoke-s1"
    assert json.loads((kept / "alexnet_admsr_aus11.json").read_text()) == dict(first, reused_from="table4-5")
    assert (kept / "alexnet_admsr_aus11.test.npz").is_file()
    assert sorted((r["method"], len(r["aus"])) for r in report["runs"]) == sorted(
        (m, k) for m in ("alexnet_msr", "alexnet_admsr") for k in (3, 5, 8, 11))
    text = (out / "table2-3.md").read_text()
    assert "| AU1 |" in text and "| paper MSR | paper Ad-MSR |" in text
    claim = claims.table23_claim(tmp_path / "results", report)
    assert [c.what for c in claim.comparisons] == [f"mean accuracy, {k} AUs, Ad-MSR {k} − MSR {k}" for k in (3, 5, 8, 11)]
    for r in report["runs"]:
        assert_probability_metrics(r)

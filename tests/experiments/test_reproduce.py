"""data_prep/derive.py and tools/experiments/reproduce.py: derived datasets hold exactly the selected samples and
AU columns, and every experiment runs end to end through `caffe train` at the smoke budget."""
import json
import shutil
import threading
import time

import numpy as np
import pytest
from helpers.caffe import REPO

from data_prep import derive
from data_prep.lmdb_io import read_split
from dscmr import machine, paper
from dscmr.dataset import read_manifest
from dscmr.errors import InputError
from dscmr.methods import get as method
from tools.experiments import claims, plans, plateau, report_plots, reproduce, reproduce_report, results_store, training_run
from tools.experiments.run_spec import NETS, RunSpec, Schedule, data_fingerprint

pytestmark = pytest.mark.slow   # every test runs au-reproduce's experiments, training smoke runs


def test_with_ratio_and_balanced_pick_exact_counts():
    column = np.array([0, 1, 999, 0, 0, 1, 0, 0, 1, 0, 0, 0], np.float32)
    chosen = derive.with_ratio(column, 2, 2)
    assert sorted(chosen) == [0, 1, 3, 4, 5, 6]  # positives 1, 5; the first four negatives; 999 never
    assert chosen == derive.with_ratio(column, 2, 2) != sorted(chosen)   # a seeded shuffle
    assert derive.balanced(column, None) == [0, 1, 3, 4, 5, 8]   # three of each class
    assert derive.balanced(column, 4) == [0, 1, 3, 5]
    with pytest.raises(ValueError, match="wants 3 positives and 30 negatives, the split has 3 and 8"):
        derive.with_ratio(column, 10, 3)


def test_derive_copies_the_selected_images_and_au_columns(tiny, tmp_path):
    manifest = read_manifest(tiny)
    out = tmp_path / "d"
    derived = derive.derive(tiny, out, (4, 12), lambda split, labels: [1, 3] if split == "train" else [0],
                            {"note": "test"})
    source, result = read_split(tiny / "train"), read_split(out / "train")
    columns = [manifest["aus"].index(4), manifest["aus"].index(12)]
    assert len(result) == 2
    for (_, image, labels), position in zip(result, (1, 3)):
        assert np.array_equal(image, source[position][1])
        assert np.array_equal(labels, source[position][2][columns])
    assert derived["aus"] == [4, 12] and derived["splits"]["test"]["count"] == 1
    assert json.loads((out / "manifest.json").read_text())["derivation"]["aus"] == [4, 12]
    # Derived the same way again: reused, not rewritten.
    stamp = (out / "manifest.json").stat().st_mtime_ns
    derive.derive(tiny, out, (4, 12), lambda split, labels: [1, 3] if split == "train" else [0], {"note": "test"})
    assert (out / "manifest.json").stat().st_mtime_ns == stamp


def test_two_processes_deriving_one_dataset_write_it_once(tiny, tmp_path):
    calls, started = [], threading.Event()

    def select(split, labels):
        calls.append(split)
        started.set()
        time.sleep(0.3)   # the second derive arrives while the first is writing
        return [0]
    first = threading.Thread(target=derive.derive, args=(tiny, tmp_path / "d", (1,), select, {"note": "x"}))
    first.start()
    started.wait()
    derived = derive.derive(tiny, tmp_path / "d", (1,), select, {"note": "x"})
    first.join()
    assert calls == ["train", "val", "test"] and derived["splits"]["train"]["count"] == 1


def test_derive_names_a_missing_au_and_a_missing_dataset(tiny, tmp_path):
    with pytest.raises(InputError, match="not AU7"):
        derive.derive(tiny, tmp_path / "d", (1, 7), lambda split, labels: [0], {})
    with pytest.raises(InputError, match="nowhere/manifest.json: not found"):
        read_manifest(tmp_path / "nowhere")


def test_table23_subsets_of_the_emotionet_aus_are_table3s():
    runs = plans.plan_table23({"aus": list(paper.EMOTIONET_AUS)}, plans.BUDGETS["smoke"], None)
    subsets = {r.key[1]: r.aus for r in runs}
    assert subsets == paper.TABLE3_AU_SUBSETS
    assert {r.method.key for r in runs} == {"alexnet_msr", "alexnet_admsr"}


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


def test_a_command_stopped_after_its_first_run_leaves_that_run_in_the_report(tiny, tmp_path, monkeypatch, capsys):
    real_run, trained = training_run.run, []

    def fails_after_the_first(*args, **kwargs):
        if trained:
            raise training_run.RunFailed("stopped")
        trained.append(args[0].method.key)
        return real_run(*args, **kwargs)

    monkeypatch.setattr(training_run, "run", fails_after_the_first)
    assert reproduce.main(["table4-5", "--budget", "smoke", "--data", str(tiny), "--work", str(tmp_path / "work"),
                           "--results", str(tmp_path / "results")]) == 1
    assert "resnet18 on aus11 failed: stopped" in capsys.readouterr().err
    report = json.loads((tmp_path / "results" / "synthau" / "table4-5" / "smoke" / "table4-5.json").read_text())
    assert [r["method"] for r in report["runs"]] == trained == ["drml"]   # Table 4's first column


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


def test_only_picks_one_run_by_method_and_data_and_names_the_runs_when_it_matches_none(tiny, tmp_path, capsys):
    def main(*extra):
        return reproduce.main(["table2-3", "--budget", "smoke", "--data", str(tiny), "--work", str(tmp_path / "work"),
                               "--results", str(tmp_path / "results"), *extra])
    assert main("--only", "alexnet_msr/aus3") == 0
    runs = tmp_path / "results" / "synthau" / "table2-3" / "runs" / "smoke-s1"
    assert sorted(p.name for p in runs.glob("*.json")) == ["alexnet_msr_aus3.json"]
    capsys.readouterr()
    assert main("--only", "alexnet_msr/aus3,alexnet_msr/aus4") == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith("au-reproduce: --only: alexnet_msr/aus4 is not a run of table2-3; its methods: "
                          "alexnet_admsr,alexnet_msr, its runs: alexnet_admsr/aus11,")
    assert len(err.splitlines()) == 1 and "alexnet_msr/aus8" in err
    assert sorted(p.name for p in runs.glob("*.json")) == ["alexnet_msr_aus3.json"]   # nothing trained


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


def test_a_run_trained_with_code_changed_since_is_stale_and_retrained_only_when_asked(tiny, tmp_path, capsys):
    def main(*extra):
        return reproduce.main(["table4-5", "--budget", "smoke", "--data", str(tiny), "--work", str(tmp_path / "work"),
                               "--results", str(tmp_path / "results"), *extra])
    main("--only", "alexnet")
    kept = tmp_path / "results" / "synthau" / "table4-5" / "runs" / "smoke-s1"
    done = next((tmp_path / "work").rglob("aus11/alexnet/done.json"))
    today = json.loads(done.read_text())["depends"]
    assert json.loads((kept / "alexnet_aus11.json").read_text())["depends"] == today
    before = dict(today, **{NETS: "0" * 16})      # as if the generator had changed since
    for record in (kept / "alexnet_aus11.json", done):
        record.write_text(json.dumps(dict(json.loads(record.read_text()), depends=before)))
    capsys.readouterr()
    main("--plan")
    assert "stale            alexnet " in capsys.readouterr().out
    # Tables 2-3 would take AlexNet+Ad-MSR on 11 AUs from Tables 4-5: its plan says whether that one is stale
    admsr = dict(json.loads((kept / "alexnet_aus11.json").read_text()), method="alexnet_admsr")
    for depends, state in ((before, "stale in table4-5"), (RunSpec.of_record(admsr).depends(), "in table4-5")):
        (kept / "alexnet_admsr_aus11.json").write_text(json.dumps(dict(admsr, depends=depends)))
        reproduce.main(["table2-3", "--budget", "smoke", "--plan", "--data", str(tiny), "--work",
                        str(tmp_path / "work"), "--results", str(tmp_path / "results")])
        assert f"{state:16s} alexnet_admsr  aus11" in capsys.readouterr().out
    (kept / "alexnet_admsr_aus11.json").unlink()
    log = done.parent / "train.log"
    stamp = log.stat().st_mtime_ns
    main("--only", "alexnet")
    assert "trained with code that has changed since (changed: <nets>)" in capsys.readouterr().err
    assert log.stat().st_mtime_ns == stamp
    main("--only", "alexnet", "--retrain-stale")
    assert "held a run finished with code that has changed since (changed: <nets>)" in capsys.readouterr().err
    assert json.loads(done.read_text())["depends"] == json.loads((kept / "alexnet_aus11.json").read_text())["depends"] \
        == today
    assert json.loads((kept / "replaced-1" / "alexnet_aus11.json").read_text())["depends"] == before
    assert json.loads((done.parent.with_name("alexnet.replaced-1") / "done.json").read_text())["depends"] == before
    main("--plan")
    assert "committed        alexnet " in capsys.readouterr().out


def test_a_committed_run_of_another_configuration_is_moved_aside_not_overwritten(tmp_path):
    log = tmp_path / "train.log"
    for text in ("first", "second"):
        log.write_text(text)
        results_store.save_run(tmp_path / "runs", "alexnet_aus11", {"log": str(log), "data_manifest": text})
    assert json.loads((tmp_path / "runs" / "alexnet_aus11.json").read_text())["data_manifest"] == "second"
    assert json.loads((tmp_path / "runs" / "replaced-1" / "alexnet_aus11.json").read_text())["data_manifest"] == "first"
    assert (tmp_path / "runs" / "replaced-1" / "alexnet_aus11.log").read_text() == "first"


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


def test_an_unfinished_run_with_another_configuration_starts_again_and_the_old_one_is_kept(tiny, tmp_path, capsys):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    (run_dir / "config.json").write_text(json.dumps({"method": "alexnet", "schedule": "another"}))
    (run_dir / "alexnet_iter_5.solverstate").write_text("stale")
    data = tmp_path / "d"
    derive.derive(tiny, data, (1,), lambda split, labels: [0, 1], {})
    result = training_run.run(RunSpec(method("alexnet"), data, (1,), Schedule(1, 2, 1), 2), run_dir)
    assert not (run_dir / "alexnet_iter_5.solverstate").exists()
    assert (tmp_path / "run.replaced-1" / "alexnet_iter_5.solverstate").read_text() == "stale"
    assert f"moved to {tmp_path / 'run.replaced-1'}" in capsys.readouterr().err
    assert [e["iteration"] for e in result["evaluations"]] == [1]
    assert json.loads((run_dir / "done.json").read_text())["schedule"]["iters"] == 1
    # Finished, then asked for on other data: trained again, not reused.
    derive.derive(tiny, data, (1,), lambda split, labels: [1, 0], {"order": "reversed"})
    again = training_run.run(RunSpec(method("alexnet"), data, (1,), Schedule(1, 2, 1), 2), run_dir)
    assert again["data_manifest"] != result["data_manifest"]
    assert again["data_manifest"] == data_fingerprint(data)
    assert json.loads((tmp_path / "run.replaced-2" / "done.json").read_text())["data_manifest"] == result["data_manifest"]


def test_an_unfinished_run_begun_with_other_code_starts_again_and_the_old_one_is_kept(tiny, tmp_path, capsys):
    from caffe.proto import caffe_pb2
    data, run_dir = tmp_path / "d", tmp_path / "run"
    derive.derive(tiny, data, (1,), lambda split, labels: [0, 1], {})
    run_dir.mkdir()
    spec = RunSpec(method("alexnet"), data, (1,), Schedule(1, 2, 1), 2)
    (run_dir / "config.json").write_text(json.dumps(spec.config()))
    (run_dir / "code.txt").write_text("0000000000000000\n")
    (run_dir / "alexnet_iter_5.solverstate").write_bytes(caffe_pb2.SolverState(iter=5).SerializeToString())
    (run_dir / "alexnet_iter_5.caffemodel").write_bytes(b"")
    result = training_run.run(spec, run_dir)
    today = spec.code()
    assert "begun with code that has changed since (code 0000000000000000, today " + today in capsys.readouterr().err
    assert (tmp_path / "run.replaced-1" / "alexnet_iter_5.solverstate").is_file()
    assert [e["iteration"] for e in result["evaluations"]] == [1]
    assert result["code"] == today and (run_dir / "code.txt").read_text() == today + "\n"


def test_the_same_data_derived_in_another_clone_has_the_same_fingerprint(tiny, tmp_path):
    """A committed run is reused on another machine: its data's fingerprint ignores where the data
    was built and how the command was spelled, but not what the data is."""
    elsewhere = tmp_path / "clone" / "data" / "synthau"
    shutil.copytree(tiny, elsewhere)
    manifest = json.loads((elsewhere / "manifest.json").read_text())
    manifest["command"] = "au-build-synthau --mirror"
    (elsewhere / "manifest.json").write_text(json.dumps(manifest))
    here, there, other = tmp_path / "here", tmp_path / "there", tmp_path / "other"
    derive.derive(tiny, here, (1,), lambda split, labels: [0, 1], {})
    derive.derive(elsewhere, there, (1,), lambda split, labels: [0, 1], {})
    derive.derive(tiny, other, (1,), lambda split, labels: [1, 0], {"order": "reversed"})
    assert read_manifest(here)["derivation"]["source"] != read_manifest(there)["derivation"]["source"]
    assert data_fingerprint(here) == data_fingerprint(there)
    assert data_fingerprint(here) != data_fingerprint(other)


def test_a_failing_caffe_names_its_log(tiny, tmp_path):
    data = tmp_path / "d"
    derive.derive(tiny, data, (1,), lambda split, labels: [0, 1], {})
    (data / "train" / "images" / "data.mdb").write_bytes(b"not an lmdb")
    killed = r"caffe train was killed by signal 6; the log is .*train.log; its errors:\n.*MDB_INVALID"
    with pytest.raises(training_run.RunFailed, match=killed):
        training_run.run(RunSpec(method("alexnet"), data, (1,), Schedule(1, 2, 1), 2), tmp_path / "run")
    assert not (tmp_path / "run" / "done.json").exists()


def test_the_cpu_budget_is_where_the_committed_learning_curves_flatten():
    """BUDGETS["cpu"] is read off the committed `curve` runs by the plateau rule, not guessed, and
    keeps their snapshot grid."""
    folder = REPO / "results" / "synthau" / "table4-5" / "runs" / "curve-s1"
    runs = [json.loads(p.read_text()) for p in sorted(folder.glob("*.json"))]
    curves = {r["method"]: [(e["iteration"], e["val"]["mean"]["auc"]) for e in r["evaluations"]] for r in runs}
    assert "dscmr" in curves
    plateaus = {method: plateau.plateau_iteration(curve) for method, curve in curves.items()}
    assert None not in plateaus.values(), plateaus
    cpu, curve = plans.BUDGETS["cpu"], plans.BUDGETS["curve"]
    assert cpu.iters == max(plateaus.values())
    assert cpu.iters // cpu.points == curve.iters // curve.points


def test_a_budget_trained_on_the_gpu_is_reported_apart():
    assert reproduce.parse_args(["fig5", "--budget", "cpu", "--gpu"]).budget_name == "cpu-gpu"
    assert reproduce.parse_args(["fig5", "--gpu", "--iters", "10"]).budget_name == "paper-iters10-gpu"
    assert reproduce.parse_args(["fig5", "--budget", "cpu"]).budget_name == "cpu"


def test_a_training_keeps_only_the_states_it_can_resume_from(tmp_path):
    announced = []
    for it in (250, 500, 750, 1000):
        state = tmp_path / f"m_iter_{it}.solverstate"
        state.write_bytes(b"s")
        training_run.prune_states(announced, state)
    # 1000 is being written: 750 is the newest whole one
    assert sorted(p.name for p in tmp_path.iterdir()) == ["m_iter_1000.solverstate", "m_iter_750.solverstate"]


def test_gpu_snapshots_are_evaluated_several_at_once_and_kept_in_order():
    lock, running, most = threading.Lock(), [0], [0]

    def evaluate(it):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        time.sleep(0.05 * (1 + it % 3))   # long enough for four to overlap; later snapshots may finish first
        with lock:
            running[0] -= 1
        return it, threading.get_ident()

    iterations = list(range(250, 4250, 250))
    together = training_run.mapped(evaluate, iterations, 4, "test")
    assert [it for it, _ in together] == iterations and most[0] == 4
    most[0] = 0
    alone = training_run.mapped(evaluate, iterations, 1, "test")
    # one at a time, in this thread (pycaffe's Caffe mode is per thread)
    assert most[0] == 1 and {thread for _, thread in alone} == {threading.get_ident()}


def test_a_run_trained_until_flat_goes_on_in_segments_commits_each_and_says_where_it_stopped(tiny, tmp_path,
                                                                                             monkeypatch):
    partials = []
    save_partial = results_store.save_partial

    def recorded(folder, name, record):
        save_partial(folder, name, record)
        partials.append(json.loads((folder / f"{name}.partial.json").read_text()))
    monkeypatch.setattr(results_store, "save_partial", recorded)
    reproduce.main(["table4-5", "--budget", "smoke", "--until-flat", "4", "--lr-policy", "once", "--only",
                    "alexnet_admsr", "--data", str(tiny), "--work", str(tmp_path / "work"),
                    "--results", str(tmp_path / "results")])
    kept = tmp_path / "results" / "synthau" / "table4-5" / "runs" / "smoke-untilflat4-once-s1"
    record = json.loads((kept / "alexnet_admsr_aus11.json").read_text())
    # at chance after 4 iterations: not flat, so it trained on to the cap, and says it did not flatten
    assert record["plateau"] == {"cap": 4, "reached": 4, "stopped_at": 4, "flattened": False}
    assert record["readings"] == {"lr_policy": "once"} and record["until_flat"] == 4
    assert [e["iteration"] for e in record["evaluations"]] == [2, 4]
    assert all(e["val"]["trained"] is False and len(e["val"]["auc_ci"]) == 2 for e in record["evaluations"])
    # a partial record after each segment, flagged unfinished until the last; removed once the run is committed
    assert [(p["plateau"]["reached"], p.get("unfinished", False)) for p in partials] == [(2, True), (4, False)]
    assert not list(kept.glob("*.partial.*"))
    run_dir = next((tmp_path / "work").rglob("aus11/alexnet_admsr"))
    assert "-cpu-once" in str(run_dir)
    assert sorted(p.name for p in run_dir.glob("alexnet_admsr_iter_*")) == ["alexnet_admsr_iter_4.caffemodel"]
    log = (run_dir / "train.log").read_text()
    assert log.count("# ") >= 2 and "Resuming from" in log           # two `caffe train`, the second resumed
    assert 'lr_policy: "multistep"' in (run_dir / "alexnet_admsr_solver.prototxt").read_text()
    report = (tmp_path / "results" / "synthau" / "table4-5" / "smoke-untilflat4-once" / "table4-5.md").read_text()
    assert "- readings (dscmr/readings.py): loss_scale sum, lr_policy once, beta clamped" in report
    assert "| AlexNet+Ad-MSR, seed 1 | 4 |" in report and "| at the cap, 4: not flat, or not trained |" in report


def test_a_reading_that_does_not_change_a_method_reuses_its_run(tiny, tmp_path, capsys):
    def main(*extra):
        return reproduce.main(["table4-5", "--budget", "smoke", "--only", "alexnet", "--data", str(tiny),
                               "--work", str(tmp_path / "work"), "--results", str(tmp_path / "results"), *extra])
    main()
    log = next((tmp_path / "work").rglob("aus11/alexnet/train.log"))
    stamp = log.stat().st_mtime_ns
    capsys.readouterr()
    main("--loss-scale", "mean", "--beta", "paper_zero")    # cross-entropy: neither changes AlexNet's nets
    assert "alexnet aus11: the same run is committed in table4-5/smoke" in capsys.readouterr().err
    assert log.stat().st_mtime_ns == stamp
    runs = tmp_path / "results" / "synthau" / "table4-5" / "runs"
    copied = json.loads((runs / "smoke-mean-paperzero-s1" / "alexnet_aus11.json").read_text())
    assert copied["reused_from"] == "table4-5/smoke" and "readings" not in copied
    report = json.loads((tmp_path / "results" / "synthau" / "table4-5" / "smoke-mean-paperzero" / "table4-5.json")
                        .read_text())
    assert report["readings"] == {"loss_scale": "mean", "lr_policy": "step", "beta": "paper_zero"}
    # the rate schedule changes every method: trained anew
    main("--lr-policy", "once")
    assert "the same run is committed" not in capsys.readouterr().err
    assert json.loads((runs / "smoke-once-s1" / "alexnet_aus11.json").read_text())["readings"] == {"lr_policy": "once"}


def test_the_readings_plot_draws_a_run_under_each_budget_it_was_trained_at(tmp_path):
    def commit(budget, name, aucs):
        folder = tmp_path / "runs" / f"{budget}-s1"
        folder.mkdir(parents=True, exist_ok=True)
        evaluations = [{"iteration": 250 * (i + 1), "val": {"mean": {"auc": a}}} for i, a in enumerate(aucs)]
        (folder / f"{name}.json").write_text(json.dumps({"evaluations": evaluations}))
    commit("cpu", "alexnet_admsr_aus11", [50.0, 50.5, 51.0])
    commit("cpu", "alexnet_aus11", [50.0, 55.0, 60.0])
    assert not report_plots.readings_curves(tmp_path, "synthau")      # one budget each: nothing to set side by side
    commit("plateau-once", "alexnet_admsr_aus11", [50.0, 52.0, 58.0, 63.0])
    (tmp_path / "runs" / "plateau-once-s1" / "alexnet_aus11.partial.json").write_text("{}")   # never drawn
    assert report_plots.readings_curves(tmp_path, "synthau")
    assert (tmp_path / report_plots.READINGS_PLOT).stat().st_size > 10_000

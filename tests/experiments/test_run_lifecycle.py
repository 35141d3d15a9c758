"""A run's life in tools/experiments/reproduce.py: picked, stopped, resumed, found stale, moved aside,
started again, trained until flat, reused under another reading; and where a budget trains."""
import json
import threading
import time

import pytest
from helpers.caffe import REPO

from data_prep import derive
from dscmr.methods import get as method
from tools.experiments import plans, plateau, report_plots, reproduce, results_store, training_run
from tools.experiments.run_spec import NETS, RunSpec, Schedule, data_fingerprint

pytestmark = pytest.mark.slow   # runs au-reproduce, training smoke runs


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
    def commit(budget, name, aucs, **record):
        folder = tmp_path / "table4-5" / "runs" / f"{budget}-s1"
        folder.mkdir(parents=True, exist_ok=True)
        evaluations = [{"iteration": 250 * (i + 1), "val": {"mean": {"auc": a}}} for i, a in enumerate(aucs)]
        (folder / name).write_text(json.dumps(dict(record, evaluations=evaluations)))
    experiment = tmp_path / "table4-5"
    commit("cpu", "alexnet_admsr_aus11.json", [50.0, 50.5, 51.0])
    commit("cpu", "alexnet_aus11.json", [50.0, 55.0, 60.0])
    commit("cpu-mean", "alexnet_aus11.json", [50.0, 55.0, 60.0], reused_from="table4-5/cpu")
    assert not report_plots.readings_curves(experiment, "synthau")      # one training each: nothing to set side by side
    commit("plateau-once", "alexnet_admsr_aus11.json", [50.0, 52.0, 58.0, 63.0])
    commit("plateau-mean-once", "alexnet_admsr_aus11.partial.json", [50.0, 50.1, 50.2], unfinished=True,
           plateau={"reached": 750})
    (experiment / "runs" / "plateau-once-s1" / "alexnet_aus11.partial.json").write_text("{}")   # no curve yet
    assert report_plots.seed1_trainings(experiment) == {
        "alexnet_admsr_aus11": {"table4-5/cpu": (["cpu"], [(250, 50.0), (500, 50.5), (750, 51.0)], None),
                                "table4-5/plateau-mean-once": (["plateau-mean-once"],
                                                               [(250, 50.0), (500, 50.1), (750, 50.2)], 750),
                                "table4-5/plateau-once": (["plateau-once"],
                                                          [(250, 50.0), (500, 52.0), (750, 58.0), (1000, 63.0)], None)},
        "alexnet_aus11": {"table4-5/cpu": (["cpu", "cpu-mean"], [(250, 50.0), (500, 55.0), (750, 60.0)], None)}}
    assert report_plots.readings_curves(experiment, "synthau")
    assert (experiment / report_plots.READINGS_PLOT).stat().st_size > 10_000

"""The readings of the paper's ambiguous sentences as run axes (dscmr/readings.py): each reading's nets and
solvers in Caffe's terms, the defaults byte-identical to the committed files and runs, and the plateau budget."""
import json

import caffe
import pytest
from google.protobuf import text_format
from helpers.caffe import REPO
from helpers.data import write_random_lmdbs

from dscmr import methods, paper
from dscmr.readings import AXES, DEFAULT, Readings, of_record
from tools import generate_prototxt as gen
from tools.experiments import plans, reproduce, training_run
from tools.experiments.run_spec import Schedule

N_AUS = len(paper.EMOTIONET_AUS)
FLAGS = {"loss_scale": "--loss-scale", "lr_policy": "--lr-policy", "beta": "--beta"}


def generated(readings, **options):
    args = [a for name, value in vars(readings).items() for a in (FLAGS[name], value)]
    return gen.generated(gen.parse_args(args + [f"--{k.replace('_', '-')}={v}" for k, v in options.items()]))


def parsed(text, message):
    return text_format.Parse(text, message())


def layer(net_text, name):
    return next(lay for lay in parsed(net_text, caffe.proto.caffe_pb2.NetParameter).layer if lay.name == name)


def test_readings_name_their_folders_and_refuse_unknown_values():
    assert DEFAULT.tag() == "" and DEFAULT.changed() == {}
    assert Readings(loss_scale="mean", lr_policy="once", beta="paper_zero").tag() == "-mean-once-paperzero"
    assert Readings(lr_policy="once").changed() == {"lr_policy": "once"}
    assert of_record({"method": "alexnet"}) == DEFAULT
    assert of_record({"readings": {"beta": "paper_zero"}}) == Readings(beta="paper_zero")
    with pytest.raises(ValueError, match="loss_scale 'avg' is not one of sum, mean"):
        Readings(loss_scale="avg")
    assert [a.default for a in AXES] == ["sum", "step", "clamped"]


def test_the_default_readings_named_explicitly_write_the_committed_files_byte_for_byte():
    files = generated(DEFAULT)
    assert files == gen.generated(gen.parse_args([]))
    for name, text in files.items():
        assert (REPO / "prototxt" / name).read_text() == text, name


def test_every_committed_run_is_still_current():
    """No committed run's code fingerprint moved with the readings (those that predate it cannot tell)."""
    records = [json.loads(p.read_text()) for p in sorted((REPO / "results").glob("*/*/runs/*/*.json"))
               if not p.name.endswith(".partial.json")]
    fingerprinted = [r for r in records if r.get("code")]
    assert len(fingerprinted) >= 30
    stale = [(r["method"], r["schedule"]) for r in fingerprinted if training_run.code_changed(r)]
    assert not stale


def test_loss_scale_mean_divides_msr_and_admsr_by_n_and_leaves_cross_entropy():
    files = generated(Readings(loss_scale="mean"))
    for method in ("alexnet_msr", "alexnet_admsr", "dscmr", "ldscmr", "dscmr_py", "ldscmr_py"):
        loss = layer(files[f"{method}_train_val.prototxt"], "loss")
        assert loss.loss_weight[0] == pytest.approx(1 / N_AUS) and list(loss.loss_weight[1:]) == [0] * \
            (len(loss.loss_weight) - 1), method
    for method in ("alexnet", "resnet18", "drml"):
        assert files[f"{method}_train_val.prototxt"] == (REPO / "prototxt" / f"{method}_train_val.prototxt").read_text()
    # on 3 AUs, 1/3
    three = gen.generated(gen.parse_args(["--loss-scale", "mean", "--aus", "1,2,4", "--only", "alexnet_msr"]))
    assert layer(three["alexnet_msr_train_val.prototxt"], "loss").loss_weight[0] == pytest.approx(1 / 3)


def test_lr_policy_once_reduces_the_rate_once_at_2000():
    files = generated(Readings(lr_policy="once"))
    for method in methods.KEYS:
        solver = parsed(files[f"{method}_solver.prototxt"], caffe.proto.caffe_pb2.SolverParameter)
        assert (solver.lr_policy, solver.gamma, list(solver.stepvalue), solver.stepsize) == \
            ("multistep", pytest.approx(0.1), [paper.LR_STEP], 0)
        assert files[f"{method}_train_val.prototxt"] == (REPO / "prototxt" / f"{method}_train_val.prototxt").read_text()
    step = parsed((REPO / "prototxt" / "alexnet_solver.prototxt").read_text(), caffe.proto.caffe_pb2.SolverParameter)
    assert (step.lr_policy, step.stepsize) == ("step", paper.LR_STEP)


def test_beta_paper_zero_is_admsr_beta_mode_in_cpp_and_python():
    files = generated(Readings(beta="paper_zero"))
    mode = caffe.proto.caffe_pb2.MSRLossParameter.PAPER_ZERO
    for method in ("alexnet_admsr", "dscmr", "ldscmr"):
        assert layer(files[f"{method}_train_val.prototxt"], "loss").msr_loss_param.beta_mode == mode
    for method in ("dscmr_py", "ldscmr_py"):
        params = json.loads(layer(files[f"{method}_train_val.prototxt"], "loss").python_param.param_str)
        assert params["beta_mode"] == "PAPER_ZERO"
    assert files["alexnet_msr_train_val.prototxt"] == (REPO / "prototxt" / "alexnet_msr_train_val.prototxt").read_text()


@pytest.mark.slow
def test_caffe_builds_and_trains_each_reading(tmp_path):
    """Each non-default reading's AlexNet + Ad-MSR, as Caffe itself builds and steps it."""
    write_random_lmdbs(tmp_path, N_AUS)
    for readings in (Readings(loss_scale="mean"), Readings(lr_policy="once"), Readings(beta="paper_zero")):
        out = tmp_path / readings.tag().strip("-")
        files = generated(readings, out=out, out_prefix=out, data=tmp_path, batch_size=2, test_iter=1, max_iter=3,
                          only="alexnet_admsr", snapshot_prefix=out)
        out.mkdir()
        for name, text in files.items():
            (out / name).write_text(text)
        solver = caffe.SGDSolver(str(out / "alexnet_admsr_solver.prototxt"))
        solver.step(1)
        assert solver.iter == 1
        assert float(solver.net.blobs["loss"].data) > 0


def test_budget_and_folder_names_carry_the_readings():
    opts = reproduce.parse_args(["table4-5", "--budget", "plateau", "--lr-policy", "once"])
    assert opts.budget_name == "plateau-once" and opts.budget.until_flat == 10000
    assert reproduce.parse_args(["table2-3", "--budget", "cpu", "--loss-scale", "mean", "--lr-policy", "once",
                                 "--gpu"]).budget_name == "cpu-mean-once-gpu"
    assert reproduce.parse_args(["table4-5", "--budget", "cpu"]).budget_name == "cpu"
    planned = plans.Planned("AlexNet+Ad-MSR", methods.get("alexnet_admsr"), "aus11", (1,), None, {})
    where = plans.run_dir_of(REPO, opts.budget, "CPU", planned, 1, opts.readings)
    assert where.parts[-3] == "it4000-b16-trall-vaall-teall-p16-flat10000-cpu-once"
    assert plans.run_dir_of(REPO, plans.BUDGETS["cpu"], "CPU", planned).parts[-3] == \
        "it4000-b16-trall-vaall-teall-p16-cpu"


def test_a_cap_below_the_first_iterations_is_refused(capsys):
    with pytest.raises(SystemExit):
        reproduce.parse_args(["table4-5", "--budget", "plateau", "--until-flat", "4000"])
    assert "--until-flat 4000 must be above the iterations it trains first (4000)" in capsys.readouterr().err


def evaluation(it, auc, trained=True):
    return {"iteration": it, "val": {"mean": {"auc": auc}, "trained": trained}}


def curve(aucs, trained=True):
    return [evaluation(250 * (i + 1), a, trained) for i, a in enumerate(aucs)]


def test_the_plateau_budget_stops_where_the_rule_says_and_goes_on_at_chance():
    schedule = Schedule(4000, 16, 16)
    assert training_run.segments(schedule, 10000) == [4000, 5000, 6000, 7000, 8000, 9000, 10000]
    assert training_run.segments(schedule, None) == [4000]
    # rising to 3000, then flat: stops at the first segment end, 4000
    rising = curve([50 + min(i, 10) * 2 for i in range(16)])
    assert training_run.flat_at(rising, 10000) == (4000, True)
    # still rising 2 points a snapshot at 4000: goes on
    steep = curve([50 + i for i in range(16)])
    assert training_run.flat_at(steep, 10000) is None
    # ... and stops at 6000 once it levelled off from 4500 (4500 <= 0.75 * 6000)
    levelled = curve([50 + min(i, 17) for i in range(24)])
    assert training_run.flat_at(levelled[:20], 10000) is None       # 5000: rose 3 points since 3750
    assert training_run.flat_at(levelled, 10000) == (6000, True)
    # flat at chance is not flat: it goes on to the cap, and says so
    chance = curve([50.0] * 16, trained=False)
    assert training_run.flat_at(chance, 10000) is None
    assert training_run.flat_at(curve([50.0] * 40, trained=False), 10000) == (10000, False)

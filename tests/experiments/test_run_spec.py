"""tools/experiments/run_spec.py: a run's nets are generated once, the files written into its folder are
the generator's own text for its folders, and a record gives back the run that wrote it."""
import json

from dscmr import methods
from dscmr.readings import Readings
from tools.experiments import run_spec
from tools.experiments.plans import BUDGETS
from tools.experiments.run_spec import RunSpec, Schedule
from tools.nets import prototxt


def spec(key, data="/data/aus11", **fields):
    cpu = BUDGETS["cpu"]
    return RunSpec(methods.get(key), data, (1, 2, 4), Schedule(cpu.iters, cpu.batch_size, cpu.points, seed=2), 496,
                   **fields)


def test_the_files_a_run_writes_are_what_the_generator_writes_for_its_folders():
    run_dir = "/work/it4000/aus11/m"
    for key in methods.KEYS:
        for readings in (Readings(), Readings(loss_scale="mean", lr_policy="once", beta="paper_zero")):
            s = spec(key, readings=readings)
            for max_iter in (None, 5000):
                direct = prototxt.generate([s.method], prototxt.NetOptions(
                    out_prefix=run_dir, data=str(s.data_dir), aus=s.aus, batch_size=16, test_iter=31,
                    test_interval=250, snapshot=250, max_iter=max_iter or 4000, display=20, snapshot_prefix=run_dir,
                    seed=2, readings=readings))
                assert s.files(run_dir, max_iter) == direct, (key, readings, max_iter)
    text = spec("ldscmr").files(run_dir)["ldscmr_solver.prototxt"]
    assert f'snapshot_prefix: "{run_dir}/ldscmr"' in text and "<run>" not in text


def test_a_run_is_generated_once_for_its_files_code_and_dependencies(monkeypatch):
    calls = []
    real = prototxt.generate
    monkeypatch.setattr(prototxt, "generate", lambda chosen, opts: calls.append(opts.max_iter) or real(chosen, opts))
    run_spec._generated.cache_clear()
    s = spec("dscmr", until_flat=10000)
    s.files("/a"), s.code(), s.depends(), s.files("/b"), s.files("/a", 5000), s.files("/b", 5000)
    assert calls == [4000, 5000]
    # another data folder is the same nets: only the placeholders differ
    spec("dscmr", data="/elsewhere", until_flat=10000).code()
    assert calls == [4000, 5000]
    run_spec._generated.cache_clear()


def test_a_record_gives_back_its_run(tmp_path):
    data = tmp_path / "d"
    data.mkdir()
    (data / "manifest.json").write_text(json.dumps({"dataset": "synthau", "aus": [1, 2, 4], "splits": {}}))
    for fields in ({}, {"readings": Readings(lr_policy="once"), "until_flat": 10000, "every_snapshot": True}):
        s = spec("alexnet_admsr", data=data, **fields)
        record = json.loads(json.dumps(s.config()))
        assert RunSpec.of_record(record) == s
        assert RunSpec.of_record(record).code() == s.code() and RunSpec.of_record(record).depends() == s.depends()
    # the code does not depend on where the run's folders are; it does on what the run trains
    assert spec("alexnet").code() == spec("alexnet", data="/other").code() != spec("alexnet_admsr").code()

"""What one training run is, built once by au-reproduce from its command line and its experiment's plan
(tools/experiments/plans.py) and passed down unchanged to `caffe train`, the run's record and back
(RunSpec.of_record): the method, its derived dataset, the AUs, the schedule, the paper's readings
(dscmr/readings.py) and, for a run trained until flat, its cap.

A run's nets and solver are generated once (RunSpec.nets, with placeholders for its folders); the files
written into the run folder, its code fingerprint and its dependencies all come from that text.
"""
import functools
import hashlib
import math
from dataclasses import asdict, dataclass
from pathlib import Path

from dscmr import REPO, dataset, methods
from dscmr import readings as readings_
from tools.nets import prototxt


@dataclass(frozen=True)
class Schedule:
    iters: int            # max_iter
    batch_size: int
    points: int           # tests and snapshots spread evenly over the run (the curves' points)
    solver_mode: str = "CPU"
    seed: int = 1         # the solver's random_seed: weight initialisation and random mirroring

    @property
    def interval(self):
        return max(1, self.iters // self.points)


# What a run's numbers depend on besides its data: the C++ layers, the Caffe patches, and its own nets
# and solver as the generator writes them (with placeholders for its folders), so that a refactoring
# which changes no net leaves the runs current, and a generator change that shows only under a run's own
# options (its AUs, batch size, schedule, seed) does not. The audit flags a committed run whose code has
# changed since. A run records the code it starts with (code.txt), not the code on disk when it ends.
CODE = ("cpp_layers", "setup/patches")
RUN_DIR, DATA_DIR = "<run>", "<data>"
# The paper's layers by their Caffe type, and the sources each is built from (AdMSRLossLayer derives
# from MSRLossLayer). A run depends on the sources of the layers its nets use and on every other file
# of CODE but the gtests; on .cu files and setup/patches/gpu/ only when it trains on the GPU.
LAYER_SOURCES = {"Region": ("region_layer",), "MSRLoss": ("msr_loss_layer",),
                 "AdMSRLoss": ("ad_msr_loss_layer", "msr_loss_layer")}
NETS = "<nets>"    # RunSpec.depends()'s entry for the run's own nets and solver


def data_fingerprint(data_dir):
    """What the run was trained and tested on (dscmr.dataset.fingerprint): a run trained on other
    data is not reused, one on the same data built in another clone is."""
    return dataset.fingerprint(dataset.read_manifest(data_dir))


@dataclass(frozen=True)
class RunSpec:
    method: methods.Method
    data_dir: Path
    aus: tuple
    schedule: Schedule
    val_count: int                 # validation samples Caffe's test phase reads
    every_snapshot: bool = False   # evaluate every snapshot (the curves), not only the last
    readings: readings_.Readings = readings_.DEFAULT
    until_flat: int | None = None  # a cap: train schedule.iters, then on until flat, at most this

    @classmethod
    def of_record(cls, record):
        """The run a done.json or committed record describes (its data folder as recorded)."""
        return cls(methods.get(record["method"]), Path(record.get("data", DATA_DIR)), tuple(record["aus"]),
                   Schedule(**record["schedule"]), record["val_count"], record.get("every_snapshot", False),
                   readings_.of_record(record), record.get("until_flat"))

    def config(self):
        """What makes a run: with the default readings and a fixed length, the same keys as every run
        before the readings and the until-flat budget (so those runs stay the same runs)."""
        config = {"method": self.method.key, "data": str(Path(self.data_dir).resolve()),
                  "data_manifest": data_fingerprint(self.data_dir), "aus": list(self.aus),
                  "schedule": asdict(self.schedule), "val_count": self.val_count, "every_snapshot": self.every_snapshot}
        if self.readings.changed():
            config["readings"] = self.readings.changed()
        if self.until_flat:
            config["until_flat"] = self.until_flat
        return config

    def nets(self, max_iter=None):
        """{file name: text} of the run's train/val and deploy nets and its solver, its folders as RUN_DIR
        and DATA_DIR (max_iter: where this `caffe train` stops, when not the schedule's end: a segment of a
        run trained until flat). Generated once per spec and max_iter."""
        return _generated(self.method, self.aus, self.schedule, self.val_count, self.readings,
                          max_iter or self.schedule.iters)

    def files(self, run_dir, max_iter=None):
        """nets() as the run folder holds them: the placeholders replaced by its folders."""
        return {name: text.replace(RUN_DIR, str(run_dir)).replace(DATA_DIR, str(self.data_dir))
                for name, text in self.nets(max_iter).items()}

    def code(self):
        """The run's code fingerprint: CODE's files and its nets and solver."""
        digest = hashlib.sha256()
        for f in _code_files():
            digest.update(str(f.relative_to(REPO)).encode() + b"\0" + f.read_bytes())
        for name, text in sorted(self.nets().items()):
            digest.update(name.encode() + b"\0" + text.encode())
        return digest.hexdigest()[:16]

    def depends(self):
        """{file: short sha256} of what the run's numbers depend on, and NETS: the hash of its nets and
        solver. Finer than code(): a change to the Region layer leaves the runs of nets without one current."""
        texts = self.nets()
        used = {stem for kind, stems in LAYER_SOURCES.items() if any(f'type: "{kind}"' in t for t in texts.values())
                for stem in stems}
        others = {stem for stems in LAYER_SOURCES.values() for stem in stems} - used
        gpu = self.schedule.solver_mode == "GPU"
        found = {}
        for f in _code_files():
            path = f.relative_to(REPO)
            if "test" not in path.parts and f.stem not in others and \
                    (gpu or (f.suffix != ".cu" and "gpu" not in path.parts)):
                found[str(path)] = hashlib.sha256(f.read_bytes()).hexdigest()[:16]
        found[NETS] = hashlib.sha256("".join(f"{n}\0{t}" for n, t in sorted(texts.items())).encode()).hexdigest()[:16]
        return found


def _code_files():
    return [f for root in CODE for f in sorted((REPO / root).rglob("*")) if f.is_file()]


@functools.cache
def _generated(method, aus, schedule, val_count, readings, max_iter):
    return prototxt.generate([method], prototxt.NetOptions(
        out_prefix=RUN_DIR, data=DATA_DIR, aus=tuple(aus), batch_size=schedule.batch_size,
        test_iter=math.ceil(val_count / schedule.batch_size), test_interval=schedule.interval,
        snapshot=schedule.interval, max_iter=max_iter, display=max(1, min(20, schedule.interval // 4)),
        snapshot_prefix=RUN_DIR, solver_mode=schedule.solver_mode, seed=schedule.seed, readings=readings))

"""Caffe's own files (prototxt, solver, .caffemodel) read in Python before Caffe sees them.

Caffe answers a file it cannot use with a glog CHECK failure: the process aborts with a stack
trace. Every command reads these files through here instead, so a bad one is named in one line
(an InputError) and Caffe is only handed what it can load.
"""
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path

from dscmr.caffe_home import caffe_pb2
from dscmr.errors import InputError

GLOG_FATAL = re.compile(r"^F\d{4,8} [\d:.]+\s+\d+ [^\]]+\] (.*)$")   # glog: F[YYYY]MMDD time thread file:line]
PYTHON_ERROR = re.compile(r"^\w+(Error|Exception): ")   # e.g. a Python layer's module that does not import


def _read_bytes(path, kind):
    path = Path(path)
    if not path.exists():
        raise InputError(path, f"not found (expected {kind})")
    if path.is_dir():
        raise InputError(path, f"is a directory (expected {kind})")
    data = path.read_bytes()
    if not data or data.isspace():    # not strip(): that copies a 227 MB .caffemodel to find it is not empty
        raise InputError(path, f"is empty (expected {kind})")
    return data


def _read_text(path, message, kind):
    from google.protobuf import text_format

    data = _read_bytes(path, kind)
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        raise InputError(path, f"is a binary file, not {kind}") from None
    try:
        text_format.Merge(text, message)
    except text_format.ParseError as e:
        line = getattr(e, "GetLine", lambda: None)()
        raise InputError(path, f"is not {kind}: {str(e).split(' : ', 1)[-1]}", line) from None
    return message


def read_net(path):
    """The NetParameter of a net prototxt; one with no layer is refused."""
    net = _read_text(path, caffe_pb2().NetParameter(), "a Caffe net prototxt")
    if not net.layer and not net.layers:
        raise InputError(path, "holds no layer (expected a Caffe net prototxt)")
    return net


def read_solver(path):
    """The SolverParameter of a solver prototxt; one that names no net is refused."""
    solver = _read_text(path, caffe_pb2().SolverParameter(), "a Caffe solver prototxt")
    if not (solver.net or solver.train_net or solver.HasField("net_param")):
        raise InputError(path, "names no net (expected a Caffe solver prototxt with net: \"...\")")
    return solver


def read_weights(path):
    """The NetParameter of a binary .caffemodel with at least one trained layer. HDF5 weights
    (.h5, which Caffe also reads) are not parsed here: None."""
    from google.protobuf.message import DecodeError

    data = _read_bytes(path, "a .caffemodel")
    if str(path).endswith(".h5"):
        return None
    net = caffe_pb2().NetParameter()
    try:
        net.ParseFromString(data)
    except (DecodeError, RuntimeError):
        raise InputError(path, "is not a Caffe model (.caffemodel): it does not parse as one") from None
    if not any(layer.blobs for layer in [*net.layer, *net.layers]):
        raise InputError(path, "is not a Caffe model (.caffemodel): it holds no trained layer")
    return net


# Caffe's C++ module alone (dscmr/caffe_home.py: a probe of DSCMR with its weights 0.6 s, not 2.1 s)
_PROBE = """
import sys
from dscmr.caffe_home import caffe_pb2, extension
phase = getattr(caffe_pb2(), sys.argv[3])
extension().Net(sys.argv[1], *([sys.argv[2]] if sys.argv[2] else []), phase)
"""


def _start_probe(model, weights, phase):
    """The child process that builds the net (with its weights), running."""
    env = dict(os.environ, GLOG_minloglevel="2", OMP_NUM_THREADS="1")
    return subprocess.Popen([sys.executable, "-c", _PROBE, str(model), str(weights or ""), phase],
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env)


def _probe_verdict(probe, weights, shown):
    """Waits for the probe; InputError saying why Caffe could not build the net, if it could not."""
    _, stderr = probe.communicate()
    if probe.returncode == 0:
        return
    lines = stderr.splitlines()
    fatal = [m.group(1) for m in map(GLOG_FATAL.match, lines) if m]
    # Boost.Python reports a Python layer's exception first, then its own "returned NULL" SystemError
    python = [ln for ln in lines if PYTHON_ERROR.match(ln)]
    said = [ln for ln in lines if ln.strip() and not ln.startswith(("***", "    @", "WARNING: Logging before"))]
    reason = (fatal or python or said[-1:] or [f"exit status {probe.returncode}"])[0]
    if weights is not None and ("param" in reason or "shape" in reason or "Cannot copy" in reason):
        raise InputError(weights, f"does not fit {shown}: {reason.strip()}")
    raise InputError(shown, f"Caffe cannot build this net: {reason.strip()}")


def check_loads(model, weights=None, phase="TEST", shown_as=None):
    """Builds the net (with its weights) in a child process first, so that what would make Caffe
    abort here (an unknown layer, a missing bottom, weights of another shape) becomes one line.
    shown_as: the name of the net's file in messages (when `model` is a temporary copy)."""
    read_net(model)
    if weights is not None:
        read_weights(weights)
    _probe_verdict(_start_probe(model, weights, phase), weights, shown_as or model)


def without_random_init(net_param):
    """net_param with every filler (weight_filler, bias_filler, ... at any depth) constant, in place:
    a net about to be given its weights need not draw random ones first (AlexNet's 58 M Gaussian
    draws were 0.9 s of the 1.5 s it took to load). Returns net_param."""
    for field, value in net_param.ListFields():
        if field.message_type is not None:
            for message in (value if field.label == field.LABEL_REPEATED else [value]):
                if field.message_type.name == "FillerParameter":
                    message.Clear()
                    message.type = "constant"
                else:
                    without_random_init(message)
    return net_param


def written(net_param):
    """The path of a temporary prototxt holding net_param (the caller removes it)."""
    from google.protobuf import text_format

    with tempfile.NamedTemporaryFile("w", suffix=".prototxt", delete=False) as f:
        f.write(text_format.MessageToString(net_param))
    return f.name


class PendingNet:
    """load_net in two steps, so that the caller can work while check_loads's probe runs: the probe
    starts here, in its own process, and net() waits for it, then builds the net in this one. The
    weights must have been read by read_weights (a file that is no .caffemodel is named there)."""

    def __init__(self, model, weights=None, phase="TEST", shown_as=None, probe=True, shares=None):
        self.weights, self.phase, self.shares = weights, phase, shares
        self.shown = shown_as or model
        net_param = read_net(model) if isinstance(model, (str, Path)) else model
        # a copy only where Caffe is to build something other than the file
        self.temporary = weights is not None or shares is not None or not isinstance(model, (str, Path))
        if weights is not None or shares is not None:
            net_param = without_random_init(net_param)
        self.path = written(net_param) if self.temporary else str(model)
        self.probe = _start_probe(self.path, weights, phase) if probe else None

    def net(self):
        try:
            if self.probe is not None:
                _probe_verdict(self.probe, self.weights, self.shown)
            os.environ.setdefault("GLOG_minloglevel", "2")
            import caffe
            net = caffe.Net(self.path, *([str(self.weights)] if self.weights is not None else []),
                            getattr(caffe, self.phase))
            if self.shares is not None:
                net.share_with(self.shares)
            return net
        finally:
            self.cancel()

    def cancel(self):
        """Stops the probe, if it still runs, and removes the net's temporary copy, if any."""
        if self.probe is not None and self.probe.poll() is None:
            self.probe.kill()
            self.probe.communicate()
        if self.temporary:
            Path(self.path).unlink(missing_ok=True)


def load_net(model, weights=None, phase="TEST", shown_as=None, probe=True, shares=None):
    """caffe.Net(model, weights, phase) once check_loads has found that Caffe can build it; probe=False
    skips that check, for a net and weights that `caffe train` has just built and written itself.
    model: a prototxt or a NetParameter; shares: a loaded net whose trained layers this one takes
    (Net.share_with, layers of the same name) instead of weights. Given weights or shares, it is built
    without random initialisation."""
    if probe and weights is not None:
        read_weights(weights)
    return PendingNet(model, weights, phase, shown_as, probe, shares).net()

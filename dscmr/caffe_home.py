"""Where this clone's Caffe build lives: `make setup` (setup/install_launcher.sh) writes its directory
(bin/caffe, lib/, python/, BUILD_INFO) into .venv/caffe-home; and the two parts of its Python package
that load without the rest.

`import caffe` (and so `from caffe.proto import caffe_pb2`) runs the package's __init__, which imports
caffe.io and with it skimage and scipy: 1.7 s of which reading a prototxt or building a net needs
none. caffe_pb2() and extension() load their module alone, registered under its own name, so that a
later `import caffe` takes that module rather than loading a second copy.
"""
import importlib.util
import sys
from pathlib import Path

from dscmr import REPO


def caffe_home():
    """The directory of the Caffe build .venv/caffe-home names, or None before `make setup`."""
    pointer = REPO / ".venv" / "caffe-home"
    return Path(pointer.read_text().strip()) if pointer.is_file() else None


def _package():
    spec = importlib.util.find_spec("caffe")    # finds pycaffe on sys.path without running it
    if spec is None:
        raise ModuleNotFoundError("No module named 'caffe' (`make setup` builds it)", name="caffe")
    return Path(spec.submodule_search_locations[0])


def _load(name, locate):
    """sys.modules[name], loaded from the file locate() names the first time."""
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, locate())
        sys.modules[name] = module = importlib.util.module_from_spec(spec)
        try:
            spec.loader.exec_module(module)
        except BaseException:
            del sys.modules[name]
            raise
    return sys.modules[name]


def caffe_pb2():
    """caffe.proto.caffe_pb2: Caffe's protobuf messages (NetParameter, SolverParameter, Datum...)."""
    return _load("caffe.proto.caffe_pb2", lambda: _package() / "proto" / "caffe_pb2.py")


def extension():
    """caffe._caffe: Caffe's C++ module (Net, the solvers), without pycaffe's Python additions."""
    return _load("caffe._caffe", lambda: next(_package().glob("_caffe*.so")))

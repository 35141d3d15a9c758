"""Where this clone's Caffe build lives: `make setup` (setup/install_launcher.sh) writes its directory
(bin/caffe, lib/, python/, BUILD_INFO) into .venv/caffe-home."""
from pathlib import Path

from dscmr import REPO


def caffe_home():
    """The directory of the Caffe build .venv/caffe-home names, or None before `make setup`."""
    pointer = REPO / ".venv" / "caffe-home"
    return Path(pointer.read_text().strip()) if pointer.is_file() else None

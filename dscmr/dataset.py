"""A dataset written by data_prep: a directory holding manifest.json and one LMDB pair per split."""
import json
from pathlib import Path

from dscmr.errors import InputError

MANIFEST = "manifest.json"


def read_manifest(dataset):
    """The manifest of a data_prep dataset (a dict with at least "aus"), or InputError naming the
    file and how to build one."""
    path = Path(dataset) / MANIFEST
    if not path.is_file():
        raise InputError(path, f"not found: {dataset} is not a data_prep dataset (build one with `make data` "
                               "or python -m data_prep.build_synthau)")
    try:
        manifest = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(path, f"is not a data_prep manifest (not JSON: {e})") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("aus"), list):
        raise InputError(path, "is not a data_prep manifest (it has no \"aus\" list)")
    return manifest

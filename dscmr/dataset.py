"""A dataset written by data_prep: a directory holding manifest.json and one LMDB pair per split."""
import hashlib
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
                               "or au-build-synthau)")
    try:
        manifest = json.loads(path.read_text())
    except (UnicodeDecodeError, json.JSONDecodeError) as e:
        raise InputError(path, f"is not a data_prep manifest (not JSON: {e})") from None
    if not isinstance(manifest, dict) or not isinstance(manifest.get("aus"), list):
        raise InputError(path, "is not a data_prep manifest (it has no \"aus\" list)")
    return manifest


# Where a dataset came from and how the command was spelled: recorded in its manifest, but not what
# it is. A dataset rebuilt in another clone, or derived from a copy elsewhere, has the same content.
PROVENANCE = {"command", "source", "source_command"}


def fingerprint(manifest):
    """A short hash of what a manifest says the data is (splits, counts, labels, builder settings),
    without its provenance: equal for the same data built or derived anywhere."""
    def content(node):
        if isinstance(node, dict):
            return {k: content(v) for k, v in node.items() if k not in PROVENANCE}
        return node
    return hashlib.sha256(json.dumps(content(manifest), sort_keys=True).encode()).hexdigest()[:16]

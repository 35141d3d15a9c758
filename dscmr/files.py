"""Writing files so that a reader (or an interruption) never sees half of one."""
from pathlib import Path


def write_atomically(path, text):
    """Writes text to a temporary file beside path, then renames it over path: path holds the old
    text or the new, whole."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.replace(path)

"""Writing files: whole or not at all (a reader or an interruption never sees half of one), and JSON
laid out for people."""
import json
import re
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def replacing(path):
    """A temporary path beside path (same suffix, for writers that go by it) to write in the block;
    renamed over path when the block ends without error, so path holds the old file or the new
    one, whole, and removed otherwise."""
    path = Path(path)
    tmp = path.with_name(f".{path.stem}.tmp{path.suffix}")
    try:
        yield tmp
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)


def write_atomically(path, text):
    """Writes text to path through a temporary file (`replacing`)."""
    with replacing(path) as tmp:
        tmp.write_text(text)


def dump_json(obj):
    """JSON, indented, with lists of numbers or strings kept on one line."""
    text = json.dumps(obj, indent=1)
    # A JSON string holds no raw newline, so ",\n  " is always layout.
    return re.sub(r"\[\n\s*([^\[\]{}]*?)\n\s*\]", lambda m: "[" + re.sub(r",\n\s*", ", ", m.group(1)) + "]", text) + "\n"

"""Writing files: whole or not at all (a reader or an interruption never sees half of one), and JSON
laid out for people."""
import json
import os
import re
import threading
from contextlib import contextmanager
from pathlib import Path


@contextmanager
def naming(path):
    """An OSError raised in the block that names no file (a write that ran out of disk, inside a library's
    writer) is raised again naming path, so a command's one line says what it was writing."""
    try:
        yield
    except OSError as e:
        if e.filename is not None:
            raise
        raise OSError(e.errno, e.strerror or str(e), str(path)) from None


@contextmanager
def replacing(path):
    """A temporary path beside path (same suffix, for writers that go by it) to write in the block;
    renamed over path when the block ends without error, so path holds the old file or the new
    one, whole, and removed otherwise."""
    path = Path(path)
    # one per process and thread: two writers of one file (au-audit twice, two au-reproduce) never share it
    tmp = path.with_name(f".{path.stem}.tmp-{os.getpid()}-{threading.get_ident()}{path.suffix}")
    try:
        with naming(path):
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

"""Writing files: whole or not at all (a reader or an interruption never sees half of one), and JSON
laid out for people."""
import json
import re
from pathlib import Path


def write_atomically(path, text):
    """Writes text to a temporary file beside path, then renames it over path: path holds the old
    text or the new, whole."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text)
    tmp.replace(path)


def dump_json(obj):
    """JSON, indented, with lists of numbers or strings kept on one line."""
    text = json.dumps(obj, indent=1)
    # A JSON string holds no raw newline, so ",\n  " is always layout.
    return re.sub(r"\[\n\s*([^\[\]{}]*?)\n\s*\]", lambda m: "[" + re.sub(r",\n\s*", ", ", m.group(1)) + "]", text) + "\n"

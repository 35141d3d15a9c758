"""The CPU a number was computed on. A training run writes it into its log at every `caffe train`
it starts, because two runs of one training agree bit for bit only on the same build and CPU:
another CPU has oneDNN and OpenBLAS pick other kernels, which add in another order."""
import os
import re
from pathlib import Path


def cpuinfo(text=None):
    """vendor, family, model number, model name, clock and flags of the first CPU in /proc/cpuinfo
    (or in `text`); a field the kernel does not print is ''."""
    text = Path("/proc/cpuinfo").read_text() if text is None else text

    def field(name):
        m = re.search(rf"^{name}\s*:\s*(.*)$", text, re.M)
        return m.group(1).strip() if m else ""
    return {"vendor": field("vendor_id"), "family": field("cpu family"), "model_number": field("model"),
            "model": field("model name"), "mhz": field("cpu MHz"), "flags": set(field("flags").split())}


def describe(info=None, cores=None, environ=None):
    """One line: model name, family and model number, cores, widest vector ISA, and the user's
    OPENBLAS_CORETYPE (unset: the launcher's own choice, setup/openblas_coretype.py)."""
    info = cpuinfo() if info is None else info
    environ = os.environ if environ is None else environ
    isa = next((f for f in ("avx512f", "avx2") if f in info["flags"]), "no avx2")
    return (f"{info['model'] or 'unknown CPU'} (family {info['family'] or '?'}, model {info['model_number'] or '?'}), "
            f"{cores or os.cpu_count()} cores, {isa}, OPENBLAS_CORETYPE={environ.get('OPENBLAS_CORETYPE', 'unset')}")

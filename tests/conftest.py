import os
import sys
from pathlib import Path

# Quiet glog for pycaffe; the repository root makes python_layers/ and tests/ importable.
os.environ.setdefault("GLOG_minloglevel", "2")
sys.path.insert(0, str(Path(__file__).resolve().parent))
sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

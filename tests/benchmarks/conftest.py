"""Make the repository's ``benchmarks`` package importable (it is not installed, unlike handler/fakekube)."""

import sys
from pathlib import Path

REPO = str(Path(__file__).resolve().parents[2])
if REPO not in sys.path:
    sys.path.insert(0, REPO)

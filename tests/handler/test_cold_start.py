"""What a cold start imports: ``handler.app`` with an explicit upstream imports neither the
kubernetes package (~470 ms of imports) nor fakekube, httpx or websockets. (The import-graph checks
of all three packages are in ``tests/test_architecture.py``.)"""

from __future__ import annotations

import json
import os
import subprocess
import sys


def test_cold_start_imports_neither_kubernetes_nor_fakekube() -> None:
    """handler.app with an explicit upstream must not import the kubernetes package (~470 ms)."""
    code = (
        "import sys, handler.app; "
        "roots = ('kubernetes', 'fakekube', 'httpx', 'websockets'); "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in roots)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", "import json; " + code],
        env={**os.environ, "KUBERAY_APISERVER_UPSTREAM": "http://127.0.0.1:1"},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    assert json.loads(out) == []

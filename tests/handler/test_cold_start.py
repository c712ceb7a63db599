"""What a cold start imports, and what it spends on garbage collection.

``handler.app`` with an explicit upstream imports neither the kubernetes package (~470 ms of
imports) nor fakekube, httpx or websockets; nor, in the modes that do not use them, protobuf and
gnostic's messages (:mod:`kubeapi.openapiv2`, loaded on the first ``/openapi/v2`` request: see
:mod:`handler.backends`), ``cryptography`` (client-certificate modes only: :mod:`handler.tls`),
``joserfc`` (``oidc`` only) or uvicorn (client-certificate modes only). ``kuberay-apiserver
serve``'s own process (:mod:`handler.cli`, granian's supervisor) imports none of them either.
``handler.app`` builds the app with the collector off (:mod:`handler.app`). Timing itself is
measured in ``benchmarks/bench_coldstart.py``, not here; the import-graph checks of all three
packages are in ``tests/test_architecture.py``.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

#: Top-level packages (or modules) a gateway in a mode that does not need them must not import.
NOT_AT_START = (
    "kubernetes",
    "fakekube",
    "httpx",
    "websockets",
    "google.protobuf",
    "kubeapi.openapiv2",
    "kubeapi._gnostic",
    "cryptography",
    "joserfc",
    "uvicorn",
)


def _imported(statement: str, env: dict[str, str]) -> list[str]:
    """The modules of :data:`NOT_AT_START` (and their submodules) that a fresh interpreter has
    imported after running ``statement``."""
    code = (
        "import json, sys\n"
        f"{statement}\n"
        f"names = {NOT_AT_START!r}\n"
        "print(json.dumps(sorted(m for m in sys.modules "
        "if any(m == n or m.startswith(n + '.') for n in names))))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    return list(json.loads(out))


@pytest.mark.parametrize("mode", ["passthrough", "none", "token-review"])
def test_app_imports_only_what_its_mode_needs(mode: str) -> None:
    """``import handler.app`` (what granian's worker and serverless platforms run) with an
    explicit upstream imports none of :data:`NOT_AT_START`."""
    env = {"KUBERAY_APISERVER_UPSTREAM": "http://127.0.0.1:1", "KUBERAY_APISERVER_AUTHENTICATION": mode}
    assert _imported("import handler.app", env) == []


def test_serve_process_imports_none_of_them() -> None:
    """``kuberay-apiserver serve``'s process, which only checks the settings and supervises
    granian's workers, imports none of :data:`NOT_AT_START`, nor Litestar, pyreqwest or
    prometheus_client (each worker builds the app and imports them itself)."""
    imported = _imported(
        "import handler.cli, granian\n"
        "assert not {'litestar', 'pyreqwest', 'prometheus_client'} & {m.split('.')[0] for m in sys.modules}",
        {},
    )
    assert imported == []


def test_serve_refuses_a_broken_defaults_file(tmp_path: Path) -> None:
    """The defaults file is still checked before the workers start (now with its module imported
    only then): a file that does not load ends ``serve`` with exit status 1 and the file's error."""
    bad = tmp_path / "defaults.yaml"
    bad.write_text("rayClusterSpec: [unclosed\n")
    done = subprocess.run(
        [
            *(sys.executable, "-c", "from handler.cli import main; main()", "serve"),
            *("--host", "127.0.0.1", "--upstream", "http://127.0.0.1:1"),
            *("--authentication", "none", "--defaults", str(bad)),
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 1
    assert done.stderr.startswith("kuberay-apiserver: ")
    assert str(bad) in done.stderr


def test_openapi_v2_loads_protobuf_when_asked() -> None:
    """The lazy import is still there when needed: the ``/openapi/v2`` backend finds its module."""
    code = (
        "import asyncio, sys\n"
        "from handler import backends\n"
        "assert 'kubeapi.openapiv2' not in sys.modules\n"
        "from kubeapi import openapiv2\n"
        "assert openapiv2.negotiate(openapiv2.PROTOBUF) == 'protobuf'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_app_is_built_without_collections_and_frozen() -> None:
    """Building the app runs no garbage collection (the collector is off while importing; ~100
    young and ~10 middle-generation collections otherwise), leaves the collector on, and moves
    what was built to the permanent generation (``gc.freeze``)."""
    code = (
        "import gc, json, handler\n"  # the package itself (typing, importlib) is not handler.app
        "before = [s['collections'] for s in gc.get_stats()]\n"
        "import handler.app\n"
        "after = [s['collections'] for s in gc.get_stats()]\n"
        "print(json.dumps([before, after, gc.isenabled(), gc.get_freeze_count()]))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env={**os.environ, "KUBERAY_APISERVER_UPSTREAM": "http://127.0.0.1:1"},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    before, after, enabled, frozen = json.loads(out)
    # Loading handler/app.py's own code object may cross the young generation's threshold once
    # before its first line turns the collector off; with the collector on it is ~100 and ~10.
    assert after[0] - before[0] <= 1
    assert after[1:] == before[1:]
    assert enabled is True
    assert frozen > 50_000  # Litestar, the routes, ...: ~70,000 objects

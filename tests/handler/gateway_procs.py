"""Gateway processes for tests: ``kuberay-apiserver serve`` in front of a given upstream.

Imported by package name (``from tests.handler.gateway_procs import ...``), unlike conftest.py.
"""

from __future__ import annotations

import subprocess
from collections.abc import Callable

from tests.procs import free_port, start_server

#: Fast retry settings for the stub gateway: 3 retries at 50, 100, 200 ms, 5 s overall.
FAST_RETRY = {
    "KUBERAY_APISERVER_RETRY_BASE_DELAY": "0.05",
    "KUBERAY_APISERVER_RETRY_MAX_DELAY": "1",
    "KUBERAY_APISERVER_RETRY_OVERALL_TIMEOUT": "5",
}

#: ``factory(upstream, extra_args=None, env=None) -> gateway URL`` (the ``gateway_factory`` fixture).
GatewayFactory = Callable[..., str]


def serve_gateway(
    upstream: str, extra: list[str] | None = None, env: dict[str, str] | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    """Start ``kuberay-apiserver serve --upstream UPSTREAM [extra]`` on a free port; return
    ``(process, URL)`` once it answers /healthz.

    The gateway runs ``--authentication none`` (on loopback) unless ``extra`` names another mode:
    the tests that use this helper are about proxying, and the authentication tests
    (tests/handler/test_auth_*.py) pass their own ``--authentication``."""
    port = free_port()
    argv = ["kuberay-apiserver", "serve", "--host", "127.0.0.1", "--port", str(port), "--upstream", upstream]
    argv += ["--authentication", "none"]
    proc = start_server([*argv, *(extra or [])], port, env=env)
    return proc, f"http://127.0.0.1:{port}"

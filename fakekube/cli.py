"""The ``fakekube`` command: ``fakekube serve --host H --port P [--service-backend NS/NAME=URL ...]
[--crd FILE_OR_DIR ...] [--simulate-operator [--simulate-operator-delay SECONDS]]``.

``--simulate-operator`` runs the simulated kubelet and KubeRay operator (:mod:`fakekube.simulation`);
``--simulate-operator-delay`` is the Pod start-up delay in seconds (default 1).

``--crd`` installs CustomResourceDefinitions at start (YAML/JSON files or directories of them),
replacing the bundled Ray CRDs of the same name; an invalid CRD exits with status 1.

Serves :func:`fakekube.create_app` with granian's embedded (in-process, single event loop)
server, prints ``fakekube serving on http://H:P`` once listening, and runs until SIGINT/SIGTERM.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import importlib.util
import logging
import os
import signal
import sys
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from fakekube.crd.cel import MISSING_CEL
from fakekube.server import create_app
from fakekube.simulation import Simulation


def parse_backend(spec: str) -> tuple[str, str]:
    """``NS/NAME=URL`` (or ``NS/NAME:PORT=URL``) → ("NS/NAME", URL); raises argparse.ArgumentTypeError."""
    key, sep, url = spec.partition("=")
    if not sep or "/" not in key or not url.startswith(("http://", "https://")):
        raise argparse.ArgumentTypeError(f"expected NAMESPACE/NAME=http(s)://HOST:PORT, got {spec!r}")
    return key, url


def build_parser() -> argparse.ArgumentParser:
    """The argument parser of the ``fakekube`` command."""
    p = argparse.ArgumentParser(
        prog="fakekube", description="In-memory Kubernetes API server for ray.io kinds"
    )
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="serve the API over HTTP until stopped")
    s.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    s.add_argument("--port", type=int, default=8001, help="TCP port (default 8001)")
    s.add_argument(
        "--service-backend",
        action="append",
        type=parse_backend,
        default=[],
        metavar="NS/NAME=URL",
        help="forward services/NAME/proxy in NS to URL (repeatable)",
    )
    s.add_argument(
        "--history-size",
        type=int,
        default=10_000,
        help="changes kept for watch resumption and paging (default 10000)",
    )
    s.add_argument(
        "--crd",
        action="append",
        default=[],
        metavar="FILE_OR_DIR",
        help="install the CustomResourceDefinitions of a YAML/JSON file or directory (repeatable)",
    )
    s.add_argument(
        "--no-schemas",
        action="store_true",
        help="do not prune/default/validate Ray objects against the bundled CRD schemas",
    )
    s.add_argument(
        "--token-auth-file",
        default=None,
        metavar="FILE",
        help='authenticate bearer tokens from this kube-apiserver token CSV (token,user,uid,"g1,g2"); '
        "requests without a valid token get 401 (default: no authentication)",
    )
    s.add_argument(
        "--authorization-mode",
        default="AlwaysAllow",
        choices=["AlwaysAllow", "RBAC"],
        help="AlwaysAllow (default) or RBAC over the served roles and bindings (system:masters bypasses it)",
    )
    s.add_argument(
        "--api-audiences",
        default="",
        metavar="AUD[,AUD...]",
        help="the audiences tokens are valid for (TokenReview; default https://kubernetes.default.svc.cluster.local)",
    )
    s.add_argument(
        "--audit-log-path",
        default=None,
        metavar="FILE",
        help="append kube-apiserver audit events (Metadata level, JSON lines) of authenticated requests",
    )
    s.add_argument(
        "--simulate-operator",
        action="store_true",
        help="simulate the KubeRay operator and the kubelet (Ray Pods, Services, statuses, dashboard)",
    )
    s.add_argument(
        "--simulate-operator-delay",
        type=float,
        default=Simulation.pod_start_delay,
        metavar="SECONDS",
        help=f"simulated Pod start-up delay (default {Simulation.pod_start_delay})",
    )
    s.add_argument("--log-level", default="warning", choices=["debug", "info", "warning", "error"])
    return p


async def serve(
    host: str,
    port: int,
    backends: dict[str, str],
    history_size: int,
    log_level: str,
    schemas: bool = True,
    crds: Sequence[str] = (),
    auth: Mapping[str, Any] | None = None,
    simulation: Simulation | None = None,
) -> None:
    """Run the server until SIGINT/SIGTERM; ``crds`` are CRD files/directories to install;
    ``auth`` the authentication/authorization options of :func:`fakekube.create_app`
    (``token_auth_file``, ``authorization_mode``, ``api_audiences``); ``simulation``: the
    simulated operator's settings (None: off)."""
    from granian.constants import Interfaces
    from granian.http import HTTP1Settings
    from granian.log import LogLevels
    from granian.server.embed import Server

    from kubeapi.headlimit import MAX_HEADER_BYTES

    # Young collections every 10,000 net allocations instead of 700: a create allocates thousands
    # of short-lived containers, and at the default each burst of young collections also promotes
    # enough to trigger full ones that walk the whole (growing) store. In-process create loop of
    # 20,000 RayClusters: ~2,900-4,100/s falling as the store grows → ~4,400-4,800/s flat, same
    # peak RSS (342 MB). Only the server process is tuned; create_app leaves the GC alone.
    gc.set_threshold(10_000, *gc.get_threshold()[1:])
    paths = [Path(c) for c in crds]
    app = create_app(
        service_backends=backends,
        history_size=history_size,
        schemas=schemas,
        crds=paths,
        simulate_operator=simulation or False,
        **dict(auth or {}),
    )
    # The CRDs, schemas and bootstrap objects live as long as the server: out of the collector's
    # sight (gc.freeze), a full collection walks only what requests made. A full collection holds
    # the GIL, so it stalls the loop even when it runs in a write's worker thread
    # (fakekube._endpoints.offload): with ~94,000 startup objects, 90-400 ms each.
    gc.collect()
    gc.freeze()
    url = f"http://{host}:{port}"
    app.on_startup.append(lambda: print(f"fakekube serving on {url}", flush=True))
    server = Server(
        app,
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        log_level=LogLevels(log_level),
        log_enabled=log_level == "debug",
        # granian's defaults (backlog 128, backpressure = backlog) refuse connections past 128,
        # far below a real apiserver: the watch benchmark holds 1,000 watches open at once.
        backlog=4096,
        backpressure=4096,
        # Room for Go's 1 MiB head limit, so a longer head reaches the app and gets its 431 Status
        # (kubeapi.headlimit) instead of hyper's empty one.
        http1_settings=HTTP1Settings(max_buffer_size=2 * MAX_HEADER_BYTES),
    )
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, server.stop)
    await server.serve()


def _auth_options(args: argparse.Namespace) -> dict[str, Any]:
    """The create_app options of the authentication/authorization flags."""
    out: dict[str, Any] = {
        "token_auth_file": args.token_auth_file,
        "authorization_mode": args.authorization_mode,
    }
    if args.audit_log_path:
        out["audit_log_path"] = args.audit_log_path
    if args.api_audiences:
        out["api_audiences"] = [a for a in args.api_audiences.split(",") if a]
    return out


def _loop_factory() -> Callable[[], asyncio.AbstractEventLoop] | None:
    """uvloop's event loop where it is installed (a runtime dependency, not on Windows), else
    asyncio's (None). fakekube's serving is mostly event-loop scheduling (every watch is a
    coroutine woken per event; every request a few futures), which uvloop does in C: as granian's
    own CLI and the gateway (``handler/cli.py``) do with its default ``auto`` loop."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a dependency wherever it builds
        return None
    return uvloop.new_event_loop


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point; returns the exit status."""
    args = build_parser().parse_args(argv)
    logging.getLogger("_granian").setLevel(logging.ERROR)
    if args.command == "serve":
        if importlib.util.find_spec("cel") is None:  # the Ray CRDs' rules need it on first use
            print(f"fakekube: {MISSING_CEL}", file=sys.stderr)
            return 2
        try:
            with asyncio.Runner(loop_factory=_loop_factory()) as runner:
                runner.run(
                    serve(
                        args.host,
                        args.port,
                        dict(args.service_backend),
                        args.history_size,
                        args.log_level,
                        not args.no_schemas,
                        args.crd,
                        _auth_options(args),
                        Simulation(pod_start_delay=args.simulate_operator_delay)
                        if args.simulate_operator
                        else None,
                    )
                )
        except (OSError, ValueError) as e:
            print(f"fakekube: {e}", file=sys.stderr)
            return 1
        # Leave without interpreter finalization: granian's server threads can still call into
        # Python while it tears down the (CRD-sized) heap, which aborts with a Rust panic (SIGABRT)
        # now and then; a stopped server has nothing left to flush but stdio.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(0)
    return 2

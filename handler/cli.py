"""``kuberay-apiserver``: ``serve`` the gateway, or run a ``dev`` sandbox over fakekube.

``serve`` options each have an environment variable (``--token-file`` ↔
``KUBERAY_APISERVER_TOKEN_FILE``, see :mod:`handler.settings`); the command line wins. The
settings reach granian's worker processes as those variables, and each worker builds its app in
:mod:`handler.app`. ``dev`` starts ``fakekube serve`` on a free loopback port as a child process
(the gateway meets it over HTTP, exactly as it meets a real API server) with the simulated
KubeRay operator on (``fakekube serve --simulate-operator``: Ray Pods, head Services, statuses;
``--simulate-operator-delay`` sets the Pod start-up delay) and the gateway on 127.0.0.1:31888
in front of it, and prints the curl lines to try.
"""

from __future__ import annotations

import argparse
import logging.config
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import replace

from handler.credentials import CredentialsError, resolve
from handler.defaults import DefaultsError
from handler.defaults import load as load_defaults
from handler.logs import dict_config
from handler.settings import ENV_PREFIX, Settings, SettingsError

DEV_PORT = 31888


def _env_default(env: Settings, name: str) -> str:
    return f"(env {ENV_PREFIX}{name.upper()}, default {getattr(Settings(), name)!r})"


def _parser(env: Settings) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="kuberay-apiserver", description=__doc__.split("\n")[0])
    sub = p.add_subparsers(dest="command", required=True)
    s = sub.add_parser("serve", help="serve the gateway in front of a Kubernetes API server")
    s.add_argument("--host", default=env.host, help=_env_default(env, "host"))
    s.add_argument("--port", type=int, default=env.port, help=_env_default(env, "port"))
    s.add_argument("--workers", type=int, default=env.workers, help=_env_default(env, "workers"))
    s.add_argument(
        "--kubeconfig", default=env.kubeconfig, help="kubeconfig file " + _env_default(env, "kubeconfig")
    )
    s.add_argument(
        "--context", default=env.context, help="kubeconfig context " + _env_default(env, "context")
    )
    s.add_argument(
        "--in-cluster",
        action="store_true",
        default=env.in_cluster,
        help="use the pod's service account " + _env_default(env, "in_cluster"),
    )
    s.add_argument("--upstream", default=env.upstream, help="API server URL " + _env_default(env, "upstream"))
    s.add_argument(
        "--token-file", default=env.token_file, help="bearer token file " + _env_default(env, "token_file")
    )
    s.add_argument("--ca-file", default=env.ca_file, help="CA bundle (PEM) " + _env_default(env, "ca_file"))
    s.add_argument(
        "--cors-allow-origin",
        action="append",
        default=None,
        help="allow this browser origin (repeatable; CORS is off by default) "
        + _env_default(env, "cors_allow_origin"),
    )
    _common(s, env)
    d = sub.add_parser("dev", help="fakekube and the gateway together on 127.0.0.1 (a laptop sandbox)")
    d.add_argument("--port", type=int, default=DEV_PORT, help=f"gateway port (default {DEV_PORT})")
    d.add_argument(
        "--simulate-operator-delay",
        type=float,
        default=1.0,
        metavar="SECONDS",
        help="how long a simulated Ray Pod takes to start (default 1.0)",
    )
    _common(d, env)
    return p


def _common(p: argparse.ArgumentParser, env: Settings) -> None:
    p.add_argument(
        "--defaults",
        default=env.defaults,
        metavar="FILE",
        help="default values for Ray objects (YAML) " + _env_default(env, "defaults"),
    )
    p.add_argument(
        "--field-selector-fields",
        default=None,
        metavar="F1,F2",
        help="fields the gateway evaluates in fieldSelector itself "
        + _env_default(env, "field_selector_fields"),
    )
    p.add_argument(
        "--watch-fanout",
        action=argparse.BooleanOptionalAction,
        default=env.watch_fanout,
        help="identical concurrent watches share one upstream watch " + _env_default(env, "watch_fanout"),
    )
    p.add_argument(
        "--log-level",
        default=env.log_level,
        choices=["debug", "info", "warning", "error"],
        help=_env_default(env, "log_level"),
    )
    p.add_argument(
        "--log-json", action="store_true", default=env.log_json, help=_env_default(env, "log_json")
    )


def run(settings: Settings) -> None:
    """Serve ``settings`` with granian (blocks until SIGINT/SIGTERM); raises CredentialsError (and
    SettingsError for an HTTP/1 buffer below 8192 bytes) early.

    granian's default event loop (``auto``) is uvloop, a runtime dependency, where it is installed
    (not on Windows), else asyncio's: the proxy's per-request work is mostly event-loop
    scheduling, which uvloop does in C.
    """
    from granian import Granian
    from granian.constants import Interfaces
    from granian.http import HTTP1Settings
    from granian.log import LogLevels

    if settings.http1_buffer_bytes < 8192:  # hyper's minimum; granian would panic in every worker
        raise SettingsError(
            f"{ENV_PREFIX}HTTP1_BUFFER_BYTES={settings.http1_buffer_bytes} is below the minimum of 8192"
        )
    resolve(settings)  # fail now, with a clear message, rather than in every worker
    if settings.defaults:
        load_defaults(settings.defaults)  # same: a broken defaults file stops the start
    os.environ.update(settings.to_env())
    metrics_dir = None
    if settings.workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Workers share their counters through files so any worker's /metrics shows the total.
        metrics_dir = tempfile.TemporaryDirectory(prefix="kuberay-apiserver-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir.name
    config = dict_config(settings.log_level, settings.log_json)
    logging.config.dictConfig(config)
    Granian(
        "handler.app:app",
        address=settings.host,
        port=settings.port,
        interface=Interfaces.ASGI,
        workers=settings.workers,
        log_level=LogLevels(settings.log_level),
        log_dictconfig=config,
        websockets=True,
        http1_settings=HTTP1Settings(max_buffer_size=settings.http1_buffer_bytes),
    ).serve()
    if metrics_dir is not None:
        metrics_dir.cleanup()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_healthy(url: str, proc: subprocess.Popen[bytes], timeout: float = 30.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"fakekube exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1) as r:
                if r.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.1)
    raise RuntimeError(f"fakekube at {url} not healthy after {timeout}s")


#: A minimal RayCluster for the printed curl lines (head group only; the same shape as KubeRay's sample).
DEV_CLUSTER = (
    '{"apiVersion":"ray.io/v1","kind":"RayCluster","metadata":{"name":"raycluster-kuberay"},'
    '"spec":{"headGroupSpec":{"rayStartParams":{},"template":{"spec":{"containers":'
    '[{"name":"ray-head","image":"rayproject/ray:2.52.0"}]}}}}}'
)


def dev_instructions(url: str) -> str:
    """The lines ``kuberay-apiserver dev`` prints: commands to try against the gateway at ``url``.

    Each ``curl`` line is complete and copy-pasteable (tests run them in order).
    """
    api = f"{url}/apis/ray.io/v1/namespaces/default/rayclusters"
    return "\n".join(
        [
            f"kuberay-apiserver dev: gateway on {url} (over an in-memory fakekube)",
            "Try:",
            f"  curl -s -X POST {api} -H 'Content-Type: application/json' -d '{DEV_CLUSTER}'",
            f"  curl -s {api}",
            f"  curl -s {api}/raycluster-kuberay",
            f"  curl -s -X DELETE {api}/raycluster-kuberay",
            f"  .venv/bin/kubectl --server {url} get rayclusters",
            "Press Ctrl-C to stop.",
        ]
    )


def dev(
    port: int, log_level: str, log_json: bool, base: Settings | None = None, pod_start_delay: float = 1.0
) -> None:
    """Run fakekube (child process, simulated KubeRay operator on) and the gateway on
    127.0.0.1:``port`` until interrupted.

    ``base`` carries the other gateway settings (defaults file, field selector fields);
    ``pod_start_delay`` (seconds) is the simulated Pods' start-up time.
    """
    fk_port = _free_port()
    fk_url = f"http://127.0.0.1:{fk_port}"
    # A child process, not an import: the gateway meets fakekube over HTTP as it meets a real API server.
    proc = subprocess.Popen(
        [
            *(sys.executable, "-m", "fakekube", "serve", "--host", "127.0.0.1", "--port", str(fk_port)),
            *("--simulate-operator", "--simulate-operator-delay", str(pod_start_delay)),
        ]
    )
    try:
        _wait_healthy(fk_url, proc)
        print(dev_instructions(f"http://127.0.0.1:{port}"), flush=True)
        settings = replace(
            base or Settings(),
            host="127.0.0.1",
            port=port,
            upstream=fk_url,
            log_level=log_level,
            log_json=log_json,
        )
        run(settings)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point of the ``kuberay-apiserver`` console script; exits 2 on bad settings."""
    try:
        env = Settings.from_env()
    except SettingsError as e:
        sys.exit(f"kuberay-apiserver: {e}")
    args = _parser(env).parse_args(argv)
    fields_arg = args.field_selector_fields
    env = replace(
        env,
        defaults=args.defaults,
        watch_fanout=args.watch_fanout,
        field_selector_fields=tuple(f.strip() for f in fields_arg.split(",") if f.strip())
        if fields_arg is not None
        else env.field_selector_fields,
    )
    try:
        if args.command == "dev":
            dev(args.port, args.log_level, args.log_json, env, args.simulate_operator_delay)
            return
        settings = replace(
            env,
            host=args.host,
            port=args.port,
            workers=args.workers,
            kubeconfig=args.kubeconfig,
            context=args.context,
            in_cluster=args.in_cluster,
            upstream=args.upstream,
            token_file=args.token_file,
            ca_file=args.ca_file,
            cors_allow_origin=tuple(args.cors_allow_origin)
            if args.cors_allow_origin
            else env.cors_allow_origin,
            log_level=args.log_level,
            log_json=args.log_json,
        )
        run(settings)
    except (CredentialsError, DefaultsError, SettingsError) as e:
        sys.exit(f"kuberay-apiserver: {e}")

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
import ipaddress
import logging.config
import math
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from handler.auth.modes import CLIENT_CERTIFICATE_MODES, build_authenticator
from handler.credentials import CredentialsError, resolve
from handler.lifecycle import request_drain
from handler.logs import dict_config
from handler.settings import ENV_PREFIX, POD_SECURITY_LEVELS, Settings, SettingsError
from handler.tls import CertificateWatcher, TLSConfigError, server_context, sighup_self

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
    _identity(s, env)
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


#: The identity options of ``serve`` (issue 12, README "Security"): Settings field → help text.
#: Each is ``--FIELD-WITH-DASHES`` on the command line and ``KUBERAY_APISERVER_FIELD`` in the env.
IDENTITY_OPTIONS: dict[str, str] = {
    "authentication": "how callers are authenticated: "
    + "passthrough | token-review | oidc | client-certificate | request-header | none",
    "allow_unauthenticated": "let --authentication none serve on a non-loopback --host",
    "token_audience": "token-review: the audience asked for in each TokenReview",
    "authentication_cache_ttl": "seconds a token's review is reused",
    "authorization_cache_allowed_ttl": "seconds an allowed SubjectAccessReview is reused",
    "authorization_cache_denied_ttl": "seconds a denied SubjectAccessReview is reused",
    "oidc_issuer_url": "oidc: the issuer URL (https; discovery at /.well-known/openid-configuration)",
    "oidc_client_id": "oidc: the audience tokens must carry",
    "oidc_username_claim": "oidc: the claim naming the user",
    "oidc_username_prefix": "oidc: prefix added to the user name",
    "oidc_groups_claim": "oidc: the claim listing the groups",
    "oidc_groups_prefix": "oidc: prefix added to each group",
    "oidc_required_claims": "oidc: key=value pairs (comma-separated) every token must carry",
    "oidc_ca_file": "oidc: CA bundle (PEM) for the issuer",
    "oidc_signing_algs": "oidc: accepted signing algorithms (comma-separated)",
    "client_ca_file": "client-certificate: CA bundle (PEM) client certificates must chain to",
    "requestheader_client_ca_file": "request-header: CA bundle the front proxy's certificate must chain to",
    "requestheader_allowed_names": "request-header: allowed front proxy certificate CNs (comma-separated)",
    "requestheader_username_headers": "request-header: headers naming the user (comma-separated)",
    "requestheader_group_headers": "request-header: headers naming the groups (comma-separated)",
    "requestheader_extra_headers_prefix": "request-header: prefixes of extra headers (comma-separated)",
    "requestheader_uid_headers": "request-header: headers naming the uid (comma-separated)",
    "tls_cert_file": "serve TLS with this certificate (PEM; reloaded when it changes)",
    "tls_private_key_file": "the private key of --tls-cert-file (PEM)",
    "accept_hosts": "regular expression the request's Host (without port) must match in full "
    + "(default: loopback names and the listen address)",
}


def _identity(p: argparse.ArgumentParser, env: Settings) -> None:
    """Add the :data:`IDENTITY_OPTIONS` to ``p`` (defaults from ``env``)."""
    for name, text in IDENTITY_OPTIONS.items():
        flag = "--" + name.replace("_", "-")
        default = getattr(env, name)
        if isinstance(default, bool):
            p.add_argument(
                flag, action="store_true", default=default, help=text + " " + _env_default(env, name)
            )
        else:
            kind = float if isinstance(default, float) else str
            p.add_argument(flag, type=kind, default=default, help=text + " " + _env_default(env, name))


def is_loopback(host: str) -> bool:
    """Whether listen address ``host`` is a loopback one (``localhost``, 127.0.0.0/8, ``::1``)."""
    if host.strip("[]").lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def refuse_unauthenticated(settings: Settings) -> str | None:
    """The one-line refusal when ``settings`` would serve ``none`` on a non-loopback address
    without ``allow_unauthenticated``; None when it may start."""
    if settings.authentication != "none" or settings.allow_unauthenticated or is_loopback(settings.host):
        return None
    return (
        f"kuberay-apiserver: refusing --authentication none on non-loopback address {settings.host}: "
        "anyone who reaches it would act with the gateway's credentials "
        "(pass --allow-unauthenticated to do so anyway)"
    )


def check_identity_settings(settings: Settings) -> None:
    """Raise SettingsError for an unknown ``--authentication`` mode or an ``--accept-hosts`` that is
    not a regular expression (checked before the workers start)."""
    from handler.auth.hosts import HostFilter
    from handler.auth.modes import get_mode

    get_mode(settings.authentication)
    try:
        HostFilter(settings.accept_hosts, settings.host)
    except re.error as e:
        raise SettingsError(
            f"--accept-hosts {settings.accept_hosts!r} is not a regular expression: {e}"
        ) from None


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
        "--pod-security",
        default=env.pod_security,
        choices=POD_SECURITY_LEVELS,
        help="Pod Security Standards level checked on the pod templates of Ray objects "
        + _env_default(env, "pod_security"),
    )
    p.add_argument(
        "--max-watch-seconds",
        type=int,
        default=env.max_watch_seconds,
        help="cap every watch's timeoutSeconds (and set it when absent) so watches end before the "
        "platform's request timeout; 0: no cap " + _env_default(env, "max_watch_seconds"),
    )
    p.add_argument(
        "--shutdown-grace-seconds",
        type=float,
        default=env.shutdown_grace_seconds,
        help="on SIGTERM/SIGINT: end watches, let short requests finish, kill workers after this "
        + _env_default(env, "shutdown_grace_seconds"),
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


def check_defaults(path: str) -> None:
    """Load the defaults file ``path`` as each worker will; raise SettingsError with
    :class:`handler.defaults.DefaultsError`'s message when it does not load.

    :mod:`handler.defaults` (its object hook, hence Litestar) is imported here, only when a
    defaults file is given: the process running :func:`run` only checks settings and supervises
    granian's workers, which build the app themselves (``tests/handler/test_cold_start.py``).
    """
    from handler.defaults import DefaultsError, load

    try:
        load(path)
    except DefaultsError as e:
        raise SettingsError(str(e)) from None


def run(settings: Settings) -> None:
    """Serve ``settings`` with granian (blocks until SIGINT/SIGTERM); raises CredentialsError (and
    SettingsError for an HTTP/1 buffer below 8192 bytes) early.

    granian's default event loop (``auto``) is uvloop, a runtime dependency, where it is installed
    (not on Windows), else asyncio's: the proxy's per-request work is mostly event-loop
    scheduling, which uvloop does in C.
    """
    from granian import Granian
    from granian.constants import Interfaces, SSLProtocols
    from granian.http import HTTP1Settings
    from granian.log import LogLevels

    if settings.http1_buffer_bytes < 8192:  # hyper's minimum; granian would panic in every worker
        raise SettingsError(
            f"{ENV_PREFIX}HTTP1_BUFFER_BYTES={settings.http1_buffer_bytes} is below the minimum of 8192"
        )
    check_tls(settings)
    if settings.authentication in _SELF_CONTAINED_MODES:
        build_authenticator(settings)  # a bad --oidc-*/CA file stops the start here, not in each worker
    resolve(settings)  # fail now, with a clear message, rather than in every worker
    check_identity_settings(settings)  # same: an unknown mode or a broken --accept-hosts
    if settings.defaults:
        check_defaults(settings.defaults)  # same: a broken defaults file stops the start
    os.environ.update(settings.to_env())
    metrics_dir = None
    if settings.workers > 1 and not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        # Workers share their counters through files so any worker's /metrics shows the total.
        metrics_dir = tempfile.TemporaryDirectory(prefix="kuberay-apiserver-metrics-")
        os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir.name
    config = dict_config(settings.log_level, settings.log_json)
    logging.config.dictConfig(config)
    ca_field = CLIENT_CERTIFICATE_MODES.get(settings.authentication)
    if ca_field is not None:
        # The peer certificate must reach the app: uvicorn, not granian (handler.tls).
        from handler import _uvicorn_tls

        _uvicorn_tls.serve(
            "handler.app:app",
            settings.host,
            settings.port,
            settings.workers,
            settings.tls_cert_file,
            settings.tls_private_key_file,
            getattr(settings, ca_field),
            settings.log_level,
            config,
            settings.shutdown_grace_seconds,
        )
    else:
        tls: dict[str, object] = {}
        watcher = None
        if settings.tls_cert_file:
            cert, key = settings.tls_cert_file, settings.tls_private_key_file
            tls = {"ssl_cert": Path(cert), "ssl_key": Path(key), "ssl_protocol_min": SSLProtocols.tls12}
            # granian reads the files when a worker starts: a change respawns the workers (SIGHUP).
            watcher = CertificateWatcher([cert, key], sighup_self, lambda: server_context(cert, key))
            watcher.start()
        server = Granian(
            "handler.app:app",
            address=settings.host,
            port=settings.port,
            interface=Interfaces.ASGI,
            workers=settings.workers,
            log_level=LogLevels(settings.log_level),
            log_dictconfig=config,
            websockets=True,
            http1_settings=HTTP1Settings(max_buffer_size=settings.http1_buffer_bytes),
            workers_kill_timeout=max(1, math.ceil(settings.shutdown_grace_seconds)),
            **tls,  # type: ignore[arg-type]
        )
        server.on_startup(lambda: drain_on_signals(server))
        server.serve()
        if watcher is not None:
            watcher.stop()
    if metrics_dir is not None:
        metrics_dir.cleanup()


def drain_on_signals(server: Any) -> None:
    """Make SIGTERM and SIGINT drain before granian stops: each worker first gets
    :data:`handler.lifecycle.DRAIN_SIGNAL` (``/readyz`` 503, open watches end cleanly), then
    granian's own interrupt handler runs (workers stop accepting, finish short requests, and are
    killed after ``workers_kill_timeout``, the grace period). Installed from granian's startup hook,
    after granian set its own handlers (granian/server/common.py ``startup``)."""
    interrupt = server.signal_handler_interrupt

    def on_signal(signum: int, frame: object) -> None:
        for worker in list(getattr(server, "wrks", ())):
            inner = getattr(worker, "inner", None)
            pid = getattr(inner, "pid", None)
            if pid:
                request_drain(pid)
        interrupt()

    for sig in (signal.SIGTERM, signal.SIGINT):
        signal.signal(sig, on_signal)


#: Modes whose authenticator needs no upstream client, so ``run`` builds it once before serving.
_SELF_CONTAINED_MODES = ("oidc", "client-certificate", "request-header")


def check_tls(settings: Settings) -> None:
    """Raise SettingsError unless the TLS settings can serve: the certificate and key are given
    together and load, and a client-certificate mode has both TLS and its CA file."""
    cert, key = settings.tls_cert_file, settings.tls_private_key_file
    if bool(cert) != bool(key):
        raise SettingsError("--tls-cert-file and --tls-private-key-file go together")
    ca_field = CLIENT_CERTIFICATE_MODES.get(settings.authentication)
    if ca_field is not None:
        if not cert:
            raise SettingsError(f"--authentication {settings.authentication} needs --tls-cert-file")
        if not getattr(settings, ca_field):
            raise SettingsError(
                f"--authentication {settings.authentication} needs --{ca_field.replace('_', '-')}"
            )
    if cert:
        try:
            server_context(cert, key, getattr(settings, ca_field) if ca_field else None)
        except TLSConfigError as e:
            raise SettingsError(str(e)) from e


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
            authentication="none",
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
        pod_security=args.pod_security,
        max_watch_seconds=args.max_watch_seconds,
        shutdown_grace_seconds=args.shutdown_grace_seconds,
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
            **{name: getattr(args, name) for name in IDENTITY_OPTIONS},
        )
        refusal = refuse_unauthenticated(settings)
        if refusal is not None:
            print(refusal, file=sys.stderr)
            sys.exit(2)
        run(settings)
    except (CredentialsError, SettingsError) as e:
        sys.exit(f"kuberay-apiserver: {e}")

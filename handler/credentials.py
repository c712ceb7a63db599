"""Where the upstream API server is and how the gateway authenticates to it.

Three sources, resolved once at start-up by :func:`resolve`:

- explicit: ``--upstream URL`` with an optional ``--token-file`` (bearer token, re-read when the
  file changes) and ``--ca-file`` (PEM bundle);
- in-cluster: the pod's service account, as client-go's ``rest.InClusterConfig``
  (k8s.io/client-go/rest/config.go): ``https://$KUBERNETES_SERVICE_HOST:$KUBERNETES_SERVICE_PORT``,
  token and CA from ``/var/run/secrets/kubernetes.io/serviceaccount``; the projected token is
  rotated by the kubelet, so it is re-read when the file changes;
- kubeconfig: the current or a named context (bearer token, exec/auth-provider token, client
  certificate and key, CA bundle, ``insecure-skip-tls-verify``). Parsing kubeconfig is the
  ``kubernetes`` package's job; it is imported here, lazily, only on this path (its import costs
  ~470 ms of cold start).

The caller's own ``Authorization`` is never used: the gateway speaks with these credentials.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from handler.settings import Settings

SERVICE_ACCOUNT_DIR = Path("/var/run/secrets/kubernetes.io/serviceaccount")


class CredentialsError(RuntimeError):
    """The configured credentials cannot be loaded (missing file, bad kubeconfig, no context...)."""


class TokenSource:
    """A bearer token provider; ``token()`` returns the current token or None (no auth header)."""

    def token(self) -> str | None:
        """The bearer token to send now, without the ``Bearer`` prefix."""
        return None


class StaticToken(TokenSource):
    """A token fixed at start-up."""

    def __init__(self, value: str | None) -> None:
        self._value = value

    def token(self) -> str | None:
        """The fixed token."""
        return self._value


class FileToken(TokenSource):
    """A token read from ``path`` and re-read when the file's mtime or size changes.

    The file is checked at most every ``check_interval`` seconds (default 1 s), so a rotated
    service-account token is picked up within that time without a ``stat`` on every request.
    Raises CredentialsError at construction when the file cannot be read.
    """

    def __init__(self, path: str | Path, check_interval: float = 1.0) -> None:
        self._path = Path(path)
        self._interval = check_interval
        self._lock = threading.Lock()
        self._stamp: tuple[float, int] | None = None
        self._checked = 0.0
        self._value = ""
        try:
            self._reload()
        except OSError as e:
            raise CredentialsError(f"cannot read token file {self._path}: {e}") from None

    def _reload(self) -> None:
        st = os.stat(self._path)
        stamp = (st.st_mtime, st.st_size)
        if stamp != self._stamp:
            self._value = self._path.read_text().strip()
            self._stamp = stamp

    def token(self) -> str | None:
        """The current token; a file that vanished keeps the last value (kubelet swaps it atomically)."""
        now = time.monotonic()
        if now - self._checked >= self._interval:
            with self._lock:
                self._checked = now
                with contextlib.suppress(OSError):
                    self._reload()
        return self._value or None


class RefreshingToken(TokenSource):
    """A kubeconfig token whose provider (exec plugin, auth-provider) can refresh it.

    ``refresh`` is the ``kubernetes`` client's ``refresh_api_key_hook``; it is called at most every
    ``interval`` seconds (it reloads the credential only when its ``expiry`` passed) and updates
    ``api_key`` (a dict holding ``"BearerToken": "Bearer ..."``).
    """

    def __init__(self, config: Any, interval: float = 10.0) -> None:
        self._config = config
        self._interval = interval
        self._last = time.monotonic()
        self._lock = threading.Lock()

    def token(self) -> str | None:
        """The current token from the client configuration, refreshed when due."""
        hook: Callable[[Any], None] | None = getattr(self._config, "refresh_api_key_hook", None)
        if hook is not None and time.monotonic() - self._last >= self._interval:
            with self._lock:
                self._last = time.monotonic()
                hook(self._config)
        return _bearer(_api_key(self._config))


@dataclass(frozen=True)
class UpstreamCredentials:
    """The upstream's base URL (no trailing slash) and how to authenticate to it.

    ``ca_pem`` trusts an extra CA bundle (PEM bytes); ``identity_pem`` is a client certificate
    followed by its private key (PEM bytes); ``insecure`` skips TLS verification.
    """

    url: str
    token: TokenSource
    ca_pem: bytes | None = None
    identity_pem: bytes | None = None
    insecure: bool = False


def _api_key(config: Any) -> str | None:
    """The kubeconfig token as the ``kubernetes`` client stores it (``"Bearer <token>"``)."""
    value = config.api_key.get("BearerToken") or config.api_key.get("authorization")
    return str(value) if value else None


def _bearer(header: str | None) -> str | None:
    if not header:
        return None
    return header[7:] if header.lower().startswith("bearer ") else header


def _read(path: str | Path, what: str) -> bytes:
    try:
        return Path(path).read_bytes()
    except OSError as e:
        raise CredentialsError(f"cannot read {what} {path}: {e}") from None


def explicit(
    url: str, token_file: str | None, ca_file: str | None, insecure: bool = False
) -> UpstreamCredentials:
    """Credentials for ``--upstream URL [--token-file F] [--ca-file F]``."""
    token: TokenSource = FileToken(token_file) if token_file else StaticToken(None)
    ca = _read(ca_file, "CA file") if ca_file else None
    return UpstreamCredentials(url.rstrip("/"), token, ca, None, insecure)


def in_cluster(environ: dict[str, str] | None = None, sa_dir: Path | None = None) -> UpstreamCredentials:
    """Credentials of the pod's service account (client-go ``rest.InClusterConfig``).

    Raises CredentialsError when ``KUBERNETES_SERVICE_HOST``/``_PORT`` are unset or the token is missing.
    """
    env = dict(os.environ) if environ is None else environ
    host, port = env.get("KUBERNETES_SERVICE_HOST"), env.get("KUBERNETES_SERVICE_PORT")
    if not host or not port:
        raise CredentialsError(
            "unable to load in-cluster configuration, "
            "KUBERNETES_SERVICE_HOST and KUBERNETES_SERVICE_PORT must be defined"
        )
    sa_dir = SERVICE_ACCOUNT_DIR if sa_dir is None else sa_dir
    if ":" in host:  # IPv6 literal
        host = f"[{host}]"
    ca_path = sa_dir / "ca.crt"
    ca = _read(ca_path, "service account CA") if ca_path.exists() else None
    return UpstreamCredentials(f"https://{host}:{port}", FileToken(sa_dir / "token"), ca)


def from_kubeconfig(path: str | None, context: str | None) -> UpstreamCredentials:
    """Credentials of a kubeconfig context, parsed by the ``kubernetes`` package (imported here only).

    ``path`` defaults to ``$KUBECONFIG`` or ``~/.kube/config``; ``context`` to the current context.
    Raises CredentialsError when the package is missing or the kubeconfig cannot be loaded.
    """
    try:
        from kubernetes import client, config
    except ImportError:
        raise CredentialsError(
            "a kubeconfig needs the 'kubernetes' package: pip install 'kuberay-apiserver[kubeconfig]'"
        ) from None
    cfg = client.Configuration()
    try:
        config.load_kube_config(  # type: ignore[no-untyped-call]
            config_file=path, context=context, client_configuration=cfg, persist_config=False
        )
    except (config.ConfigException, OSError, TypeError, ValueError) as e:
        raise CredentialsError(f"cannot load kubeconfig {path or '(default)'}: {e}") from None
    ca = _read(cfg.ssl_ca_cert, "CA file") if cfg.ssl_ca_cert else None
    identity = None
    if cfg.cert_file and cfg.key_file:
        identity = _read(cfg.cert_file, "client certificate") + b"\n" + _read(cfg.key_file, "client key")
    token: TokenSource = RefreshingToken(cfg) if _api_key(cfg) else StaticToken(None)
    return UpstreamCredentials(str(cfg.host).rstrip("/"), token, ca, identity, not cfg.verify_ssl)


def resolve(
    settings: Settings, environ: dict[str, str] | None = None, home: Path | None = None
) -> UpstreamCredentials:
    """Pick the credential source for ``settings``.

    Order: ``upstream`` (explicit URL); ``in_cluster``; ``kubeconfig``; ``$KUBECONFIG``; the pod's
    service account when ``KUBERNETES_SERVICE_HOST`` is set; ``~/.kube/config``. After the explicit
    choices this is controller-runtime's order (sigs.k8s.io/controller-runtime/pkg/client/config,
    ``loadConfig``), so a gateway deployed in a pod with no configuration uses its service account.
    ``environ`` and ``home`` default to the process's; raises CredentialsError.
    """
    env = dict(os.environ) if environ is None else environ
    if settings.upstream:
        return explicit(
            settings.upstream, settings.token_file, settings.ca_file, settings.insecure_skip_tls_verify
        )
    if settings.in_cluster:
        return in_cluster(env)
    if settings.kubeconfig or env.get("KUBECONFIG"):
        return from_kubeconfig(settings.kubeconfig or env["KUBECONFIG"], settings.context)
    if env.get("KUBERNETES_SERVICE_HOST"):
        return in_cluster(env)
    return from_kubeconfig(str((home or Path.home()) / ".kube" / "config"), settings.context)

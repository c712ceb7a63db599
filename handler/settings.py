"""Gateway settings: one frozen dataclass, filled from the command line or ``KUBERAY_APISERVER_*`` variables.

Every option of ``kuberay-apiserver serve`` has an environment variable of the same name, upper-cased
with ``-`` turned into ``_`` and prefixed ``KUBERAY_APISERVER_`` (``--token-file`` is
``KUBERAY_APISERVER_TOKEN_FILE``). ``handler.app`` builds its module-level ``app`` from the environment
alone, which is how serverless and Knative deployments configure it.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field, fields

from handler.field_selectors import DEFAULT_FIELDS
from handler.lifecycle import DEFAULT_MAX_WATCH_SECONDS, DEFAULT_SHUTDOWN_GRACE_SECONDS
from kubeapi.decode import MAX_BODY_BYTES

ENV_PREFIX = "KUBERAY_APISERVER_"

#: The kube-apiserver's own limit on a request body (``MaxRequestBodyBytes``, 3 MiB), see
#: k8s.io/apiserver/pkg/server/config.go. Kubernetes API bodies above it are refused with 413.
DEFAULT_MAX_BODY_BYTES = MAX_BODY_BYTES


#: granian's HTTP/1 connection buffer bound (hyper's ``max_buf_size``). At its minimum, 8 KiB, an
#: open connection costs ~9 KB less RSS than at granian's default (408 KiB): measured with 1,000
#: idle streamed responses (benchmarks/idle_app.py), the floor under every open watch. It also
#: bounds a request head: a larger one is answered 431, as nginx's and Apache's 8 KB defaults do.
DEFAULT_HTTP1_BUFFER_BYTES = 8192


#: The Pod Security Standards levels, least strict first
#: (https://kubernetes.io/docs/concepts/security/pod-security-standards/).
POD_SECURITY_LEVELS = ("privileged", "baseline", "restricted")


class SettingsError(ValueError):
    """An environment variable or option has a value of the wrong type (message names the variable)."""


@dataclass(frozen=True)
class RetrySettings:
    """Retry policy for transient upstream failures.

    ``retries`` is the number of retries after the first attempt; the delay before retry ``i``
    (0-based) is ``base_delay * 2**i`` seconds capped at ``max_delay``, or the upstream's
    ``Retry-After`` when it sends one; no attempt starts after ``overall_timeout`` seconds from
    the first. ``statuses`` are the upstream HTTP codes that count as transient.
    """

    retries: int = 3
    base_delay: float = 0.5
    max_delay: float = 10.0
    overall_timeout: float = 30.0
    statuses: frozenset[int] = frozenset({408, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class Settings:
    """Everything the gateway needs to run; all fields have working defaults.

    Upstream selection (first that applies): ``upstream`` (explicit URL, with optional
    ``token_file`` and ``ca_file``); ``in_cluster`` (the pod's service account); otherwise the
    kubeconfig at ``kubeconfig`` (or ``$KUBECONFIG`` / ``~/.kube/config``) and its ``context``.
    ``max_body_bytes`` bounds Kubernetes API request bodies (bytes); ``upstream_timeout`` is the
    connect timeout in seconds; ``upstream_request_timeout`` bounds (seconds) an upstream request that
    is not long-running, as kube-apiserver's ``--request-timeout`` (60 s) bounds its own; watches and
    the services proxy are unbounded.
    ``defaults`` is the path of a default-values YAML file (:mod:`handler.defaults`), or None;
    ``field_selector_fields`` the fields the gateway evaluates in ``fieldSelector`` itself
    (:mod:`handler.field_selectors`; comma-separated in ``KUBERAY_APISERVER_FIELD_SELECTOR_FIELDS``).
    ``watch_fanout`` makes identical concurrent watches share one upstream watch
    (:mod:`handler.watch_fanout`); ``watch_buffer_bytes`` bounds a shared watch's subscriber's unsent
    bytes (one that falls further behind is ended); ``watch_history`` is how many events a shared
    watch keeps for watches resuming from a resourceVersion. ``http1_buffer_bytes`` is granian's
    HTTP/1 buffer bound per connection (:data:`DEFAULT_HTTP1_BUFFER_BYTES`; minimum 8192).

    Identity (issue 12, README "Security"; :mod:`handler.auth`): ``authentication`` is the mode
    (``passthrough`` by default, ``token-review``, ``oidc``, ``client-certificate``,
    ``request-header``, ``none``: :mod:`handler.auth.modes`); ``allow_unauthenticated`` lets
    ``serve`` run ``none`` on a non-loopback ``host``; ``token_audience`` is the ``TokenReview``
    ``spec.audiences`` entry (empty: none asked); ``authentication_cache_ttl`` how long (s) a
    token's review is reused; ``authorization_cache_allowed_ttl`` / ``_denied_ttl`` how long (s) a
    ``SubjectAccessReview`` decision is reused (kube-apiserver's webhook defaults are 2 min, 5 min
    and 30 s; these are shorter, so a revoked binding takes effect sooner). The ``oidc_*``,
    ``client_ca_file``, ``requestheader_*`` and ``tls_*`` fields configure the modes and TLS
    serving of the same names (``--oidc-issuer-url``... as kube-apiserver's flags).
    ``accept_hosts`` is a regular expression the request's ``Host`` (port removed) must match in
    full (empty: the loopback names and the listen address; any IP literal when listening on a
    wildcard address), against DNS rebinding; ``cors_allow_origin`` lists the browser origins
    allowed, with credentials unless the list is ``*``.
    ``pod_security`` is the Pod Security Standards level checked on the pod templates of Ray
    objects (:mod:`handler.pod_security`): one of :data:`POD_SECURITY_LEVELS`, ``privileged``
    (checks nothing) by default; another value raises :class:`SettingsError`.

    Platform behaviour (:mod:`handler.lifecycle`, README "Deploy"): ``max_watch_seconds`` caps every
    watch's ``timeoutSeconds`` (also set when the caller gives none; 0: no cap) below the platform's
    request timeout, so watches end cleanly and clients re-watch; ``shutdown_grace_seconds`` is how
    long (s) a SIGTERM'd server lets short requests finish before its workers are killed.
    """

    host: str = "0.0.0.0"
    port: int = 8888
    workers: int = 1
    kubeconfig: str | None = None
    context: str | None = None
    in_cluster: bool = False
    upstream: str | None = None
    token_file: str | None = None
    ca_file: str | None = None
    insecure_skip_tls_verify: bool = False
    cors_allow_origin: tuple[str, ...] = ()
    log_level: str = "info"
    log_json: bool = False
    max_body_bytes: int = DEFAULT_MAX_BODY_BYTES
    upstream_timeout: float = 10.0
    upstream_request_timeout: float = 60.0
    retry: RetrySettings = field(default_factory=RetrySettings)
    defaults: str | None = None
    field_selector_fields: tuple[str, ...] = DEFAULT_FIELDS
    watch_fanout: bool = True
    watch_buffer_bytes: int = 4 * 1024 * 1024
    watch_history: int = 1000
    http1_buffer_bytes: int = DEFAULT_HTTP1_BUFFER_BYTES
    authentication: str = "passthrough"
    allow_unauthenticated: bool = False
    token_audience: str = ""
    authentication_cache_ttl: float = 10.0
    authorization_cache_allowed_ttl: float = 10.0
    authorization_cache_denied_ttl: float = 5.0
    oidc_issuer_url: str = ""
    oidc_client_id: str = ""
    oidc_username_claim: str = "sub"
    oidc_username_prefix: str = ""
    oidc_groups_claim: str = ""
    oidc_groups_prefix: str = ""
    oidc_required_claims: str = ""
    oidc_ca_file: str = ""
    oidc_signing_algs: str = "RS256"
    client_ca_file: str = ""
    requestheader_client_ca_file: str = ""
    requestheader_allowed_names: str = ""
    requestheader_username_headers: str = "X-Remote-User"
    requestheader_group_headers: str = "X-Remote-Group"
    requestheader_extra_headers_prefix: str = "X-Remote-Extra-"
    requestheader_uid_headers: str = "X-Remote-Uid"
    tls_cert_file: str = ""
    tls_private_key_file: str = ""
    accept_hosts: str = ""
    max_watch_seconds: int = DEFAULT_MAX_WATCH_SECONDS
    shutdown_grace_seconds: float = DEFAULT_SHUTDOWN_GRACE_SECONDS
    pod_security: str = "privileged"

    def __post_init__(self) -> None:
        if self.pod_security not in POD_SECURITY_LEVELS:
            raise SettingsError(
                f"pod security level {self.pod_security!r} is not one of {', '.join(POD_SECURITY_LEVELS)}"
            )

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> Settings:
        """Build settings from ``KUBERAY_APISERVER_*`` variables (``environ`` defaults to ``os.environ``).

        Retry fields use ``KUBERAY_APISERVER_RETRY_<FIELD>`` (``RETRY_STATUSES`` is comma-separated).
        An empty variable means the default, except for list fields, where it means the empty list.
        Raises :class:`SettingsError` for a value that does not parse.
        """
        env = os.environ if environ is None else environ
        values: dict[str, object] = {}
        for f in fields(cls):
            if f.name == "retry":
                continue
            raw = env.get(ENV_PREFIX + f.name.upper())
            default = _default_of(cls, f.name)
            if raw is not None and (raw != "" or isinstance(default, tuple)):
                # A list variable set empty means the empty list (no gateway-evaluated fields).
                values[f.name] = _parse(f.name, raw, default)
        retry_values: dict[str, object] = {}
        for f in fields(RetrySettings):
            raw = env.get(ENV_PREFIX + "RETRY_" + f.name.upper())
            if raw is not None and raw != "":
                retry_values[f.name] = _parse("retry_" + f.name, raw, getattr(RetrySettings(), f.name))
        values["retry"] = RetrySettings(**retry_values)  # type: ignore[arg-type]
        return cls(**values)  # type: ignore[arg-type]

    def to_env(self) -> dict[str, str]:
        """The inverse of :meth:`from_env`: the variables that reproduce these settings.

        Used by the CLI to hand settings to granian's worker processes, which import ``handler.app``.
        """
        env: dict[str, str] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "retry":
                for rf in fields(RetrySettings):
                    env[ENV_PREFIX + "RETRY_" + rf.name.upper()] = _format(getattr(value, rf.name))
            elif value is not None:
                env[ENV_PREFIX + f.name.upper()] = _format(value)
        return env


def _default_of(cls: type[Settings], name: str) -> object:
    return getattr(cls(), name)


def _format(value: object) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, frozenset):
        return ",".join(str(v) for v in sorted(value, key=str))
    if isinstance(value, tuple):
        return ",".join(str(v) for v in value)
    return str(value)


def _parse(name: str, raw: str, default: object) -> object:
    """Parse ``raw`` to the type of ``default``; raise SettingsError naming the variable."""
    var = ENV_PREFIX + name.upper()
    try:
        if isinstance(default, bool):
            low = raw.strip().lower()
            if low in ("1", "true", "yes", "on"):
                return True
            if low in ("0", "false", "no", "off"):
                return False
            raise ValueError(raw)
        if isinstance(default, int):
            return int(raw)
        if isinstance(default, float):
            return float(raw)
        if isinstance(default, frozenset):
            return frozenset(int(p) for p in raw.split(",") if p.strip())
        if isinstance(default, tuple):
            return tuple(p.strip() for p in raw.split(",") if p.strip())
    except ValueError as e:
        raise SettingsError(f"{var}={raw!r} is not a valid value: {e}") from None
    return raw

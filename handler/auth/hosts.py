"""``--accept-hosts``: the ``Host`` names the gateway answers, against DNS rebinding.

A web page on ``attacker.example`` whose name is re-pointed at 127.0.0.1 (DNS rebinding) makes the
browser send same-origin requests to a gateway on the laptop, with ``Host: attacker.example``.
Refusing every ``Host`` that is not expected stops it, as ``kubectl proxy --accept-hosts`` does
(k8s.io/kubectl/pkg/proxy/proxy_server.go: ``FilterServer`` matches the ``Host`` without its port,
``extractHost``, against the accepted patterns and answers 403 otherwise; kubectl's default is
``^localhost$,^127\\.0\\.0\\.1$,^\\[::1\\]$``).

Here the setting is one regular expression matched against the whole host name without port
(``re.fullmatch``, so no anchors are needed; use ``|`` for several). The default accepts the
loopback names (``localhost``, ``127.0.0.1``, ``::1``, any port) and the listen address; when the
gateway listens on a wildcard address (``0.0.0.0``, ``::``) it also accepts any IP literal, since
a rebinding attack needs a DNS name, and a deployment reached by a name (a Service's DNS name,
an Ingress host) lists it in ``--accept-hosts``. A refused request is a 403 ``Forbidden`` Status.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Iterable

from kubeapi.status import StatusError

__all__ = ["HostFilter", "default_pattern", "host_without_port"]

_LOOPBACK = r"localhost|127\.0\.0\.1|::1"
_WILDCARDS = frozenset({"0.0.0.0", "::", ""})


def default_pattern(listen_host: str) -> str:
    """The default ``--accept-hosts`` for a gateway listening on ``listen_host``."""
    listen = listen_host.strip("[]")
    alternatives = [_LOOPBACK]
    if listen in _WILDCARDS:
        alternatives.append(r"[0-9.]+|[0-9a-fA-F:.]*:[0-9a-fA-F:.]*")  # IP literals, checked again below
    else:
        alternatives.append(re.escape(listen))
    return "|".join(alternatives)


def host_without_port(host: str) -> str:
    """``Host`` without its port and IPv6 brackets (kubectl proxy's ``extractHost``:
    ``net.SplitHostPort``, the value as is when it has no port)."""
    if host.startswith("["):
        end = host.find("]")
        return host[1:end] if end > 0 else host
    if host.count(":") == 1:
        return host.split(":", 1)[0]
    return host


def _is_ip(name: str) -> bool:
    try:
        ipaddress.ip_address(name)
    except ValueError:
        return False
    return True


class HostFilter:
    """Accepts ``Host`` values whose name matches ``pattern`` in full (empty: the default for
    ``listen_host``). Raises ``re.error`` for a pattern that does not compile."""

    def __init__(self, pattern: str, listen_host: str) -> None:
        self.wildcard_ips = not pattern and listen_host.strip("[]") in _WILDCARDS
        self.pattern = re.compile(pattern or default_pattern(listen_host))
        # Decisions by raw Host value: a gateway sees few distinct ones, and deciding costs ~3 µs
        # (the regex and, for a wildcard listener, ipaddress) against ~0.1 µs for the lookup.
        self._decided: dict[bytes, bool] = {}

    def accepts(self, host: str) -> bool:
        """Whether a request with ``Host: host`` may be served."""
        name = host_without_port(host.strip())
        if not self.pattern.fullmatch(name):
            return False
        return not self.wildcard_ips or not name or _is_ip(name) or bool(re.fullmatch(_LOOPBACK, name))

    def check(self, headers: Iterable[tuple[bytes, bytes]]) -> None:
        """Raise the 403 ``Forbidden`` Status unless the request's first ``Host`` is accepted (a
        request without ``Host``, HTTP/1.0, is judged by the empty name)."""
        raw = b""
        for k, v in headers:
            if k == b"host":
                raw = v
                break
        ok = self._decided.get(raw)
        if ok is None:
            ok = self.accepts(raw.decode("latin-1"))
            if len(self._decided) >= 1024:  # many distinct names: someone probing; start over
                self._decided.clear()
            self._decided[raw] = ok
        if not ok:
            host = raw.decode("latin-1")
            raise StatusError(
                403,
                "Forbidden",
                f"the gateway does not serve host {host_without_port(host)!r} (see --accept-hosts)",
            )

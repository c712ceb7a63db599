"""Header filtering between the caller, the gateway and the upstream.

Hop-by-hop headers (RFC 9110 §7.6.1: ``Connection`` and the fields it names, ``Keep-Alive``,
``Proxy-Connection``, ``TE``, ``Trailer``, ``Transfer-Encoding``, ``Upgrade``,
``Proxy-Authenticate``, ``Proxy-Authorization``) are dropped both ways. Towards the upstream the
caller's ``Authorization``, ``Host``, any ``Impersonate-*`` header and the authenticating-proxy
headers ``X-Remote-User`` / ``X-Remote-Group`` / ``X-Remote-Extra-*`` are dropped too: the gateway
authenticates with its own credentials, and impersonation or front-proxy identity headers would
let a caller borrow its identity (see "User impersonation" and "Authenticating Proxy" in the
Kubernetes authentication docs).
The caller's ``Authorization`` never passes as a header: in ``--authentication passthrough`` the
caller's bearer token is sent as the request's upstream identity instead (the same value, set by
the upstream client), in the other modes the gateway's own token is.
``X-Forwarded-For`` is appended to, not copied: the caller's values (several headers joined with
``, ``) then the address of the connection the gateway received (the ASGI scope's ``client``), as
Go's ``net/http/httputil.ReverseProxy`` does (reverseproxy.go: ``prior + ", " + clientIP``).
``Content-Encoding`` and ``Accept-Encoding`` pass through untouched (the upstream client does not
decompress), so compressed bodies stream as they are.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

HOP_BY_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-connection",
        "te",
        "trailer",
        "transfer-encoding",
        "upgrade",
        "proxy-authenticate",
        "proxy-authorization",
    }
)

#: Request headers the gateway never forwards upstream (besides hop-by-hop ones).
NOT_FORWARDED = frozenset({"host", "authorization", "content-length", "expect"})


#: Names dropped from every request towards the upstream (before ``Connection``'s own tokens).
_REQUEST_DROP = HOP_BY_HOP | NOT_FORWARDED
#: Prefixes of identity headers the caller must not pass on (impersonation, authenticating proxy).
REQUEST_DROP_PREFIXES = ("impersonate-", "x-remote-")
_REQUEST_DROP_PREFIXES = REQUEST_DROP_PREFIXES


def _connection_tokens(headers: Iterable[tuple[str, str]]) -> set[str]:
    """Header names listed in ``Connection`` (they are hop-by-hop for this message too)."""
    tokens: set[str] = set()
    for k, v in headers:
        if k == "connection":
            tokens.update(t.strip().lower() for t in v.split(",") if t.strip())
    return tokens


def client_address(scope: Mapping[str, Any]) -> str | None:
    """The address of the connection a request arrived on (the ASGI scope's ``client`` host), or
    None when the server does not say."""
    client = scope.get("client")
    return str(client[0]) if client else None


def forwarded_for(pairs: list[tuple[str, str]], client: str | None) -> list[tuple[str, str]]:
    """``pairs`` with every ``x-forwarded-for`` replaced by one: the caller's values joined with
    ``, `` and ``client`` appended (reverseproxy.go); unchanged when ``client`` is None."""
    if client is None:
        return pairs
    prior = [v for k, v in pairs if k == "x-forwarded-for"]
    out = [(k, v) for k, v in pairs if k != "x-forwarded-for"] if prior else pairs
    out.append(("x-forwarded-for", ", ".join([*prior, client])))
    return out


def upstream_request_headers(
    raw: Iterable[tuple[bytes, bytes]], client: str | None = None
) -> list[tuple[str, str]]:
    """The caller's ASGI headers (lower-case byte pairs) as the list to send upstream, with
    ``client`` (the connection's address) appended to ``X-Forwarded-For``.

    One pass for the usual request (no ``Connection`` header, whose tokens name more headers to
    drop: then :func:`_upstream_request_headers_listed` decides); the same answer either way."""
    if not isinstance(raw, list | tuple):
        raw = list(raw)  # read twice when a Connection header sends it to the general case
    kept: list[tuple[str, str]] = []
    prior: list[str] = []
    drop, prefixes = _REQUEST_DROP, _REQUEST_DROP_PREFIXES
    for k, v in raw:
        name = k.decode("latin-1").lower()
        if name in drop or name.startswith(prefixes):
            if name == "connection":
                return _upstream_request_headers_listed(raw, client)
            continue
        if name == "x-forwarded-for" and client is not None:
            prior.append(v.decode("latin-1"))
            continue
        kept.append((name, v.decode("latin-1")))
    if client is not None:
        prior.append(client)
        kept.append(("x-forwarded-for", ", ".join(prior)))
    return kept


def _upstream_request_headers_listed(
    raw: Iterable[tuple[bytes, bytes]], client: str | None
) -> list[tuple[str, str]]:
    """:func:`upstream_request_headers` for any request, ``Connection`` tokens included."""
    pairs = [(k.decode("latin-1").lower(), v.decode("latin-1")) for k, v in raw]
    drop = _REQUEST_DROP
    if any(k == "connection" for k, _ in pairs):  # rare on HTTP/1.1: skip the set union otherwise
        drop = drop | _connection_tokens(pairs)
    kept = [(k, v) for k, v in pairs if k not in drop and not k.startswith(_REQUEST_DROP_PREFIXES)]
    return forwarded_for(kept, client)


def caller_response_headers(upstream: Iterable[tuple[str, str]]) -> list[tuple[bytes, bytes]]:
    """The upstream response headers as ASGI header pairs for the caller, hop-by-hop ones dropped."""
    # One pass (this runs for every response): names ``Connection`` lists are dropped afterwards,
    # in the rare case they are not hop-by-hop already (``Connection: keep-alive`` is the usual one).
    out: list[tuple[bytes, bytes]] = []
    listed: set[str] = set()
    for k, v in upstream:
        name = k.lower()
        if name in HOP_BY_HOP:
            if name == "connection":
                listed.update(_connection_tokens([(name, v)]))
            continue
        out.append((name.encode("latin-1"), v.encode("latin-1")))
    listed -= HOP_BY_HOP
    if listed:
        out = [(k, v) for k, v in out if k.decode("latin-1") not in listed]
    return out


def caller_response_headers_of(
    upstream: Mapping[str, str | Sequence[str]],
) -> tuple[list[tuple[bytes, bytes]], str | None]:
    """:func:`caller_response_headers` of a header map as pyreqwest's ``dict_multi_value()`` gives
    it (lower-case names, as the ``http`` crate normalises them; a repeated header's values in a
    list, in order), and the first ``Content-Length`` value (None when absent).

    One native call and one pass here instead of a ``(name, value)`` pair per header from
    ``HeaderMap.items()``: about half the CPU for a typical response head (seven headers from
    nginx; measured with ``timeit`` beside ``benchmarks/cpu_cost.py``).
    """
    out: list[tuple[bytes, bytes]] = []
    listed: set[str] | None = None
    length: str | None = None
    for name, value in upstream.items():
        if name in HOP_BY_HOP:
            if name == "connection" and value != "keep-alive" and value != "close":  # names others
                values = [value] if isinstance(value, str) else value
                listed = _connection_tokens([(name, v) for v in values]) - HOP_BY_HOP
            continue
        key = name.encode("latin-1")
        if isinstance(value, str):
            out.append((key, value.encode("latin-1")))
            if name == "content-length":
                length = value
        else:
            out.extend((key, v.encode("latin-1")) for v in value)
            if name == "content-length" and value:
                length = value[0]
    if listed:
        out = [(k, v) for k, v in out if k.decode("latin-1") not in listed]
    return out, length

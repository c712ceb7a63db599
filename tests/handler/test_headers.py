"""``handler._headers``: the request headers passed upstream and the response headers passed back."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from handler._headers import (
    caller_response_headers,
    caller_response_headers_of,
    client_address,
    forwarded_for,
    upstream_request_headers,
)
from handler._websocket_relay import handshake_headers, upstream_subprotocols


def test_request_header_filtering() -> None:
    raw = [
        (b"authorization", b"Bearer x"),
        (b"host", b"gw"),
        (b"connection", b"close, x-hop"),
        (b"x-hop", b"1"),
        (b"transfer-encoding", b"chunked"),
        (b"upgrade", b"h2c"),
        (b"impersonate-group", b"system:masters"),
        (b"accept", b"application/json"),
        (b"content-type", b"application/yaml"),
        (b"content-length", b"3"),
    ]
    assert upstream_request_headers(raw) == [
        ("accept", "application/json"),
        ("content-type", "application/yaml"),
    ]


def test_response_header_filtering_keeps_encoding_and_length() -> None:
    out = caller_response_headers(
        [
            ("Content-Encoding", "gzip"),
            ("Content-Length", "10"),
            ("Transfer-Encoding", "chunked"),
            ("Connection", "keep-alive"),
            ("Keep-Alive", "timeout=5"),
            ("Warning", '299 - "x"'),
        ]
    )
    assert out == [(b"content-encoding", b"gzip"), (b"content-length", b"10"), (b"warning", b'299 - "x"')]


IDENTITY_HEADERS = st.sampled_from(
    [
        "Authorization",
        "Impersonate-User",
        "Impersonate-Uid",
        "Impersonate-Group",
        "Impersonate-Extra-Scopes",
        "impersonate-extra-example.com%2ftenant",
        "X-Remote-User",
        "X-Remote-Group",
        "X-Remote-Extra-Scopes",
        "x-remote-uid",
    ]
)
HEADER_VALUES = st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=30)


@given(st.lists(st.tuples(IDENTITY_HEADERS, HEADER_VALUES), max_size=8), st.permutations(["A", "b", "C"]))
def test_identity_headers_never_pass_in_any_case_or_order(
    identity: list[tuple[str, str]], order: list[str]
) -> None:
    cased = [
        (k.upper() if c == "A" else k.lower() if c == "b" else k, v)
        for (k, v), c in zip(identity, order * 8, strict=False)
    ]
    raw = [(k.encode(), v.encode()) for k, v in [*cased, ("Accept", "application/json")]]
    for sent in (upstream_request_headers(raw, "10.0.0.9"), handshake_headers(raw, "10.0.0.9")):
        names = {k for k, _ in sent}
        assert "authorization" not in names
        assert not any(k.startswith(("impersonate-", "x-remote-")) for k in names)


def test_x_forwarded_for_is_appended_to_not_copied() -> None:
    assert upstream_request_headers([(b"accept", b"*/*")], "10.0.0.9") == [
        ("accept", "*/*"),
        ("x-forwarded-for", "10.0.0.9"),
    ]
    raw = [(b"x-forwarded-for", b"1.1.1.1"), (b"accept", b"*/*"), (b"x-forwarded-for", b"2.2.2.2, 3.3.3.3")]
    assert upstream_request_headers(raw, "10.0.0.9") == [
        ("accept", "*/*"),
        ("x-forwarded-for", "1.1.1.1, 2.2.2.2, 3.3.3.3, 10.0.0.9"),
    ]
    assert handshake_headers(raw, "10.0.0.9")[-1] == (
        "x-forwarded-for",
        "1.1.1.1, 2.2.2.2, 3.3.3.3, 10.0.0.9",
    )
    # Without a known client address (the ASGI server gave none) the header passes as it came.
    assert forwarded_for([("x-forwarded-for", "1.1.1.1")], None) == [("x-forwarded-for", "1.1.1.1")]
    assert client_address({"client": ("192.0.2.1", 5555)}) == "192.0.2.1" and client_address({}) is None


def test_bearer_subprotocols_are_dropped_unless_passthrough() -> None:
    offered = ["base64url.bearer.authorization.k8s.io.dG9rZW4", "v4.channel.k8s.io", ""]
    assert upstream_subprotocols(offered, keep_token=False) == ["v4.channel.k8s.io"]
    assert upstream_subprotocols(offered, keep_token=True) == offered[:2]


RESPONSE_NAMES = st.sampled_from(
    [
        "content-type",
        "content-length",
        "warning",
        "x-a",
        "connection",
        "keep-alive",
        "transfer-encoding",
        "x-b",
    ]
)


@given(st.lists(st.tuples(RESPONSE_NAMES, HEADER_VALUES), max_size=10))
def test_the_header_map_form_filters_as_the_pair_form(pairs: list[tuple[str, str]]) -> None:
    """``caller_response_headers_of`` (pyreqwest's ``dict_multi_value()`` form: a name's values
    grouped, in order) answers what ``caller_response_headers`` answers for the same headers, with
    the first ``Content-Length``: including ``Connection`` naming other headers."""
    grouped: dict[str, list[str]] = {}
    for k, v in pairs:
        grouped.setdefault(k, []).append(v)
    multi = {k: vs[0] if len(vs) == 1 else vs for k, vs in grouped.items()}
    in_map_order = [(k, v) for k, vs in grouped.items() for v in vs]
    headers, length = caller_response_headers_of(multi)
    assert headers == caller_response_headers(in_map_order)
    assert length == next((v for k, v in pairs if k == "content-length"), None)


def test_the_header_map_form_drops_what_connection_names() -> None:
    headers, length = caller_response_headers_of(
        {
            "connection": ["keep-alive, x-a", "x-b"],
            "x-a": "1",
            "x-b": ["2", "3"],
            "content-length": "7",
            "x-c": "4",
        }
    )
    assert headers == [(b"content-length", b"7"), (b"x-c", b"4")] and length == "7"


REQUEST_NAMES = st.sampled_from(
    [
        "Accept",
        "x-forwarded-for",
        "X-Forwarded-For",
        "content-type",
        "Host",
        "x-a",
        "TE",
        "Impersonate-User",
        "x-b",
    ]
)


@given(
    st.lists(st.tuples(REQUEST_NAMES, HEADER_VALUES), max_size=10),
    st.sampled_from([None, "10.0.0.9"]),
    st.booleans(),
)
def test_the_one_pass_request_filter_answers_as_the_general_one(
    pairs: list[tuple[str, str]], client: str | None, connection: bool
) -> None:
    """``upstream_request_headers``'s one pass (no ``Connection`` header) gives what the general
    filter gives (which also honours ``Connection`` tokens), X-Forwarded-For included; with a
    ``Connection`` header naming ``x-a`` that header is dropped too."""
    from handler._headers import _upstream_request_headers_listed

    raw = [(k.encode(), v.encode()) for k, v in pairs]
    if connection:
        raw.insert(len(raw) // 2, (b"connection", b"keep-alive, X-A"))
    sent = upstream_request_headers(raw, client)
    assert sent == _upstream_request_headers_listed(raw, client)
    assert sent == upstream_request_headers(iter(raw), client)
    if connection:
        assert all(k != "x-a" for k, _ in sent)

"""``handler._headers``: the request headers passed upstream and the response headers passed back."""

from __future__ import annotations

from handler._headers import caller_response_headers, upstream_request_headers


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

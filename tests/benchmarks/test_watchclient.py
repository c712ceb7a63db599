"""The watch client's decoder splits chunked, newline-delimited watch events and dates each line."""

import pytest

from benchmarks.watchclient import ChunkedError, LineDecoder


def chunk(data: bytes) -> bytes:
    return f"{len(data):x}\r\n".encode() + data + b"\r\n"


def test_lines_split_across_chunks_and_reads_get_the_completing_read_time() -> None:
    body = chunk(b'{"type":"ADDED","n":1}\n{"type":') + chunk(b'"MODIFIED","n":2}\n') + b"0\r\n\r\n"
    decoder = LineDecoder(chunked=True)
    # Deliver the bytes in awkward reads: mid-size-line, mid-data, mid-CRLF.
    reads = [body[:3], body[3:20], body[20:41], body[41:42], body[42:]]
    out = [line for t, data in enumerate(reads) for line in decoder.feed(t, data)]
    assert out == [(2, b'{"type":"ADDED","n":1}'), (4, b'{"type":"MODIFIED","n":2}')]


def test_chunk_extensions_are_ignored() -> None:
    decoder = LineDecoder(chunked=True)
    assert decoder.feed(7, b"3;ext=1\r\nab\n\r\n") == [(7, b"ab")]


def test_unchunked_bodies_are_split_on_newlines() -> None:
    decoder = LineDecoder(chunked=False)
    assert decoder.feed(1, b"a\nb") == [(1, b"a")]
    assert decoder.feed(2, b"c\n\n") == [(2, b"bc")]


def test_bad_chunk_size_is_reported() -> None:
    with pytest.raises(ChunkedError):
        LineDecoder(chunked=True).feed(0, b"zz\r\nabc\r\n")

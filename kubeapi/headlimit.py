"""The request-head bound both servers apply, with Go ``net/http``'s limit and code.

kube-apiserver serves with Go's ``http.Server`` default ``MaxHeaderBytes`` (``DefaultMaxHeaderBytes``,
1 MiB; net/http reads up to that plus 4096 bytes of slack, ``initialReadLimitSize``): a longer
request line + headers is answered 431 ``Request Header Fields Too Large`` (as Go's text/plain
``431 Request Header Fields Too Large``; here as a ``Status``, issue 13 finding 6). granian (hyper)
refuses a head beyond its own buffer (``max_buffer_size``) before the application sees it, with an
empty 431, and a request target beyond 65,534 bytes with an empty 414 (hyper's ``MAX_URI_LEN``);
only heads that reach the application can be answered with a Status.
"""

from __future__ import annotations

from collections.abc import Iterable

from kubeapi.status import REASON_UNKNOWN, StatusError

__all__ = ["MAX_HEADER_BYTES", "head_size", "new_header_fields_too_large"]

#: Go's ``http.DefaultMaxHeaderBytes`` plus the 4096 bytes net/http reads beyond it.
MAX_HEADER_BYTES = (1 << 20) + 4096


def head_size(method: str, raw_path: bytes, query: bytes, headers: Iterable[tuple[bytes, bytes]]) -> int:
    """The bytes of a request head as sent: request line and ``Name: value`` lines with CRLFs."""
    size = len(method) + len(raw_path) + (len(query) + 1 if query else 0) + 12
    for name, value in headers:
        size += len(name) + len(value) + 4
    return size + 2


def new_header_fields_too_large() -> StatusError:
    """431 for a head over :data:`MAX_HEADER_BYTES`, with Go's text as the message."""
    return StatusError(431, REASON_UNKNOWN, "Request Header Fields Too Large")

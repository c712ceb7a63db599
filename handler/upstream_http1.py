"""Long-running upstream requests over HTTP/1.1 that a caller's disconnect aborts at once (aiohttp).

Why a second client: pyreqwest 0.15.1 cannot abort a request. It runs each one as a detached tokio
task (``RuntimeHandle.spawn_handled`` in its ``src/runtime/runtime.rs`` returns ``CancelledError``
on cancellation but drops the ``JoinHandle`` without ``abort()``), so the request goes on until the
upstream's headers arrive; and once they have, closing the body does not close an HTTP/1.1
connection either (hyper's HTTP/1 dispatcher learns that the body was dropped only when the
socket next becomes readable). A watch or a services-proxy request whose upstream went silent
thus held its connection until the upstream's next byte (issue 13 finding 4). Over HTTP/2 the
same drop resets the stream (``RST_STREAM``, measured: within 10 ms) and leaves the shared
connection alone, so only HTTP/1.1 upstreams need this lane.

aiohttp runs on the event loop itself: cancelling the task that awaits the response closes its
socket, and once the headers arrived closing the response (the gateway always does, in its
``aclose``) closes the socket at once, however silent the upstream. It costs
about 2x pyreqwest's CPU per request (client side, 2 KB answers, 16 concurrent, three runs on a
loaded machine: aiohttp 47-114 us, median 69; pyreqwest 24-48 us, median 37; ``python -m
benchmarks.upstream_h2 --client-cpu``), which is why only long-running requests take it: one
request per watch, not the GET/list hot path.

:class:`Http1Lane` is owned by :class:`handler.upstream_client.UpstreamClient` (which decides
when a request takes it); :class:`Http1Response` has the parts of pyreqwest's ``Response`` the
gateway reads (``status``, ``headers``, ``get_header``, ``version``, ``body_reader.read_chunk``,
``bytes``), and aiohttp's errors become pyreqwest's (``ConnectError`` with hyper's
``client error (Connect)`` cause for a connect that failed, so the retry rules read them alike).
"""

from __future__ import annotations

import ssl
from typing import TYPE_CHECKING, Any

import aiohttp
from pyreqwest.exceptions import (
    ConnectError,
    ConnectTimeoutError,
    ReadError,
    RequestError,
    RequestTimeoutError,
)
from yarl import URL

if TYPE_CHECKING:
    from collections.abc import ItemsView, KeysView

    from multidict import CIMultiDictProxy

    from handler._body import RequestBody

#: aiohttp would add these on its own (pyreqwest does not): a body's ``Content-Type`` and an
#: ``Accept-Encoding`` that would make the upstream compress what the caller did not ask to be.
_SKIP_AUTO_HEADERS = ("Content-Type", "Accept-Encoding")


def request_error(e: BaseException) -> RequestError:
    """aiohttp's exception ``e`` as the pyreqwest one the gateway's retry and Status code read:
    a failed connect is ``ConnectError`` with hyper's ``client error (Connect)`` cause (never sent,
    :func:`handler.upstream_client.never_sent`), a connect timeout ``ConnectTimeoutError``, the
    overall timeout ``RequestTimeoutError``, anything else ``ReadError`` (may have been received)."""
    message = str(e) or type(e).__name__
    if isinstance(e, aiohttp.ConnectionTimeoutError):
        return ConnectTimeoutError(message, {"causes": None})
    if isinstance(e, aiohttp.ClientConnectorError):
        return ConnectError(message, {"causes": [{"message": "client error (Connect)"}]})
    if isinstance(e, TimeoutError):
        return RequestTimeoutError(message, {"causes": None})
    return ReadError(message, {"causes": None})


class Http1Body:
    """The body of an :class:`Http1Response`, read as pyreqwest's ``ResponseBodyReader`` is."""

    __slots__ = ("_content",)

    def __init__(self, content: aiohttp.StreamReader) -> None:
        self._content = content

    async def read_chunk(self) -> bytes | None:
        """The next bytes as they arrive; None at the end. Raises pyreqwest's ``RequestError``."""
        try:
            data = await self._content.readany()
        except (aiohttp.ClientError, TimeoutError) as e:
            raise request_error(e) from e
        return data or None


class Http1Headers:
    """An aiohttp response's headers with the parts of pyreqwest's ``HeaderMap`` the gateway reads:
    ``dict_multi_value()`` (lower-case names; a repeated header's values in a list, in order, as
    :func:`handler._headers.caller_response_headers_of` expects), ``items()``, ``keys()``,
    ``getall(name)`` and ``get(name)``."""

    __slots__ = ("_h",)

    def __init__(self, headers: CIMultiDictProxy[str]) -> None:
        self._h = headers

    def dict_multi_value(self) -> dict[str, str | list[str]]:
        """``{lower-case name: value}``, a list of values for a repeated header."""
        out: dict[str, str | list[str]] = {}
        for name, value in self._h.items():
            key = name.lower()
            prev = out.get(key)
            if prev is None:
                out[key] = value
            elif isinstance(prev, str):
                out[key] = [prev, value]
            else:
                prev.append(value)
        return out

    def items(self) -> ItemsView[str, str]:
        """``(name, value)`` pairs, a repeated header once per value."""
        return self._h.items()

    def keys(self) -> KeysView[str]:
        """The header names, a repeated one once per value."""
        return self._h.keys()

    def getall(self, name: str) -> list[str]:
        """Every value of header ``name`` (case-insensitive); raises ``KeyError`` when absent."""
        return self._h.getall(name)

    def get(self, name: str, default: str | None = None) -> str | None:
        """The first value of header ``name`` (case-insensitive), or ``default``."""
        return self._h.get(name, default)


class Http1Response:
    """An aiohttp response with the parts of pyreqwest's ``Response`` the gateway reads."""

    __slots__ = ("_resp", "body_reader")

    def __init__(self, resp: aiohttp.ClientResponse) -> None:
        self._resp = resp
        self.body_reader = Http1Body(resp.content)

    @property
    def status(self) -> int:
        """The HTTP status."""
        return self._resp.status

    @property
    def headers(self) -> Http1Headers:
        """The response headers, read as pyreqwest's are (:class:`Http1Headers`)."""
        return Http1Headers(self._resp.headers)

    @property
    def version(self) -> str:
        """``HTTP/1.1`` (pyreqwest's spelling)."""
        v = self._resp.version
        return f"HTTP/{v.major}.{v.minor}" if v is not None else "HTTP/1.1"

    def get_header(self, name: str) -> str | None:
        """The first value of header ``name``, or None."""
        return self._resp.headers.get(name)

    async def bytes(self) -> bytes:
        """The whole remaining body. Raises pyreqwest's ``RequestError``."""
        try:
            return await self._resp.read()
        except (aiohttp.ClientError, TimeoutError) as e:
            raise request_error(e) from e

    async def __aexit__(self, *exc: object) -> None:
        """Release the connection: back to the pool when the body was read to its end, else closed."""
        if self._resp.content.at_eof():
            self._resp.release()
        else:
            self._resp.close()


class Http1Lane:
    """An aiohttp session to one upstream with the pool's TLS ``ssl_context`` (None for plain
    HTTP), ``connect_timeout`` seconds to connect, no redirects, no decompression, and the same
    ``User-Agent`` as the pyreqwest pool. Built on first use inside the worker's event loop."""

    def __init__(self, ssl_context: ssl.SSLContext | None, connect_timeout: float, user_agent: str) -> None:
        self._ssl: ssl.SSLContext | bool = ssl_context if ssl_context is not None else True
        self._connect_timeout = connect_timeout
        self._user_agent = user_agent
        self._session: aiohttp.ClientSession | None = None

    def _pool(self) -> aiohttp.ClientSession:
        if self._session is None:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=0, ssl=self._ssl),
                auto_decompress=False,
                headers={"User-Agent": self._user_agent},
                skip_auto_headers=_SKIP_AUTO_HEADERS,
                cookie_jar=aiohttp.DummyCookieJar(),
            )
        return self._session

    async def open(
        self,
        method: str,
        url: str,
        headers: list[tuple[str, str]],
        body: RequestBody | None,
        timeout: float | None,
    ) -> Http1Response:
        """Send ``method`` to ``url`` (already percent-encoded: sent as is) with ``headers`` and
        ``body`` (bytes when read whole, else streamed from the caller); the response once its
        headers arrived, the whole exchange bounded by ``timeout`` seconds when given. Cancelling
        the awaiting task closes the connection. Raises pyreqwest's ``RequestError``."""
        data: Any = None
        if body is not None:
            data = body.buffered if body.buffered is not None else body.stream()
        bound = aiohttp.ClientTimeout(total=timeout, sock_connect=self._connect_timeout)
        try:
            resp = await self._pool().request(
                method,
                URL(url, encoded=True),
                headers=headers,
                data=data or None,
                allow_redirects=False,
                timeout=bound,
            )
        except (TimeoutError, aiohttp.ClientError) as e:
            raise request_error(e) from e
        return Http1Response(resp)

    async def close(self) -> None:
        """Close the session and its connections (idempotent)."""
        if self._session is not None:
            await self._session.close()
            self._session = None

"""An ASGI app that answers every request with a streamed 200 and then sends nothing: an idle watch.

Served by granian in the watch benchmark to measure what one open streaming connection costs the
server stack alone (granian + asyncio + ASGI), the floor under the gateway's RSS per watch.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Message = MutableMapping[str, Any]


async def app(
    scope: MutableMapping[str, Any],
    receive: Callable[[], Awaitable[Message]],
    send: Callable[[Message], Awaitable[None]],
) -> None:
    """ASGI 3 entry point: lifespan is acknowledged; ``/version`` answers ``{}``; any other HTTP
    request gets a 200 head and is then held open until the client leaves."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            await send({"type": message["type"] + ".complete"})
            if message["type"] == "lifespan.shutdown":
                return
    if scope["path"] == "/version":  # a complete answer, for the harness's readiness check
        await send({"type": "http.response.start", "status": 200, "headers": [(b"content-length", b"2")]})
        await send({"type": "http.response.body", "body": b"{}"})
        return
    await send(
        {"type": "http.response.start", "status": 200, "headers": [(b"content-type", b"application/json")]}
    )
    await send({"type": "http.response.body", "body": b"", "more_body": True})
    while (await receive())["type"] != "http.disconnect":
        pass

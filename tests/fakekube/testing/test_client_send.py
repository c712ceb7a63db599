"""``fakekube.testing.Client.send`` and ``Response.read``: the raw-response calls fakekube's own
tests are written with (any status code returned, not raised; exactly the headers given; the body
kept once read)."""

from __future__ import annotations

import json
from typing import Any

from fakekube.testing import Bridge, Client, LoopThread
from tests.fakekube.objects import RC_PATH, raycluster


def test_send_returns_an_error_status_instead_of_raising(client: Client) -> None:
    r = client.send("GET", f"{RC_PATH}/nope")
    assert r.status == 404 and r.headers["content-type"].startswith("application/json")
    body = r.read()
    assert json.loads(body)["reason"] == "NotFound"
    # read once, kept: read() and json() can be called again
    assert r.read() == body and r.json() == r.json() == json.loads(body)


def test_send_encodes_bodies_and_queries_like_request(client: Client) -> None:
    made = client.send("POST", RC_PATH, raycluster("s1"), query={"fieldManager": "me"})
    assert made.status == 201 and made.json()["metadata"]["managedFields"][0]["manager"] == "me"
    as_text = client.send("POST", RC_PATH, json.dumps(raycluster("s2")))
    as_bytes = client.send("POST", RC_PATH, json.dumps(raycluster("s3")).encode())
    assert (as_text.status, as_bytes.status) == (201, 201)
    assert [i["metadata"]["name"] for i in client.request("GET", RC_PATH)["items"]] == ["s1", "s2", "s3"]


def test_send_adds_no_header_and_request_adds_accept(loop_thread: LoopThread) -> None:
    seen: list[list[tuple[bytes, bytes]]] = []

    async def echo(scope: dict[str, Any], receive: Any, send: Any) -> None:
        await receive()
        seen.append([(k, v) for k, v in scope["headers"] if k != b"content-length"])
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"{}"})

    c = Client(Bridge(echo, loop_thread.loop))
    c.send("GET", "/", headers={"x-one": "1"}).read()
    c.send("POST", "/", b"raw", content_type="text/plain").read()
    c.request("GET", "/")
    assert seen == [
        [(b"x-one", b"1")],
        [(b"content-type", b"text/plain")],
        [(b"accept", b"application/json")],
    ]

"""`fakekube serve` holds hundreds of concurrent watches (granian's default backlog of 128 did not)."""

from __future__ import annotations

import socket
import time


def test_three_hundred_concurrent_watches_are_all_served(fakekube_url: str) -> None:
    host, port = fakekube_url.removeprefix("http://").split(":")
    request = b"GET /apis/ray.io/v1/rayclusters?watch=1&timeoutSeconds=10 HTTP/1.1\r\nHost: x\r\n\r\n"
    socks = []
    try:
        for _ in range(300):
            s = socket.create_connection((host, int(port)), timeout=5)
            s.sendall(request)
            socks.append(s)
        deadline = time.monotonic() + 20
        answered = 0
        for s in socks:
            s.settimeout(max(0.1, deadline - time.monotonic()))
            answered += s.recv(64).startswith(b"HTTP/1.1 200")
        assert answered == len(socks)
    finally:
        for s in socks:
            s.close()

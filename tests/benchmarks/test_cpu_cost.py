"""``benchmarks.cpu_cost``: the /proc readings and the response reader its figures rest on."""

from __future__ import annotations

import os
import socket
import time

import pytest

from benchmarks.cpu_cost import _read_response, quantile, tree_context_switches, tree_cpu_seconds


def test_cpu_and_switches_of_a_tree_grow_with_work() -> None:
    pid = os.getpid()
    cpu0, sw0 = tree_cpu_seconds(pid), tree_context_switches(pid)
    deadline = time.process_time() + 0.2
    while time.process_time() < deadline:
        pass
    time.sleep(0.01)  # a voluntary switch at least
    assert tree_cpu_seconds(pid) - cpu0 >= 0.15
    assert tree_context_switches(pid) > sw0


def test_quantile() -> None:
    assert quantile([3.0, 1.0, 2.0], 0.0) == 1.0
    assert quantile([3.0, 1.0, 2.0], 0.5) == 2.0
    assert quantile([3.0, 1.0, 2.0], 1.0) == 3.0
    with pytest.raises(ValueError):
        quantile([], 0.5)


def test_responses_are_read_whole_and_the_rest_kept() -> None:
    a, b = socket.socketpair()
    with a, b:
        a.sendall(
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"
            b"HTTP/1.1 204"
        )
        buf = bytearray()
        _read_response(b, buf)
        _read_response(b, buf)
        assert bytes(buf).startswith(b"HTTP/1.1 204")

"""``fakekube.testing.BodyStream``: readers that give up lose nothing; request timeouts through the mock."""

from __future__ import annotations

import asyncio
import threading

import pytest
import urllib3
from kubernetes import client, config, watch

import fakekube
from fakekube.strategies import raycluster
from fakekube.testing import BodyStream


def test_a_timed_out_read_loses_no_chunk() -> None:
    body = BodyStream()
    with pytest.raises(TimeoutError):
        body.next_chunk(timeout=0.05)
    body.feed(b"one")
    body.feed(b"")
    assert body.next_chunk(1) == b"one"
    assert body.next_chunk(1) == b""


async def test_a_cancelled_async_read_loses_no_chunk() -> None:
    body = BodyStream()
    with pytest.raises(asyncio.TimeoutError):
        await asyncio.wait_for(body.anext_chunk(), 0.05)
    threading.Thread(target=lambda: (body.feed(b"two"), body.feed(b""))).start()
    assert await asyncio.wait_for(body.anext_chunk(), 1) == b"two"
    assert await asyncio.wait_for(body.anext_chunk(), 1) == b""


def test_close_ends_pending_readers_and_signals_disconnect() -> None:
    body = BodyStream()
    gone = threading.Event()
    body.disconnect = gone.set
    threading.Timer(0.05, body.close).start()
    assert body.next_chunk(2) == b""
    assert gone.is_set()


def test_request_timeout_applies_to_a_watch_through_the_mock() -> None:
    with fakekube.mock():
        config.load_kube_config()
        api = client.CustomObjectsApi()
        api.create_namespaced_custom_object("ray.io", "v1", "default", "rayclusters", raycluster("quiet"))
        seen = []
        with pytest.raises(urllib3.exceptions.ReadTimeoutError):
            for ev in watch.Watch().stream(
                api.list_namespaced_custom_object,
                "ray.io",
                "v1",
                "default",
                "rayclusters",
                timeout_seconds=30,
                _request_timeout=0.3,
            ):
                seen.append(ev["type"])
        assert seen == ["ADDED"]

"""``pods/log`` as kube-apiserver answers it: container choice, the kubelet's "waiting to start",
option validation, ``tailLines``/``timestamps``/``limitBytes``, and ``follow`` streaming lines as
they are written and ending when the Pod is deleted."""

from __future__ import annotations

import re
from collections.abc import Callable

from fakekube import FakeKube
from fakekube.testing import Client, LoopThread
from tests.fakekube.simulation.helpers import PODS_PATH, advance, manual_app, pod


def _started(
    connect: Callable[[FakeKube], Client], loop_thread: LoopThread, *containers: str
) -> tuple[FakeKube, Client]:
    app = manual_app(delay=1.0)
    client = connect(app)
    client.request("POST", PODS_PATH, pod("p", *containers))
    advance(loop_thread, app, 1.0)
    return app, client


def _write(loop_thread: LoopThread, app: FakeKube, container: str, text: str) -> None:
    async def go() -> None:
        assert app.simulation is not None
        s = app.store.get("pods", "default/p")
        assert s is not None
        app.simulation.kubelet.write_log(s.obj, container, text)

    loop_thread.call(go())


def test_container_choice_errors(connect: Callable[[FakeKube], Client], loop_thread: LoopThread) -> None:
    app = manual_app(delay=1.0)
    client = connect(app)
    client.request("POST", PODS_PATH, pod("p", "a", "b"))
    r = client.send("GET", f"{PODS_PATH}/p/log")
    assert (r.status, r.json()["message"]) == (
        400,
        "a container name must be specified for pod p, choose one of: [a b]",
    )
    r = client.send("GET", f"{PODS_PATH}/p/log", query={"container": "c"})
    assert (r.status, r.json()["message"]) == (400, "container c is not valid for pod p")
    r = client.send("GET", f"{PODS_PATH}/p/log", query={"container": "a"})
    assert (r.status, r.json()["message"]) == (
        400,
        'container "a" in pod "p" is waiting to start: ContainerCreating',
    )
    r = client.send("GET", f"{PODS_PATH}/nope/log")
    assert r.status == 404 and r.json()["reason"] == "NotFound"


def test_option_validation(connect: Callable[[FakeKube], Client], loop_thread: LoopThread) -> None:
    _, client = _started(connect, loop_thread)
    r = client.send("GET", f"{PODS_PATH}/p/log", query={"tailLines": "-1"})
    assert r.status == 422
    assert (
        r.json()["message"]
        == 'PodLogOptions "p" is invalid: tailLines: Invalid value: -1: must be greater than or equal to 0'
    )
    r = client.send("GET", f"{PODS_PATH}/p/log", query={"limitBytes": "0"})
    assert r.status == 422
    r = client.send("GET", f"{PODS_PATH}/p/log", query={"tailLines": "x"})
    assert r.status == 400
    r = client.send("GET", f"{PODS_PATH}/p/log", query={"previous": "true"})
    assert (r.status, r.json()["message"]) == (
        400,
        'previous terminated container "main" in pod "p" not found',
    )
    assert client.send("POST", f"{PODS_PATH}/p/log", {}).status == 405


def test_tail_timestamps_and_limit(connect: Callable[[FakeKube], Client], loop_thread: LoopThread) -> None:
    app, client = _started(connect, loop_thread)
    _write(loop_thread, app, "main", "one\ntwo\nthree")
    r = client.send("GET", f"{PODS_PATH}/p/log")
    assert (r.status, r.headers["content-type"]) == (200, "text/plain")
    assert r.read() == b"one\ntwo\nthree\n"
    assert client.send("GET", f"{PODS_PATH}/p/log", query={"tailLines": "2"}).read() == b"two\nthree\n"
    assert client.send("GET", f"{PODS_PATH}/p/log", query={"tailLines": "0"}).read() == b""
    assert client.send("GET", f"{PODS_PATH}/p/log", query={"limitBytes": "6"}).read() == b"one\ntw"
    stamped = client.send("GET", f"{PODS_PATH}/p/log", query={"timestamps": "true", "tailLines": "1"}).read()
    assert re.fullmatch(rb"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{9}Z three\n", stamped)


def test_follow_streams_new_lines_and_ends_when_the_pod_is_deleted(
    connect: Callable[[FakeKube], Client], loop_thread: LoopThread
) -> None:
    app, client = _started(connect, loop_thread)
    _write(loop_thread, app, "main", "first")
    r = client.send("GET", f"{PODS_PATH}/p/log", query={"follow": "true"})
    assert r.status == 200
    got = b""
    while b"first\n" not in got:
        got += r.body.next_chunk(timeout=5)
    _write(loop_thread, app, "main", "second")
    while b"second\n" not in got:
        got += r.body.next_chunk(timeout=5)
    client.request("DELETE", f"{PODS_PATH}/p")
    rest = r.body.read_all()  # the stream ends (read_all returns) once the Pod is gone
    assert got + rest == b"first\nsecond\n"

"""``fakekube serve`` on a real socket: health, discovery, CRUD, list and watch with curl-like HTTP."""

from __future__ import annotations

import json
import subprocess
import sys

import httpx

from tests.fakekube.objects import raycluster
from tests.procs import free_port, start_server, stop_server


def rc(name: str, labels: dict[str, str] | None = None) -> dict[str, object]:
    """A minimal valid RayCluster body."""
    return raycluster(name, labels)


def test_health_and_version(fakekube_url: str) -> None:
    for path in ("/healthz", "/livez", "/readyz"):
        r = httpx.get(fakekube_url + path)
        assert r.status_code == 200 and r.text == "ok"
    v = httpx.get(fakekube_url + "/version").json()
    assert v["major"] == "1" and v["gitVersion"].startswith("v1.")


def test_serve_prints_url_and_python_m_works() -> None:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "fakekube", "serve", "--host", "127.0.0.1", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline().decode()
        assert line.strip() == f"fakekube serving on http://127.0.0.1:{port}"
        assert httpx.get(f"http://127.0.0.1:{port}/healthz").status_code == 200
    finally:
        stop_server(proc)
    assert proc.returncode == 0


def test_service_backend_flag_is_validated() -> None:
    port = free_port()
    r = subprocess.run(
        [sys.executable, "-m", "fakekube", "serve", "--port", str(port), "--service-backend", "bad"],
        capture_output=True,
        timeout=20,
    )
    assert r.returncode == 2
    assert b"NAMESPACE/NAME=" in r.stderr


def test_crud_list_watch_roundtrip(fakekube_url: str, namespace: str) -> None:
    base = f"{fakekube_url}/apis/ray.io/v1/namespaces/{namespace}/rayclusters"
    with httpx.Client() as c:
        r = c.post(base, json=rc("a", {"app": "x"}))
        assert r.status_code == 201, r.text
        created = r.json()
        rv = created["metadata"]["resourceVersion"]
        assert created["metadata"]["generation"] == 1 and created["metadata"]["uid"]
        assert c.get(f"{base}/a").json() == created
        listed = c.get(base, params={"labelSelector": "app=x"}).json()
        assert listed["kind"] == "RayClusterList" and [i["metadata"]["name"] for i in listed["items"]] == [
            "a"
        ]
        with c.stream("GET", base, params={"watch": "1", "resourceVersion": rv, "timeoutSeconds": "5"}) as w:
            upd = created | {"spec": {**created["spec"], "rayVersion": "2.10.0"}}
            assert c.put(f"{base}/a", json=upd).status_code == 200
            assert c.delete(f"{base}/a").status_code == 200
            events = []
            for line in w.iter_lines():
                events.append(json.loads(line))
                if len(events) == 2:
                    break
        assert [e["type"] for e in events] == ["MODIFIED", "DELETED"]
        assert events[0]["object"]["metadata"]["generation"] == 2


def test_sigterm_stops_cleanly() -> None:
    port = free_port()
    proc = start_server(["fakekube", "serve", "--port", str(port)], port)
    stop_server(proc)
    assert proc.returncode == 0

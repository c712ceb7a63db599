"""Behaviours beyond plain CRUD: finalizers, delete collection, namespace deletion, watch details
(410 ERROR event, timeoutSeconds, bookmarks, initial events), Table output, discovery, the Service
proxy, dry run and no-op writes."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx
import pytest
import yaml

from fakekube import FakeKube, create_app
from fakekube.testing import Client
from tests.fakekube.objects import RC_PATH, raycluster
from tests.procs import free_port, start_server, stop_server

MERGE = "application/merge-patch+json"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"


def events(body: bytes) -> list[dict[str, Any]]:
    """The watch events of a finished watch response."""
    return [json.loads(line) for line in body.splitlines() if line]


def test_finalizers_keep_the_object_until_removed(client: Client, app: FakeKube) -> None:
    obj = raycluster("f") | {"metadata": {"name": "f", "finalizers": ["ray.io/protect"]}}
    rv0 = client.send("POST", RC_PATH, obj).json()["metadata"]["resourceVersion"]
    r = client.send("DELETE", f"{RC_PATH}/f")
    assert r.status == 200
    kept = r.json()
    assert kept["kind"] == "RayCluster" and kept["metadata"]["deletionTimestamp"]
    assert kept["metadata"]["generation"] == 2  # marking deletion bumps generation
    assert client.send("GET", f"{RC_PATH}/f").json() == kept
    rv_marked = app.store.rv
    assert client.send("DELETE", f"{RC_PATH}/f").json() == kept and app.store.rv == rv_marked
    gone = client.send("PATCH", f"{RC_PATH}/f", {"metadata": {"finalizers": None}}, content_type=MERGE)
    assert gone.status == 200
    assert client.send("GET", f"{RC_PATH}/f").status == 404
    w = client.send("GET", RC_PATH, query={"watch": "1", "resourceVersion": rv0, "timeoutSeconds": "1"})
    assert [e["type"] for e in events(w.read())] == ["MODIFIED", "DELETED"]


def test_delete_collection_with_selector(client: Client) -> None:
    for name, team in (("a", "x"), ("b", "x"), ("c", "y")):
        client.send("POST", RC_PATH, raycluster(name, {"team": team}))
    r = client.send("DELETE", RC_PATH, query={"labelSelector": "team=x"})
    assert r.status == 200
    body = r.json()
    assert body["kind"] == "RayClusterList" and [i["metadata"]["name"] for i in body["items"]] == ["a", "b"]
    assert [i["metadata"]["name"] for i in client.send("GET", RC_PATH).json()["items"]] == ["c"]


def test_namespace_deletion_removes_its_objects(connect: Callable[[FakeKube], Client]) -> None:
    client = connect(create_app(namespace_finalize_delay=0.3))
    assert client.send("POST", "/api/v1/namespaces", {"metadata": {"name": "tmp"}}).status == 201
    path = "/apis/ray.io/v1/namespaces/tmp/rayclusters"
    assert client.send("POST", path, raycluster("a")).status == 201
    r = client.send("DELETE", "/api/v1/namespaces/tmp")
    assert r.status == 200 and r.json()["status"]["phase"] == "Terminating"
    # until the namespace controller's turn the namespace is Terminating with its contents
    assert client.send("GET", "/api/v1/namespaces/tmp").json()["status"]["phase"] == "Terminating"
    assert [i["metadata"]["name"] for i in client.send("GET", path).json()["items"]] == ["a"]
    assert client.send("POST", path, raycluster("b")).status == 403
    time.sleep(0.35)  # the namespace controller (a timer on the app's loop thread) has run by now
    assert client.send("GET", path).json()["items"] == []
    assert client.send("GET", "/api/v1/namespaces/tmp").status == 404
    assert client.send("POST", path, raycluster("b")).json()["message"] == 'namespaces "tmp" not found'


def test_watch_too_old_is_an_error_event(connect: Callable[[FakeKube], Client]) -> None:
    c = connect(create_app(history_size=2))
    for i in range(4):
        c.send("POST", RC_PATH, raycluster(f"r{i}"))
    r = c.send("GET", RC_PATH, query={"watch": "true", "resourceVersion": "2"})
    assert r.status == 200
    (ev,) = events(r.read())
    assert ev["type"] == "ERROR" and ev["object"]["code"] == 410 and ev["object"]["reason"] == "Expired"
    assert ev["object"]["message"].startswith("too old resource version: 2 (")


def test_watch_initial_events_timeout_and_bookmarks(connect: Callable[[FakeKube], Client]) -> None:
    app = create_app(bookmark_interval=0.2)
    c = connect(app)
    c.send("POST", RC_PATH, raycluster("a", {"k": "1"}))
    c.send("POST", RC_PATH, raycluster("b"))
    r = c.send(
        "GET",
        RC_PATH,
        query={"watch": "1", "labelSelector": "k=1", "timeoutSeconds": "1", "allowWatchBookmarks": "true"},
    )
    evs = events(r.read())
    assert evs[0]["type"] == "ADDED" and evs[0]["object"]["metadata"]["name"] == "a"
    assert {e["type"] for e in evs[1:]} == {"BOOKMARK"} and len(evs) >= 3
    # the initial events end with an annotated bookmark; later (periodic) ones carry only the rv
    assert evs[1]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
    assert evs[2]["object"] == {
        "kind": "RayCluster",
        "apiVersion": "ray.io/v1",
        "metadata": {"resourceVersion": str(app.store.rv)},
    }
    r = c.send(
        "GET",
        RC_PATH,
        query={
            "watch": "1",
            "sendInitialEvents": "true",
            "allowWatchBookmarks": "true",
            "resourceVersionMatch": "NotOlderThan",
            "timeoutSeconds": "1",
        },
    )
    evs = events(r.read())
    assert [e["type"] for e in evs[:3]] == ["ADDED", "ADDED", "BOOKMARK"]
    assert evs[2]["object"]["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}


def test_table_output(client: Client) -> None:
    client.send("POST", RC_PATH, raycluster("a"))
    client.send(
        "PATCH", f"{RC_PATH}/a/status", {"status": {"state": "ready", "desiredCPU": "2"}}, content_type=MERGE
    )
    t = client.send("GET", RC_PATH, headers={"accept": TABLE}).json()
    assert t["kind"] == "Table" and t["apiVersion"] == "meta.k8s.io/v1"
    cols = [c["name"] for c in t["columnDefinitions"]]
    assert cols[0] == "Name" and "age" in cols and "status" in cols
    row = t["rows"][0]
    assert row["cells"][0] == "a" and row["cells"][cols.index("status")] == "ready"
    assert row["cells"][cols.index("cpus")] == "2"
    assert row["object"]["kind"] == "PartialObjectMetadata"
    one = client.send("GET", f"{RC_PATH}/a", headers={"accept": TABLE}).json()
    assert one["kind"] == "Table" and len(one["rows"]) == 1
    plain = client.send("GET", RC_PATH).json()
    assert plain["kind"] == "RayClusterList"
    ns = client.send("GET", "/api/v1/namespaces", headers={"accept": TABLE}).json()
    assert [c["name"] for c in ns["columnDefinitions"]] == ["Name", "Status", "Age"]


def test_discovery(client: Client) -> None:
    assert client.send("GET", "/api").json()["versions"] == ["v1"]
    groups = {g["name"] for g in client.send("GET", "/apis").json()["groups"]}
    assert groups == {"ray.io", "events.k8s.io", "apiextensions.k8s.io"}
    ray = client.send("GET", "/apis/ray.io").json()
    assert ray["preferredVersion"] == {"groupVersion": "ray.io/v1", "version": "v1"}
    assert [v["version"] for v in ray["versions"]] == ["v1", "v1alpha1"]
    res = {r["name"]: r for r in client.send("GET", "/apis/ray.io/v1").json()["resources"]}
    assert set(res) == {
        f"{p}{s}" for p in ("rayclusters", "rayjobs", "rayservices", "raycronjobs") for s in ("", "/status")
    }
    assert res["rayclusters"]["kind"] == "RayCluster" and res["rayclusters"]["namespaced"] is True
    assert "watch" in res["rayclusters"]["verbs"] and res["rayclusters/status"]["verbs"] == [
        "get",
        "patch",
        "update",
    ]
    core = {r["name"] for r in client.send("GET", "/api/v1").json()["resources"]}
    assert {"namespaces", "configmaps", "services", "services/proxy", "events"} <= core
    assert client.send("GET", "/apis/nope.io/v1").status == 404
    assert client.send("GET", "/version").json()["minor"] == "37"


class _Backend(BaseHTTPRequestHandler):
    def _answer(self) -> None:
        length = int(self.headers.get("content-length") or 0)
        body = self.rfile.read(length) if length else b""
        out = json.dumps({"method": self.command, "path": self.path, "body": body.decode()}).encode()
        self.send_response(201 if self.command == "POST" else 200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(out)))
        self.end_headers()
        self.wfile.write(out)

    do_GET = do_POST = do_DELETE = _answer

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def backend() -> Iterator[str]:
    """A local HTTP server standing in for a Ray dashboard; yields its base URL."""
    srv = ThreadingHTTPServer(("127.0.0.1", 0), _Backend)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def test_service_proxy_forwards_to_registered_backend(
    backend: str, connect: Callable[[FakeKube], Client]
) -> None:
    c = connect(create_app(service_backends={"default/head-svc": backend}))
    svc = {"metadata": {"name": "head-svc"}, "spec": {"ports": [{"port": 8265}]}}
    assert c.send("POST", "/api/v1/namespaces/default/services", svc).status == 201
    base = "/api/v1/namespaces/default/services/head-svc:8265/proxy"
    r = c.send("GET", base + "/api/jobs/", query={"limit": "2"})
    assert r.status == 200 and r.json() == {"method": "GET", "path": "/api/jobs/?limit=2", "body": ""}
    r = c.send("POST", base + "/api/jobs/", {"entrypoint": "python x.py"})
    assert r.status == 201 and r.json()["body"] == '{"entrypoint": "python x.py"}'


def test_service_backend_flag_on_the_command_line(backend: str) -> None:
    port = free_port()
    proc = start_server(
        ["fakekube", "serve", "--port", str(port), "--service-backend", f"default/dash={backend}"], port
    )
    try:
        url = f"http://127.0.0.1:{port}/api/v1/namespaces/default/services"
        httpx.post(
            url, json={"metadata": {"name": "dash"}, "spec": {"ports": [{"port": 8265}]}}
        ).raise_for_status()
        r = httpx.delete(f"{url}/dash/proxy/api/jobs/x")
        assert r.status_code == 200 and r.json()["method"] == "DELETE" and r.json()["path"] == "/api/jobs/x"
    finally:
        stop_server(proc)


def test_dry_run_and_noop_writes_change_nothing(client: Client, app: FakeKube) -> None:
    rv = app.store.rv
    r = client.send("POST", RC_PATH, raycluster("d"), query={"dryRun": "All"})
    assert r.status == 201 and r.json()["metadata"]["name"] == "d"
    assert app.store.rv == rv and client.send("GET", f"{RC_PATH}/d").status == 404
    made = client.send("POST", RC_PATH, raycluster("d")).json()
    same = client.send("PUT", f"{RC_PATH}/d", made)
    assert same.status == 200 and same.json() == made and app.store.rv == rv + 1


def test_list_at_exact_resource_version(client: Client) -> None:
    client.send("POST", RC_PATH, raycluster("a"))
    rv = client.send("GET", RC_PATH).json()["metadata"]["resourceVersion"]
    client.send("POST", RC_PATH, raycluster("b"))
    client.send("DELETE", f"{RC_PATH}/a")
    old = client.send("GET", RC_PATH, query={"resourceVersion": rv, "resourceVersionMatch": "Exact"}).json()
    assert [i["metadata"]["name"] for i in old["items"]] == ["a"] and old["metadata"]["resourceVersion"] == rv


def test_server_side_apply_creates_then_merges(client: Client) -> None:
    cfg = yaml.safe_dump(
        raycluster("s", {"a": "b"}) | {"spec": {**raycluster("s")["spec"], "rayVersion": "1"}}
    )
    ssa = "application/apply-patch+yaml"
    r = client.send("PATCH", f"{RC_PATH}/s", cfg, content_type=ssa)
    assert r.status == 422 and r.json()["details"]["causes"][0]["field"] == "fieldManager"
    r = client.send("PATCH", f"{RC_PATH}/s", cfg, content_type=ssa, query={"fieldManager": "me"})
    assert r.status == 201 and r.json()["metadata"]["labels"] == {"a": "b"}
    r = client.send(
        "PATCH",
        f"{RC_PATH}/s",
        cfg.replace("rayVersion: '1'", "rayVersion: '2'"),
        content_type=ssa,
        query={"fieldManager": "me"},
    )
    assert (
        r.status == 200 and r.json()["spec"]["rayVersion"] == "2" and r.json()["metadata"]["generation"] == 2
    )


def test_openapi_v3_documents(client: Client) -> None:
    root = client.send("GET", "/openapi/v3").json()
    url = root["paths"]["apis/ray.io/v1"]["serverRelativeURL"]
    path, _, query = url.partition("?")
    doc = client.send("GET", path, query=dict([query.split("=")])).json()
    op = doc["paths"]["/apis/ray.io/v1/namespaces/{namespace}/rayclusters/{name}"]["patch"]
    assert op["x-kubernetes-group-version-kind"] == {"group": "ray.io", "version": "v1", "kind": "RayCluster"}
    assert "fieldValidation" in {p["name"] for p in op["parameters"]}
    assert client.send("GET", "/openapi/v3/apis/nope.io/v1").status == 404
    v2 = client.send("GET", "/openapi/v2").json()
    assert v2["swagger"] == "2.0" and "spec" in v2["definitions"]["io.ray.v1.RayCluster"]["properties"]


def test_create_in_terminating_namespace_is_forbidden(connect: Callable[[FakeKube], Client]) -> None:
    app = create_app(namespace_finalize_delay=0)
    client = connect(app)
    client.send("POST", "/api/v1/namespaces", {"metadata": {"name": "busy"}})
    path = "/apis/ray.io/v1/namespaces/busy/rayclusters"
    client.send("POST", path, raycluster("held") | {"metadata": {"name": "held", "finalizers": ["x.io/f"]}})
    assert client.send("DELETE", "/api/v1/namespaces/busy").json()["status"]["phase"] == "Terminating"
    before = app.store.rv
    r = client.send("POST", path, raycluster("new"))
    assert r.status == 403 and r.json()["reason"] == "Forbidden"
    assert r.json()["message"] == (
        'rayclusters.ray.io "new" is forbidden: unable to create new content in '
        "namespace busy because it is being terminated"
    )
    assert r.json()["details"]["causes"][0]["reason"] == "NamespaceTerminating" and app.store.rv == before
    # the held object was marked deleting; dropping its finalizer lets the namespace go too
    client.send("PATCH", f"{path}/held", {"metadata": {"finalizers": None}}, content_type=MERGE)
    assert client.send("GET", "/api/v1/namespaces/busy").status == 404


def test_crd_schema_prunes_defaults_and_validates(client: Client, app: FakeKube) -> None:
    body = raycluster("sch")
    body["spec"]["bogusField"] = 1
    r = client.send("POST", RC_PATH, body, query={"fieldValidation": "Strict"})
    assert r.status == 400 and 'strict decoding error: unknown field "spec.bogusField"' in r.json()["message"]
    r = client.send("POST", RC_PATH, body)  # default Warn: pruned, with a Warning header
    assert r.status == 201 and "bogusField" not in r.json()["spec"]
    assert r.headers["warning"] == '299 - "unknown field \\"spec.bogusField\\""'
    bad = raycluster("Bad_Name")
    bad["spec"]["headGroupSpec"]["rayStartParams"] = "not-a-map"
    before = app.store.rv
    r = client.send("POST", RC_PATH, bad)
    fields = [c["field"] for c in r.json()["details"]["causes"]]
    assert r.status == 422 and fields[0] == "metadata.name" and "spec.headGroupSpec.rayStartParams" in fields
    assert app.store.rv == before


def test_schemas_can_be_turned_off(connect: Callable[[FakeKube], Client]) -> None:
    c = connect(create_app(schemas=False))
    r = c.send(
        "POST",
        RC_PATH,
        {"apiVersion": "ray.io/v1", "kind": "RayCluster", "metadata": {"name": "x"}, "spec": {}},
    )
    assert r.status == 201 and r.json()["spec"] == {}


def test_generate_name_retries_a_taken_name(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    from fakekube._registry import objects

    draws = iter(["g-aaaaa", "g-aaaaa", "g-bbbbb"])
    monkeypatch.setattr(objects, "generate_name", lambda prefix: next(draws))
    body = raycluster("x") | {"metadata": {"generateName": "g-"}}
    assert client.send("POST", RC_PATH, body).json()["metadata"]["name"] == "g-aaaaa"
    assert client.send("POST", RC_PATH, body).json()["metadata"]["name"] == "g-bbbbb"


def test_watch_ends_and_unsubscribes_when_the_client_goes_away(app: FakeKube) -> None:
    import asyncio

    sent: list[dict[str, Any]] = []
    before = list(app.store._listeners)  # the CRD registry's own listener stays

    async def run() -> None:
        calls = 0

        async def receive() -> dict[str, Any]:
            nonlocal calls
            calls += 1
            if calls == 1:
                return {"type": "http.request", "body": b"", "more_body": False}
            await asyncio.sleep(0.2)
            return {"type": "http.disconnect"}

        async def send(msg: dict[str, Any]) -> None:
            sent.append(msg)

        scope = {"type": "http", "method": "GET", "path": RC_PATH, "query_string": b"watch=1", "headers": []}
        await asyncio.wait_for(app(scope, receive, send), 5)

    asyncio.run(run())
    assert sent[0]["status"] == 200 and sent[-1].get("more_body") is False
    assert app.store._listeners == before


def test_managed_fields_record_managers(client: Client) -> None:
    made = client.send("POST", RC_PATH, raycluster("mf"), headers={"user-agent": "curl/8.5.0"}).json()
    (entry,) = made["metadata"]["managedFields"]
    assert (entry["manager"], entry["operation"], entry["fieldsType"]) == ("curl", "Update", "FieldsV1")
    assert "f:rayVersion" in entry["fieldsV1"]["f:spec"]
    client.send(
        "PATCH",
        f"{RC_PATH}/mf",
        {"metadata": {"labels": {"x": "y"}}},
        content_type=MERGE,
        query={"fieldManager": "patcher"},
    )
    client.send(
        "PATCH",
        f"{RC_PATH}/mf/status",
        {"status": {"state": "ready"}},
        content_type=MERGE,
        query={"fieldManager": "operator"},
    )
    got = client.send("GET", f"{RC_PATH}/mf").json()["metadata"]["managedFields"]
    summary = {(e["manager"], e.get("subresource")): e["fieldsV1"] for e in got}
    assert summary[("patcher", None)] == {"f:metadata": {"f:labels": {".": {}, "f:x": {}}}}
    assert "f:state" in summary[("operator", "status")]["f:status"]
    assert ("curl", None) in summary

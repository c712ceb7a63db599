"""Field selectors on allowlisted fields, evaluated by the gateway: parsing and splitting, paged lists
with exact continue tokens (over synthetic pages and over fakekube), and watch event rewriting."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import threading
import time
from collections.abc import Awaitable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest
from litestar.testing import TestClient

from handler import GatewayError, Settings, create_app
from handler import local_selection as filtering
from handler.field_selectors import DEFAULT_FIELDS, plan
from handler.responses import Response
from kubeapi.fields import FieldSelectorSyntaxError, field_value, parse_field_selector
from tests.handler.gateway_procs import GatewayFactory

# -- parsing and splitting ------------------------------------------------------------------------


def test_parse_operators_and_escapes() -> None:
    # The gateway parses with kubeapi.fields (fields.ParseSelector), which sorts the terms as Go does.
    terms = parse_field_selector(
        r"status.state=ready,spec.rayVersion!=2.9,metadata.name==a\,b\=c"
    ).requirements
    assert sorted((t.field, t.operator, t.value) for t in terms) == sorted(
        [
            ("status.state", "=", "ready"),
            ("spec.rayVersion", "!=", "2.9"),
            ("metadata.name", "=", "a,b=c"),
        ]
    )
    for bad in ("status.state", r"a=b\x", "a=b=c"):
        with pytest.raises(FieldSelectorSyntaxError):
            parse_field_selector(bad)
    # "=x" is a term on the empty field name for Go (no error): the gateway leaves it to the upstream.
    assert plan("=x", DEFAULT_FIELDS).local == ()


def test_plan_splits_supported_and_local_terms() -> None:
    p = plan("metadata.name=x,status.state=ready", DEFAULT_FIELDS)
    assert p.upstream == "metadata.name=x" and [t.field for t in p.local] == ["status.state"]
    # Only upstream-supported fields: a plain pass-through.
    assert plan("metadata.namespace=a", DEFAULT_FIELDS).local == ()
    # A field outside the allowlist (or a parse error) leaves the whole selector to the upstream.
    assert plan("status.state=ready,spec.other=1", DEFAULT_FIELDS) == plan(
        "status.state=ready,spec.other=1", ()
    )
    assert (
        plan("status.state=ready,spec.other=1", DEFAULT_FIELDS).upstream == "status.state=ready,spec.other=1"
    )
    assert plan("status.state", DEFAULT_FIELDS).local == ()
    # The allowlist is configurable.
    assert plan("status.state=ready", ("spec.suspend",)).local == ()


def test_field_values_compare_as_strings() -> None:
    obj = {"spec": {"suspend": True, "replicas": 3, "rayVersion": "2.52.0"}, "status": None}
    assert field_value(obj, "spec.suspend") == "true"
    assert field_value(obj, "spec.replicas") == "3"
    assert field_value(obj, "status.state") == "" and field_value(obj, "spec.missing.deeper") == ""


# -- paged lists over synthetic upstream pages ----------------------------------------------------


class Recorder:
    """Collects what the sender would send of a returned response (status, every body chunk)."""

    def __init__(self) -> None:
        self.status = 0
        self.chunks: list[bytes] = []
        self.ended = False

    async def take(self, response: Awaitable[Response]) -> None:
        r = await response
        self.status = r.status
        assert not isinstance(r.body, bytes)
        async for chunk in r.body:
            assert not self.ended
            self.chunks.append(chunk)
        self.ended = True

    def document(self) -> Any:
        return json.loads(b"".join(self.chunks))


def obj(name: str, state: str) -> dict[str, Any]:
    return {"metadata": {"namespace": "ns", "name": name}, "status": {"state": state}}


class PagedUpstream:
    """Objects in key order, served ``limit`` at a time with index continue tokens (as etcd would)."""

    def __init__(self, items: list[dict[str, Any]]) -> None:
        self.items = items
        self.queries: list[dict[str, list[str]]] = []

    async def fetch(self, query: str) -> tuple[int, Any]:
        q = parse_qs(query)
        self.queries.append(q)
        start = int(q.get("continue", ["0"])[0])
        limit = int(q["limit"][0])
        page = self.items[start : start + limit]
        more = start + limit < len(self.items)
        meta = {"resourceVersion": "42", "continue": str(start + limit) if more else ""}
        return 200, {"kind": "RayClusterList", "apiVersion": "ray.io/v1", "metadata": meta, "items": page}


def run_list(up: PagedUpstream, query: str) -> Any:
    rec = Recorder()
    terms = plan("status.state=ready", DEFAULT_FIELDS).local
    asyncio.run(rec.take(filtering.serve_list(query, "", terms, filtering.Shape(), up.fetch)))
    assert rec.status == 200 and rec.ended
    return rec.document()


@pytest.fixture
def small_pages(monkeypatch: pytest.MonkeyPatch) -> None:
    """Upstream pages of 3 items, so a handful of objects spans several pages."""
    monkeypatch.setattr(filtering, "MIN_PAGE", 3)


def test_paged_list_returns_limit_matches_and_resumes_exactly(small_pages: None) -> None:
    states = ["ready", "failed", "ready", "ready", "failed", "failed", "failed", "ready", "ready", "failed"]
    items = [obj(f"c{i:02d}", s) for i, s in enumerate(states)]
    up = PagedUpstream(items)
    expected = [o["metadata"]["name"] for o in items if o["status"]["state"] == "ready"]
    got: list[str] = []
    token = ""
    pages = 0
    while True:
        doc = run_list(up, "limit=2" + (f"&continue={token}" if token else ""))
        names = [i["metadata"]["name"] for i in doc["items"]]
        assert (
            len(names) <= 2 and doc["kind"] == "RayClusterList" and doc["metadata"]["resourceVersion"] == "42"
        )
        got += names
        pages += 1
        token = doc["metadata"].get("continue", "")
        if not token:
            break
    assert got == expected and pages == 3
    # Every upstream request asked for whole pages without the local selector.
    assert all("fieldSelector" not in q and q["limit"] == ["3"] for q in up.queries)


def test_resume_after_the_last_item_was_deleted(small_pages: None) -> None:
    items = [obj(n, "ready") for n in ("a", "b", "c", "d", "e")]
    up = PagedUpstream(items)
    first = run_list(up, "limit=2")
    assert [i["metadata"]["name"] for i in first["items"]] == ["a", "b"]
    del up.items[1]  # "b" goes away before the next page is asked for
    rest = run_list(up, f"limit=10&continue={first['metadata']['continue']}")
    assert [i["metadata"]["name"] for i in rest["items"]] == ["c", "d", "e"]
    assert "continue" not in rest["metadata"]


def test_table_request_answered_with_a_plain_list_stays_a_list(small_pages: None) -> None:
    up = PagedUpstream([obj("a", "ready"), obj("b", "new")])
    rec = Recorder()
    terms = plan("status.state=ready", DEFAULT_FIELDS).local
    asyncio.run(rec.take(filtering.serve_list("", "", terms, filtering.Shape(True), up.fetch)))
    doc = rec.document()
    assert doc["kind"] == "RayClusterList" and [i["metadata"]["name"] for i in doc["items"]] == ["a"]


def test_no_limit_reads_every_page_and_bad_tokens_are_400(small_pages: None) -> None:
    up = PagedUpstream([obj(f"x{i}", "ready" if i % 2 else "new") for i in range(8)])
    doc = run_list(up, "")
    assert [i["metadata"]["name"] for i in doc["items"]] == ["x1", "x3", "x5", "x7"]
    assert len(up.queries) == 3
    with pytest.raises(GatewayError) as e:
        run_list(up, "continue=not-a-token")
    assert e.value.code == 400


# -- through the gateway over fakekube ------------------------------------------------------------


def make_clusters(
    http: httpx.Client, base: str, states: dict[str, str | None], suspend: frozenset[str] = frozenset()
) -> None:
    """Create one RayCluster per name and set ``status.state`` through the status subresource."""
    for name, state in states.items():
        body = {
            "apiVersion": "ray.io/v1",
            "kind": "RayCluster",
            "metadata": {"name": name},
            "spec": {
                "suspend": name in suspend,
                "headGroupSpec": {
                    "rayStartParams": {},
                    "template": {
                        "spec": {"containers": [{"name": "ray-head", "image": "rayproject/ray:2.52.0"}]}
                    },
                },
            },
        }
        assert http.post(base, json=body).status_code == 201
        if state is not None:
            set_state(http, base, name, state)


def set_state(http: httpx.Client, base: str, name: str, state: str) -> None:
    r = http.patch(
        f"{base}/{name}/status",
        content=json.dumps({"status": {"state": state}}),
        headers={"Content-Type": "application/merge-patch+json"},
    )
    assert r.status_code == 200, r.text


def names(doc: Any) -> list[str]:
    return [i["metadata"]["name"] for i in doc["items"]]


def test_list_with_gateway_evaluated_selectors(gateway_url: str, namespace: str, http: httpx.Client) -> None:
    base = f"{gateway_url}/apis/ray.io/v1/namespaces/{namespace}/rayclusters"
    states: dict[str, str | None] = {"a": "ready", "b": "failed", "c": "ready", "d": None, "e": "ready"}
    make_clusters(http, base, states, suspend=frozenset({"c", "d"}))
    assert names(http.get(base, params={"fieldSelector": "status.state=ready"}).json()) == ["a", "c", "e"]
    assert names(http.get(base, params={"fieldSelector": "status.state!=ready"}).json()) == ["b", "d"]
    assert names(http.get(base, params={"fieldSelector": "spec.suspend=true"}).json()) == ["c", "d"]
    both = "status.state=ready,spec.suspend=false,metadata.name!=a"
    assert names(http.get(base, params={"fieldSelector": both}).json()) == ["e"]
    # Cluster-wide list, narrowed by the upstream-supported part.
    r = http.get(
        f"{gateway_url}/apis/ray.io/v1/rayclusters",
        params={"fieldSelector": f"metadata.namespace={namespace},status.state=ready"},
    )
    assert names(r.json()) == ["a", "c", "e"]
    # limit / continue through the gateway.
    page1 = http.get(base, params={"fieldSelector": "status.state=ready", "limit": "2"}).json()
    assert names(page1) == ["a", "c"]
    page2 = http.get(
        base,
        params={
            "fieldSelector": "status.state=ready",
            "limit": "2",
            "continue": page1["metadata"]["continue"],
        },
    ).json()
    assert names(page2) == ["e"] and "continue" not in page2["metadata"]
    # Fields outside the allowlist get the upstream's 400, unchanged.
    r = http.get(base, params={"fieldSelector": "spec.headGroupSpec.serviceType=ClusterIP"})
    assert (
        r.status_code == 400
        and r.json()["reason"] == "BadRequest"
        and "field label not supported" in r.json()["message"]
    )


def test_paged_list_over_fakekube_spanning_upstream_pages(
    fakekube_url: str, namespace: str, http: httpx.Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(filtering, "MIN_PAGE", 2)
    base = f"{fakekube_url}/apis/ray.io/v1/namespaces/{namespace}/rayclusters"
    states: dict[str, str | None] = {f"k{i}": ("ready" if i in (0, 3, 4, 6) else "failed") for i in range(8)}
    make_clusters(http, base, states)
    with TestClient(
        create_app(Settings(authentication="none", accept_hosts=".*", upstream=fakekube_url))
    ) as c:
        got: list[str] = []
        params = {"fieldSelector": "status.state=ready", "limit": "1"}
        while True:
            doc = c.get(f"/apis/ray.io/v1/namespaces/{namespace}/rayclusters", params=params).json()
            assert len(doc["items"]) <= 1
            got += names(doc)
            if not doc["metadata"].get("continue"):
                break
            params["continue"] = doc["metadata"]["continue"]
    assert got == ["k0", "k3", "k4", "k6"]


# -- watch ------------------------------------------------------------------------------------------


def test_watch_filter_rewrites_transitions() -> None:
    f = filtering.WatchFilter(plan("status.state=ready", DEFAULT_FIELDS).local)

    def ev(kind: str, name: str, state: str) -> str | None:
        out = f.event(json.dumps({"type": kind, "object": obj(name, state)}).encode())
        return None if out is None else json.loads(out)["type"]

    assert ev("ADDED", "a", "new") is None
    assert ev("MODIFIED", "a", "ready") == "ADDED"
    assert ev("MODIFIED", "a", "ready") == "MODIFIED"
    assert ev("MODIFIED", "a", "failed") == "DELETED"
    assert ev("MODIFIED", "a", "failed") is None
    assert ev("DELETED", "a", "failed") is None
    assert ev("MODIFIED", "unknown", "failed") == "DELETED"  # may be in the caller's list: told once
    assert ev("MODIFIED", "unknown", "failed") is None
    assert ev("ADDED", "b", "ready") == "ADDED" and ev("DELETED", "b", "ready") == "DELETED"
    bookmark = json.dumps({"type": "BOOKMARK", "object": {"metadata": {"resourceVersion": "9"}}}).encode()
    assert f.event(bookmark) == bookmark
    # With the state at the starting resourceVersion known, an unknown key was never listed.
    seeded = filtering.WatchFilter(f.terms, known={"ns/was-ready": True, "ns/was-new": False})
    for kind, name, state, want in [
        ("MODIFIED", "never-seen", "failed", None),
        ("MODIFIED", "was-new", "failed", None),
        ("MODIFIED", "was-ready", "failed", "DELETED"),
        ("MODIFIED", "was-new", "ready", "ADDED"),
    ]:
        out = seeded.event(json.dumps({"type": kind, "object": obj(name, state)}).encode())
        assert (None if out is None else json.loads(out)["type"]) == want, name


@pytest.fixture
def watch_lines(
    gateway_url: str, namespace: str
) -> Iterator[tuple[str, list[tuple[str, str, str]], threading.Event]]:
    """A gateway watch with ``fieldSelector=status.state=ready`` read in a thread: (base URL,
    received ``(type, name, state)``, an event set once the stream is open)."""
    base = f"{gateway_url}/apis/ray.io/v1/namespaces/{namespace}/rayclusters"
    got: list[tuple[str, str, str]] = []
    opened = threading.Event()

    def read() -> None:
        params = {"watch": "1", "fieldSelector": "status.state=ready", "timeoutSeconds": "6"}
        with httpx.stream("GET", base, params=params, timeout=30) as r:
            assert r.status_code == 200
            opened.set()
            for line in r.iter_lines():
                if line.strip():
                    e = json.loads(line)
                    got.append(
                        (
                            e["type"],
                            e["object"]["metadata"]["name"],
                            e["object"].get("status", {}).get("state", ""),
                        )
                    )

    t = threading.Thread(target=read, daemon=True)
    t.start()
    assert opened.wait(10)
    yield base, got, opened
    t.join(15)
    assert not t.is_alive()


def test_watch_through_the_gateway_adds_and_deletes_on_selector_transitions(
    watch_lines: tuple[str, list[tuple[str, str, str]], threading.Event], http: httpx.Client
) -> None:
    base, got, _ = watch_lines
    make_clusters(http, base, {"w1": None, "w2": "failed"})
    set_state(http, base, "w1", "ready")  # starts matching → ADDED
    http.patch(
        f"{base}/w1",
        content='{"metadata":{"labels":{"x":"1"}}}',
        headers={"Content-Type": "application/merge-patch+json"},
    )  # still matching → MODIFIED
    set_state(http, base, "w1", "failed")  # stops matching → DELETED
    set_state(http, base, "w2", "ready")  # → ADDED
    assert http.delete(f"{base}/w2").status_code == 200  # → DELETED
    deadline = time.monotonic() + 10
    while len(got) < 5 and time.monotonic() < deadline:
        time.sleep(0.05)
    assert got == [
        ("ADDED", "w1", "ready"),
        ("MODIFIED", "w1", "ready"),
        ("DELETED", "w1", "failed"),
        ("ADDED", "w2", "ready"),
        ("DELETED", "w2", "ready"),
    ]


# -- Table output (kubectl) -------------------------------------------------------------------------

TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"


def test_table_lists_and_watches_are_filtered(gateway_url: str, namespace: str, http: httpx.Client) -> None:
    base = f"{gateway_url}/apis/ray.io/v1/namespaces/{namespace}/rayclusters"
    make_clusters(http, base, {"t1": "ready", "t2": "failed", "t3": "ready"})
    r = http.get(
        base, params={"fieldSelector": "status.state=ready", "limit": "1"}, headers={"Accept": TABLE}
    )
    table = r.json()
    assert table["kind"] == "Table" and table["apiVersion"] == "meta.k8s.io/v1"
    assert "status" in [c["name"] for c in table["columnDefinitions"]]
    (row,) = table["rows"]
    assert row["cells"][0] == "t1" and row["object"]["kind"] == "PartialObjectMetadata"
    r = http.get(
        base,
        params={
            "fieldSelector": "status.state=ready",
            "continue": table["metadata"]["continue"],
            "includeObject": "Object",
        },
        headers={"Accept": TABLE},
    )
    assert [(row["cells"][0], row["object"]["status"]["state"]) for row in r.json()["rows"]] == [
        ("t3", "ready")
    ]
    params = {"watch": "1", "fieldSelector": "status.state=ready", "timeoutSeconds": "1"}
    with httpx.stream("GET", base, params=params, headers={"Accept": TABLE}, timeout=30) as w:
        events = [json.loads(line) for line in w.iter_lines() if line.strip()]
    assert [(e["type"], e["object"]["kind"], e["object"]["rows"][0]["cells"][0]) for e in events] == [
        ("ADDED", "Table", "t1"),
        ("ADDED", "Table", "t3"),
    ]


def test_kubectl_get_with_a_status_field_selector(
    gateway_url: str, namespace: str, http: httpx.Client
) -> None:
    base = f"{gateway_url}/apis/ray.io/v1/namespaces/{namespace}/rayclusters"
    make_clusters(http, base, {"kc-ready": "ready", "kc-failed": "failed"})
    kubectl = str(Path(sys.executable).parent / "kubectl")
    out = subprocess.run(
        [
            kubectl,
            "--server",
            gateway_url,
            "-n",
            namespace,
            "get",
            "rayclusters",
            "--field-selector",
            "status.state=ready",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 0, out.stderr
    header, *rows = out.stdout.splitlines()
    assert "STATUS" in header.split()
    assert [r.split()[0] for r in rows] == ["kc-ready"] and "ready" in rows[0].split()


def test_gateway_evaluation_can_be_turned_off(
    gateway_factory: GatewayFactory, fakekube_url: str, namespace: str, http: httpx.Client
) -> None:
    assert Settings.from_env({"KUBERAY_APISERVER_FIELD_SELECTOR_FIELDS": ""}).field_selector_fields == ()
    assert Settings.from_env({}).field_selector_fields == DEFAULT_FIELDS
    plain = gateway_factory(fakekube_url, ["--field-selector-fields", ""])
    only_suspend = gateway_factory(fakekube_url, ["--field-selector-fields", "spec.suspend"])
    path = f"/apis/ray.io/v1/namespaces/{namespace}/rayclusters"
    make_clusters(http, fakekube_url + path, {"s1": "ready"}, suspend=frozenset({"s1"}))
    r = http.get(plain + path, params={"fieldSelector": "status.state=ready"})
    assert r.status_code == 400 and r.json()["reason"] == "BadRequest"  # a pure proxy: the upstream's answer
    assert http.get(only_suspend + path, params={"fieldSelector": "status.state=ready"}).status_code == 400
    assert names(http.get(only_suspend + path, params={"fieldSelector": "spec.suspend=true"}).json()) == [
        "s1"
    ]


def test_watch_from_a_listed_resource_version_knows_what_the_list_held(
    gateway_url: str, namespace: str, http: httpx.Client
) -> None:
    base = f"{gateway_url}/apis/ray.io/v1/namespaces/{namespace}/rayclusters"
    make_clusters(http, base, {"r-a": "ready", "r-b": "failed"})
    listed = http.get(base, params={"fieldSelector": "status.state=ready"}).json()
    assert names(listed) == ["r-a"]
    rv = listed["metadata"]["resourceVersion"]
    # Changes after the list, replayed by a watch from its resourceVersion (as an informer does).
    http.patch(
        f"{base}/r-b",
        content='{"metadata":{"labels":{"x":"1"}}}',
        headers={"Content-Type": "application/merge-patch+json"},
    )
    set_state(http, base, "r-a", "failed")
    set_state(http, base, "r-b", "ready")
    params = {
        "watch": "1",
        "fieldSelector": "status.state=ready",
        "resourceVersion": rv,
        "timeoutSeconds": "1",
    }
    with httpx.stream("GET", base, params=params, timeout=30) as w:
        events = [json.loads(line) for line in w.iter_lines() if line.strip()]
    # r-b's label change while it did not match is no event at all: the list never held it.
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("DELETED", "r-a"),
        ("ADDED", "r-b"),
    ]

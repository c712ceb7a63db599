"""Contract scenarios: Kubernetes API behaviours (DESIGN.md §3, issue 2) exercised over HTTP.

Each scenario is a function ``(Session) -> None`` that sends requests through the session (which
records every response) and asserts the facts it is named for — code and ``reason`` — as the
real kube-apiserver answers them; the full normalised transcripts are then compared between the
reference server and every other target by ``test_scenarios.py``.

Sources for the expected behaviour: kubernetes.io/docs/reference/using-api/api-concepts/
("API concepts": watch, bookmarks, pagination, resourceVersion, dry run, field validation,
Table), .../kubernetes-api/common-definitions/status/ (Status), "Labels and Selectors", "Field
Selectors", "Finalizers", and the apiserver sources under k8s.io/apiserver/pkg/endpoints/handlers
and k8s.io/apiextensions-apiserver/pkg/apiserver — and, decisively, the reference server itself.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import yaml

from tests.contract.client import RAY, Session

Json = Any

MERGE = "application/merge-patch+json"
JSONPATCH = "application/json-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
APPLY = "application/apply-patch+yaml"


@dataclass(frozen=True)
class Scenario:
    """A named scenario; ``core`` ones use core kinds (namespaces, configmaps...) the gateway
    does not route, so they run only against API servers directly."""

    name: str
    run: Callable[[Session], None]
    core: bool = False


SCENARIOS: dict[str, Scenario] = {}


def scenario(core: bool = False) -> Callable[[Callable[[Session], None]], Callable[[Session], None]]:
    """Register the decorated function as a scenario named after it (without ``sc_``)."""

    def register(fn: Callable[[Session], None]) -> Callable[[Session], None]:
        name = fn.__name__.removeprefix("sc_")
        SCENARIOS[name] = Scenario(name, fn, core)
        return fn

    return register


# -- helpers ------------------------------------------------------------------------------------


def raycluster(
    name: str | None, labels: dict[str, str] | None = None, image: str = "rayproject/ray:2.52.0", **meta: Any
) -> dict[str, Any]:
    """A small valid RayCluster: one head group, one worker group (fields the CRD requires)."""
    metadata: dict[str, Any] = {**meta}
    if name is not None:
        metadata["name"] = name
    if labels:
        metadata["labels"] = labels
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": metadata,
        "spec": {
            "rayVersion": "2.52.0",
            "headGroupSpec": {
                "rayStartParams": {},
                "template": {"spec": {"containers": [{"name": "ray-head", "image": image}]}},
            },
            "workerGroupSpecs": [
                {
                    "groupName": "workers",
                    "replicas": 1,
                    "minReplicas": 0,
                    "maxReplicas": 3,
                    "rayStartParams": {},
                    "template": {"spec": {"containers": [{"name": "ray-worker", "image": image}]}},
                }
            ],
        },
    }


def expect(r: httpx.Response, code: int, reason: str | None = None) -> Json:
    """Assert the status code (and the ``Status`` reason when given); return the JSON body."""
    body = r.json()
    assert r.status_code == code, f"{r.request.method} {r.request.url}: {r.status_code} {r.text[:600]}"
    if reason is not None:
        assert body.get("kind") == "Status" and body.get("status") == "Failure", body
        assert body.get("reason") == reason, body
        assert body.get("code") == code, body
    return body


def create(s: Session, name: str, labels: dict[str, str] | None = None, **kw: Any) -> Json:
    """Create a RayCluster ``name`` in the session namespace; assert 201; return it."""
    return expect(s.post(s.ray(), raycluster(name, labels, **kw)), 201)


def names(body: Json) -> list[str]:
    """Names of a list response's items, in order."""
    return [i["metadata"]["name"] for i in body["items"]]


# -- CRUD ---------------------------------------------------------------------------------------


@scenario()
def sc_crud_roundtrip(s: Session) -> None:
    obj = create(s, "rc-a", {"app": "a"})
    assert obj["metadata"]["generation"] == 1 and obj["metadata"]["resourceVersion"]
    got = expect(s.get(s.ray(name="rc-a")), 200)
    assert got["metadata"]["uid"] == obj["metadata"]["uid"]
    lst = expect(s.get(s.ray()), 200)
    assert lst["kind"] == "RayClusterList" and names(lst) == ["rc-a"]
    got["spec"]["workerGroupSpecs"][0]["replicas"] = 2
    upd = expect(s.put(s.ray(name="rc-a"), got), 200)
    assert upd["metadata"]["generation"] == 2
    upd["metadata"]["labels"] = {"app": "b"}
    upd2 = expect(s.put(s.ray(name="rc-a"), upd), 200)
    assert upd2["metadata"]["generation"] == 2, "metadata-only change must not bump generation"
    gone = expect(s.delete(s.ray(name="rc-a")), 200)
    assert gone["kind"] == "Status" and gone["status"] == "Success"
    assert gone["details"]["name"] == "rc-a" and gone["details"]["uid"] == obj["metadata"]["uid"]
    expect(s.get(s.ray(name="rc-a")), 404, "NotFound")


@scenario()
def sc_create_yaml_body(s: Session) -> None:
    text = yaml.safe_dump(raycluster("rc-yaml", {"fmt": "yaml"}))
    expect(s.post(s.ray(), content=text, content_type="application/yaml"), 201)
    expect(s.get(s.ray(name="rc-yaml")), 200)


@scenario()
def sc_generate_name(s: Session) -> None:
    obj = expect(s.post(s.ray(), raycluster(None, generateName="gen-")), 201)
    assert obj["metadata"]["name"].startswith("gen-") and len(obj["metadata"]["name"]) > 4
    expect(s.get(s.ray()), 200)


@scenario()
def sc_cluster_wide_list(s: Session) -> None:
    other = s.new_namespace()
    create(s, "rc-1", {"run": s.ns})
    expect(s.post(s.ray(ns=other), raycluster("rc-2", {"run": s.ns})), 201)
    lst = expect(s.get(f"{RAY}/rayclusters", params={"labelSelector": f"run={s.ns}"}), 200)
    assert sorted(names(lst)) == ["rc-1", "rc-2"]
    lst = expect(
        s.get(
            f"{RAY}/rayclusters",
            params={"labelSelector": f"run={s.ns}", "fieldSelector": f"metadata.namespace={other}"},
        ),
        200,
    )
    assert names(lst) == ["rc-2"]


@scenario()
def sc_all_ray_kinds_empty_lists(s: Session) -> None:
    for plural, kind in [
        ("rayclusters", "RayClusterList"),
        ("rayjobs", "RayJobList"),
        ("rayservices", "RayServiceList"),
        ("raycronjobs", "RayCronJobList"),
    ]:
        body = expect(s.get(s.ray(plural)), 200)
        assert body["kind"] == kind and body["items"] == []


# -- errors -------------------------------------------------------------------------------------


@scenario()
def sc_error_already_exists(s: Session) -> None:
    create(s, "dup")
    expect(s.post(s.ray(), raycluster("dup")), 409, "AlreadyExists")


@scenario()
def sc_error_not_found(s: Session) -> None:
    body = expect(s.get(s.ray(name="nope")), 404, "NotFound")
    assert body["details"] == {"name": "nope", "group": "ray.io", "kind": "rayclusters"}
    expect(s.put(s.ray(name="nope"), raycluster("nope", resourceVersion="1")), 404, "NotFound")
    expect(s.patch(s.ray(name="nope"), {"metadata": {"labels": {"a": "b"}}}, MERGE), 404, "NotFound")
    expect(s.delete(s.ray(name="nope")), 404, "NotFound")
    expect(s.get(s.ray(name="nope", sub="status")), 404, "NotFound")
    expect(s.get(s.ray("rayjobs", name="nope")), 404, "NotFound")


@scenario()
def sc_error_namespace_missing(s: Session) -> None:
    expect(s.post(s.ray(ns="no-such-ns-x1"), raycluster("rc")), 404, "NotFound")
    expect(s.get(s.ray(ns="no-such-ns-x1")), 200)  # listing in a missing namespace is just empty


@scenario()
def sc_error_invalid_name(s: Session) -> None:
    for bad in ["Bad_Name", "-leading", "a" * 254, "has.Upper"]:
        body = expect(s.post(s.ray(), raycluster(bad)), 422, "Invalid")
        assert body["details"]["causes"][0]["field"] == "metadata.name"
    body = expect(s.post(s.ray(), raycluster(None)), 422, "Invalid")
    assert body["details"]["causes"][0]["field"] == "metadata.name"
    assert expect(s.get(s.ray()), 200)["items"] == []


@scenario()
def sc_error_body_url_mismatch(s: Session) -> None:
    other = raycluster("rc", namespace="somewhere-else")
    expect(s.post(s.ray(), other), 400, "BadRequest")
    wrong_kind = raycluster("rc")
    wrong_kind["kind"] = "RayJob"
    body = expect(s.post(s.ray(), wrong_kind), 422, "Invalid")  # kind is validated, not decoded
    assert body["details"]["causes"][0]["field"] == "kind"
    no_kind = raycluster("rc")
    del no_kind["kind"]
    expect(s.post(s.ray(), no_kind), 400, "BadRequest")
    wrong_version = raycluster("rc")
    wrong_version["apiVersion"] = "ray.io/v2"
    expect(s.post(s.ray(), wrong_version), 400, "BadRequest")
    create(s, "rc")
    got = expect(s.get(s.ray(name="rc")), 200)
    renamed = copy.deepcopy(got)
    renamed["metadata"]["name"] = "other"
    expect(s.put(s.ray(name="rc"), renamed), 400, "BadRequest")
    assert names(expect(s.get(s.ray()), 200)) == ["rc"]


@scenario()
def sc_error_malformed_body(s: Session) -> None:
    expect(s.post(s.ray(), content=b"{not json", content_type="application/json"), 400, "BadRequest")
    expect(s.post(s.ray(), content=b"[1, 2]", content_type="application/json"), 400, "BadRequest")
    assert expect(s.get(s.ray()), 200)["items"] == []


@scenario()
def sc_error_malformed_yaml(s: Session) -> None:
    """A YAML body that does not parse: 400 whose message quotes the YAML parser's error."""
    body = expect(s.post(s.ray(), content="a: [b", content_type="application/yaml"), 400, "BadRequest")
    assert "yaml: line 1: " in body["message"], body["message"]
    assert expect(s.get(s.ray()), 200)["items"] == []


@scenario()
def sc_error_body_too_large(s: Session) -> None:
    big = raycluster("big", annotations={"pad": "x" * (3 * 1024 * 1024 + 10)})
    expect(s.post(s.ray(), big), 413, "RequestEntityTooLarge")
    assert expect(s.get(s.ray()), 200)["items"] == []


@scenario()
def sc_error_method_not_allowed(s: Session) -> None:
    create(s, "rc")
    expect(s.delete(s.ray(name="rc", sub="status")), 405, "MethodNotAllowed")
    expect(s.post(s.ray(name="rc", sub="status"), raycluster("rc")), 405, "MethodNotAllowed")
    expect(s.put(s.ray(), raycluster("rc")), 400, "BadRequest")  # "name must be provided"
    expect(s.patch(s.ray(), {}, MERGE), 400, "BadRequest")
    expect(s.get(s.ray(name="rc", sub="scale")), 404, "NotFound")  # the CRDs define no scale subresource
    assert s.post(f"{RAY}/rayclusters", raycluster("x")).status_code == 404  # no cluster-wide create


@scenario()
def sc_post_on_named_path(s: Session) -> None:
    """POST on an item path creates the object named in the body (the URL name is not checked)."""
    assert expect(s.post(s.ray(name="zz"), raycluster("zz")), 201)["metadata"]["name"] == "zz"
    assert expect(s.post(s.ray(name="zz"), raycluster("yy")), 201)["metadata"]["name"] == "yy"
    assert names(expect(s.get(s.ray()), 200)) == ["yy", "zz"]


@scenario()
def sc_error_schema_violation(s: Session) -> None:
    bad = raycluster("rc")
    bad["spec"]["workerGroupSpecs"][0]["replicas"] = "many"
    body = expect(s.post(s.ray(), bad), 422, "Invalid")
    assert any("replicas" in c.get("field", "") for c in body["details"]["causes"])
    missing = raycluster("rc2")
    del missing["spec"]["headGroupSpec"]
    expect(s.post(s.ray(), missing), 422, "Invalid")
    assert expect(s.get(s.ray()), 200)["items"] == []


# -- selectors ----------------------------------------------------------------------------------

LABELLED = {
    "l-a": {"app": "ray", "tier": "head"},
    "l-b": {"app": "ray", "tier": "worker"},
    "l-c": {"app": "web"},
    "l-d": {"env": "prod"},
}


@scenario()
def sc_label_selectors(s: Session) -> None:
    for name, labels in LABELLED.items():
        create(s, name, labels)
    cases = {
        "app=ray": ["l-a", "l-b"],
        "app==ray": ["l-a", "l-b"],
        "app!=ray": ["l-c", "l-d"],
        "tier in (head,worker)": ["l-a", "l-b"],
        "tier notin (head)": ["l-b", "l-c", "l-d"],
        "app": ["l-a", "l-b", "l-c"],
        "!app": ["l-d"],
        "app=ray,tier=worker": ["l-b"],
        "app in (ray),!tier": [],
        "env in (prod, dev)": ["l-d"],
        "": ["l-a", "l-b", "l-c", "l-d"],
        # edge cases the real parser accepts (k8s.io/apimachinery/pkg/labels/selector.go)
        "app=": [],  # the label present with an empty value
        "app==": [],
        "app notin ()": ["l-a", "l-b", "l-c", "l-d"],
        "app,tier": ["l-a", "l-b"],
    }
    for sel, want in cases.items():
        assert names(expect(s.get(s.ray(), params={"labelSelector": sel}), 200)) == want, sel


@scenario()
def sc_label_selector_errors(s: Session) -> None:
    create(s, "l-a", {"app": "ray"})
    bad = [
        "app in ray",
        "=ray",
        "app=ray,",
        "a b",
        "-x=y",
        "app in (a",
        "a=b=c",
        "!app=x",
        "app=x,,b",
        "k=v v",
    ]
    for sel in bad:
        r = s.get(s.ray(), params={"labelSelector": sel})
        assert r.status_code == 400, (sel, r.status_code, r.text[:300])
        assert r.json()["reason"] == "BadRequest"


@scenario()
def sc_field_selectors(s: Session) -> None:
    for name, labels in LABELLED.items():
        create(s, name, labels)
    cases = {
        "metadata.name=l-b": ["l-b"],
        "metadata.name==l-c": ["l-c"],
        "metadata.name!=l-a": ["l-b", "l-c", "l-d"],
        f"metadata.namespace={s.ns}": list(LABELLED),
        f"metadata.namespace!={s.ns}": [],
        "metadata.name=l-a,metadata.name!=l-a": [],
    }
    for sel, want in cases.items():
        assert names(expect(s.get(s.ray(), params={"fieldSelector": sel}), 200)) == want, sel
    both = s.get(s.ray(), params={"fieldSelector": "metadata.name!=l-a", "labelSelector": "app=ray"})
    assert names(expect(both, 200)) == ["l-b"]


@scenario()
def sc_field_selector_errors(s: Session) -> None:
    """Fields a custom resource does not support, and selectors that do not parse: 400."""
    create(s, "f-a")
    for sel in [
        "spec.headGroupSpec.serviceType=x",
        "metadata.labels=x",
        "metadata.name",
        "metadata.name in (a)",
    ]:
        expect(s.get(s.ray(), params={"fieldSelector": sel}), 400, "BadRequest")


@scenario()
def sc_field_selector_ray_fields(s: Session) -> None:
    """``status.state``/``spec.rayVersion`` selectors, which KubeRay's docs use: an API server
    supports only ``metadata.name``/``metadata.namespace`` on custom resources, so 400 (the
    gateway evaluates these fields itself, a known divergence). All requests are sent before the
    assertion so the transcripts compare request by request."""
    create(s, "f-a")
    sels = ["spec.rayVersion=2.52.0", "status.state=ready", "spec.rayVersion!=2.52.0,metadata.name=f-a"]
    codes = [s.get(s.ray(), params={"fieldSelector": sel}).status_code for sel in sels]
    assert codes == [400] * len(sels), dict(zip(sels, codes, strict=True))


# -- pagination ---------------------------------------------------------------------------------


@scenario()
def sc_pagination(s: Session) -> None:
    for i in range(5):
        create(s, f"p-{i}")
    first = expect(s.get(s.ray(), params={"limit": 2}), 200)
    assert names(first) == ["p-0", "p-1"] and first["metadata"]["continue"]
    assert first["metadata"]["remainingItemCount"] == 3
    create(s, "p-9")  # written between pages: the continued list is the first page's snapshot
    expect(s.delete(s.ray(name="p-3")), 200)
    second = expect(s.get(s.ray(), params={"limit": 2, "continue": first["metadata"]["continue"]}), 200)
    assert names(second) == ["p-2", "p-3"]
    third = expect(s.get(s.ray(), params={"limit": 2, "continue": second["metadata"]["continue"]}), 200)
    assert names(third) == ["p-4"] and not third["metadata"].get("continue")
    expect(s.get(s.ray(), params={"limit": 10}), 200)
    expect(s.get(s.ray(), params={"limit": 2, "labelSelector": "nothing=here"}), 200)


@scenario()
def sc_pagination_bad_continue(s: Session) -> None:
    create(s, "p-0")
    expect(s.get(s.ray(), params={"limit": 1, "continue": "not-a-token"}), 400, "BadRequest")


# -- optimistic concurrency -----------------------------------------------------------------------


@scenario()
def sc_optimistic_concurrency(s: Session) -> None:
    obj = create(s, "oc")
    fresh = copy.deepcopy(obj)
    fresh["metadata"]["labels"] = {"v": "1"}
    expect(s.put(s.ray(name="oc"), fresh), 200)
    stale = copy.deepcopy(obj)
    stale["metadata"]["labels"] = {"v": "2"}
    expect(s.put(s.ray(name="oc"), stale), 409, "Conflict")
    no_rv = copy.deepcopy(obj)
    del no_rv["metadata"]["resourceVersion"]
    expect(s.put(s.ray(name="oc"), no_rv), 422, "Invalid")
    stale_patch = {"metadata": {"resourceVersion": obj["metadata"]["resourceVersion"], "labels": {"v": "3"}}}
    expect(s.patch(s.ray(name="oc"), stale_patch, MERGE), 409, "Conflict")
    assert expect(s.get(s.ray(name="oc")), 200)["metadata"]["labels"] == {"v": "1"}


# -- status subresource ---------------------------------------------------------------------------


@scenario()
def sc_status_subresource(s: Session) -> None:
    obj = create(s, "st")
    obj["status"] = {"state": "ready"}
    obj["spec"]["rayVersion"] = "2.53.0"
    upd = expect(s.put(s.ray(name="st"), obj), 200)
    assert "status" not in upd and upd["metadata"]["generation"] == 2
    upd["status"] = {"state": "ready", "desiredWorkerReplicas": 1}
    upd["spec"]["rayVersion"] = "9.9.9"
    upd["metadata"]["labels"] = {"ignored": "yes"}
    st = expect(s.put(s.ray(name="st", sub="status"), upd), 200)
    assert st["status"]["state"] == "ready" and st["spec"]["rayVersion"] == "2.53.0"
    assert "labels" not in st["metadata"] and st["metadata"]["generation"] == 2
    expect(s.get(s.ray(name="st", sub="status")), 200)
    p = expect(s.patch(s.ray(name="st", sub="status"), {"status": {"state": "failed"}}, MERGE), 200)
    assert p["status"]["state"] == "failed"
    jp = [{"op": "replace", "path": "/status/desiredWorkerReplicas", "value": 4}]
    expect(s.patch(s.ray(name="st", sub="status"), jp, JSONPATCH), 200)
    p2 = expect(
        s.patch(s.ray(name="st"), {"status": {"state": "x"}, "metadata": {"labels": {"k": "v"}}}, MERGE), 200
    )
    assert p2["status"]["state"] == "failed" and p2["metadata"]["labels"] == {"k": "v"}
    expect(s.put(s.ray(name="nope", sub="status"), {**upd, "metadata": {"name": "nope"}}), 404, "NotFound")


# -- patches --------------------------------------------------------------------------------------


@scenario()
def sc_merge_patch(s: Session) -> None:
    create(s, "mp", {"a": "1", "b": "2"})
    p = expect(s.patch(s.ray(name="mp"), {"metadata": {"labels": {"a": None, "c": "3"}}}, MERGE), 200)
    assert p["metadata"]["labels"] == {"b": "2", "c": "3"} and p["metadata"]["generation"] == 1
    p = expect(s.patch(s.ray(name="mp"), {"spec": {"rayVersion": "2.53.0"}}, MERGE), 200)
    assert p["metadata"]["generation"] == 2
    p = expect(s.patch(s.ray(name="mp"), {"spec": {"workerGroupSpecs": []}}, MERGE), 200)
    assert p["spec"]["workerGroupSpecs"] == []
    expect(s.patch(s.ray(name="mp"), {"spec": {"headGroupSpec": None}}, MERGE), 422, "Invalid")
    expect(s.patch(s.ray(name="mp"), {}, MERGE), 200)
    expect(s.request("PATCH", s.ray(name="mp"), content=b"{bad", content_type=MERGE), 400, "BadRequest")


@scenario()
def sc_json_patch(s: Session) -> None:
    create(s, "jp", {"a": "1"})
    ops = [
        {"op": "add", "path": "/metadata/labels/b", "value": "2"},
        {"op": "replace", "path": "/spec/rayVersion", "value": "2.53.0"},
        {"op": "remove", "path": "/metadata/labels/a"},
    ]
    p = expect(s.patch(s.ray(name="jp"), ops, JSONPATCH), 200)
    assert p["metadata"]["labels"] == {"b": "2"} and p["metadata"]["generation"] == 2
    expect(
        s.patch(
            s.ray(name="jp"),
            [
                {"op": "test", "path": "/metadata/labels/b", "value": "2"},
                {"op": "add", "path": "/metadata/labels/t", "value": "ok"},
            ],
            JSONPATCH,
        ),
        200,
    )
    failed_test = [{"op": "test", "path": "/metadata/labels/b", "value": "nope"}]
    r = s.patch(s.ray(name="jp"), failed_test, JSONPATCH)
    assert r.status_code in (409, 422, 500), r.text
    r = s.patch(s.ray(name="jp"), [{"op": "remove", "path": "/metadata/labels/missing"}], JSONPATCH)
    assert r.status_code >= 400, r.text
    expect(s.patch(s.ray(name="jp"), [{"op": "frobnicate", "path": "/x"}], JSONPATCH), 422)
    expect(s.patch(s.ray(name="jp"), {"not": "a list"}, JSONPATCH), 400, "BadRequest")
    assert expect(s.get(s.ray(name="jp")), 200)["metadata"]["labels"] == {"b": "2", "t": "ok"}


@scenario()
def sc_strategic_merge_patch_unsupported(s: Session) -> None:
    create(s, "smp")
    expect(
        s.patch(s.ray(name="smp"), {"metadata": {"labels": {"a": "b"}}}, STRATEGIC),
        415,
        "UnsupportedMediaType",
    )
    expect(
        s.patch(s.ray(name="smp"), {"metadata": {"labels": {"a": "b"}}}, "text/plain"),
        415,
        "UnsupportedMediaType",
    )


@scenario()
def sc_server_side_apply(s: Session) -> None:
    doc = yaml.safe_dump(raycluster("ssa", {"by": "apply"}))
    body = expect(s.request("PATCH", s.ray(name="ssa"), content=doc, content_type=APPLY), 422, "Invalid")
    assert body["details"]["causes"][0]["field"] == "fieldManager"
    created = s.request(
        "PATCH", s.ray(name="ssa"), content=doc, content_type=APPLY, params={"fieldManager": "contract"}
    )
    assert expect(created, 201)["metadata"]["labels"] == {"by": "apply"}
    again = s.request(
        "PATCH", s.ray(name="ssa"), content=doc, content_type=APPLY, params={"fieldManager": "contract"}
    )
    expect(again, 200)


@scenario()
def sc_managed_fields(s: Session) -> None:
    """managedFields bookkeeping (normalised away elsewhere) recorded as manager/operation."""
    obj = create(s, "mf")
    s.patch(s.ray(name="mf"), {"metadata": {"labels": {"x": "y"}}}, MERGE, params={"fieldManager": "patcher"})
    got = expect(s.get(s.ray(name="mf")), 200)
    keys = ("manager", "operation", "apiVersion", "fieldsType", "subresource")
    # entries written within one second have no defined order: compare them sorted by manager
    summary = sorted(
        ({k: e.get(k) for k in keys} for e in got["metadata"].get("managedFields", [])),
        key=lambda e: str(e["manager"]),
    )
    s.note("managedFields", summary)
    assert [e["operation"] for e in summary] == ["Update", "Update"], summary
    assert obj["metadata"].get("managedFields"), "create must record a managedFields entry"


# -- delete -------------------------------------------------------------------------------------


@scenario()
def sc_finalizers(s: Session) -> None:
    create(s, "fin", finalizers=["example.com/keep"])
    d = expect(s.delete(s.ray(name="fin")), 200)
    assert d["kind"] == "RayCluster" and d["metadata"]["deletionTimestamp"]
    got = expect(s.get(s.ray(name="fin")), 200)
    assert got["metadata"]["finalizers"] == ["example.com/keep"] and got["metadata"]["deletionTimestamp"]
    d2 = expect(s.delete(s.ray(name="fin")), 200)  # deleting again changes nothing
    assert d2["metadata"]["resourceVersion"] == got["metadata"]["resourceVersion"]
    late = copy.deepcopy(got)
    late["spec"]["rayVersion"] = "2.53.0"
    expect(s.put(s.ray(name="fin"), late), 200)  # spec updates still allowed while terminating
    cur = expect(s.get(s.ray(name="fin")), 200)
    add = copy.deepcopy(cur)
    add["metadata"]["finalizers"] = ["example.com/keep", "example.com/new"]
    expect(s.put(s.ray(name="fin"), add), 422, "Invalid")  # no new finalizers while terminating
    cur["metadata"]["finalizers"] = []
    expect(s.put(s.ray(name="fin"), cur), 200)
    expect(s.get(s.ray(name="fin")), 404, "NotFound")


@scenario()
def sc_finalizer_removed_by_patch_with_watch(s: Session) -> None:
    start = expect(s.get(s.ray()), 200)["metadata"]["resourceVersion"]
    create(s, "fw", finalizers=["example.com/a", "example.com/b"])
    expect(s.delete(s.ray(name="fw")), 200)
    expect(s.patch(s.ray(name="fw"), [{"op": "remove", "path": "/metadata/finalizers/0"}], JSONPATCH), 200)
    expect(s.patch(s.ray(name="fw"), {"metadata": {"finalizers": None}}, MERGE), 200)
    events = s.watch(s.ray(), {"resourceVersion": start, "timeoutSeconds": 1})
    assert [e["type"] for e in events] == ["ADDED", "MODIFIED", "MODIFIED", "DELETED"], events


@scenario()
def sc_delete_options(s: Session) -> None:
    obj = create(s, "do")
    pre = {
        "kind": "DeleteOptions",
        "apiVersion": "v1",
        "preconditions": {"uid": "00000000-0000-0000-0000-000000000000"},
    }
    expect(s.delete(s.ray(name="do"), pre), 409, "Conflict")
    pre_rv = {"preconditions": {"resourceVersion": "1"}}
    expect(s.delete(s.ray(name="do"), pre_rv), 409, "Conflict")
    ok = {"preconditions": {"uid": obj["metadata"]["uid"]}, "propagationPolicy": "Background"}
    expect(s.delete(s.ray(name="do"), ok), 200)
    expect(s.delete(s.ray(name="do2"), {"propagationPolicy": "Sideways"}), 422, "Invalid")


@scenario()
def sc_delete_grace_period_and_server_side_apply(s: Session) -> None:
    """Custom resources have no graceful deletion: gracePeriodSeconds (query or body) is accepted and
    the object goes at once, or, held by a finalizer, gets deletionGracePeriodSeconds 0. Server-side
    apply: another manager's differing value is a 409 FieldManagerConflict, force takes it over."""
    create(s, "gp1")
    expect(s.delete(s.ray(name="gp1"), params={"gracePeriodSeconds": "30"}), 200)
    expect(s.get(s.ray(name="gp1")), 404, "NotFound")
    held = raycluster("gp2")
    held["metadata"]["finalizers"] = ["contract.example.com/hold"]
    expect(s.post(s.ray(), held), 201)
    marked = expect(s.delete(s.ray(name="gp2"), {"gracePeriodSeconds": 10}), 200)
    assert marked["metadata"]["deletionGracePeriodSeconds"] == 0
    s.patch(s.ray(name="gp2"), {"metadata": {"finalizers": None}}, MERGE)
    doc = yaml.safe_dump(raycluster("ssa2"))
    expect(s.request("PATCH", s.ray(name="ssa2"), content=doc, content_type=APPLY,
                     params={"fieldManager": "one"}), 201)
    other = raycluster("ssa2", image="rayproject/ray:2.51.0")
    body = expect(s.request("PATCH", s.ray(name="ssa2"), content=yaml.safe_dump(other), content_type=APPLY,
                            params={"fieldManager": "two"}), 409, "Conflict")
    assert {c["reason"] for c in body["details"]["causes"]} == {"FieldManagerConflict"}
    expect(s.request("PATCH", s.ray(name="ssa2"), content=yaml.safe_dump(other), content_type=APPLY,
                     params={"fieldManager": "two", "force": "true"}), 200)


@scenario()
def sc_delete_collection(s: Session) -> None:
    for name, labels in LABELLED.items():
        create(s, name, labels)
    gone = expect(s.delete(s.ray(), params={"labelSelector": "app=ray"}), 200)
    assert gone["kind"] == "RayClusterList" and names(gone) == ["l-a", "l-b"]
    assert names(expect(s.get(s.ray()), 200)) == ["l-c", "l-d"]
    gone = expect(s.delete(s.ray(), params={"fieldSelector": "metadata.name=l-c"}), 200)
    assert names(gone) == ["l-c"]
    expect(s.delete(s.ray(), params={"labelSelector": "app in ray"}), 400, "BadRequest")
    expect(s.delete(s.ray(), params={"fieldSelector": "spec.x=1"}), 400, "BadRequest")
    assert names(expect(s.get(s.ray()), 200)) == ["l-d"]


# -- watch --------------------------------------------------------------------------------------


@scenario()
def sc_watch_resume(s: Session) -> None:
    start = expect(s.get(s.ray()), 200)["metadata"]["resourceVersion"]
    create(s, "w1")
    mid = expect(s.patch(s.ray(name="w1"), {"metadata": {"labels": {"x": "1"}}}, MERGE), 200)
    create(s, "w2")
    expect(s.delete(s.ray(name="w1")), 200)
    events = s.watch(s.ray(), {"resourceVersion": start, "timeoutSeconds": 1})
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "w1"),
        ("MODIFIED", "w1"),
        ("ADDED", "w2"),
        ("DELETED", "w1"),
    ]
    later = s.watch(s.ray(), {"resourceVersion": mid["metadata"]["resourceVersion"], "timeoutSeconds": 1})
    assert [e["type"] for e in later] == ["ADDED", "DELETED"]


@scenario()
def sc_watch_live(s: Session) -> None:
    def writes() -> None:
        create(s, "live")
        expect(s.patch(s.ray(name="live"), {"metadata": {"labels": {"y": "2"}}}, MERGE), 200)

    events = s.watch(s.ray(), {"timeoutSeconds": 2}, during=writes)
    assert [e["type"] for e in events] == ["ADDED", "MODIFIED"], events


@scenario()
def sc_watch_initial_state(s: Session) -> None:
    create(s, "i1")
    create(s, "i2")
    events = s.watch(s.ray(), {"timeoutSeconds": 1})  # no resourceVersion: current state first
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "i1"),
        ("ADDED", "i2"),
    ]
    events = s.watch(s.ray(name=None), {"timeoutSeconds": 1, "resourceVersion": "0"})
    assert sorted(e["object"]["metadata"]["name"] for e in events) == ["i1", "i2"]


@scenario()
def sc_watch_label_selector(s: Session) -> None:
    start = expect(s.get(s.ray()), 200)["metadata"]["resourceVersion"]
    create(s, "ws-a", {"app": "ray"})
    create(s, "ws-b", {"app": "web"})
    expect(s.patch(s.ray(name="ws-a"), {"metadata": {"labels": {"app": "web"}}}, MERGE), 200)
    expect(s.patch(s.ray(name="ws-b"), {"metadata": {"labels": {"app": "ray"}}}, MERGE), 200)
    events = s.watch(s.ray(), {"resourceVersion": start, "timeoutSeconds": 1, "labelSelector": "app=ray"})
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [
        ("ADDED", "ws-a"),
        ("DELETED", "ws-a"),
        ("ADDED", "ws-b"),
    ], events


@scenario()
def sc_watch_field_selector(s: Session) -> None:
    start = expect(s.get(s.ray()), 200)["metadata"]["resourceVersion"]
    create(s, "wf-a")
    create(s, "wf-b")
    expect(s.delete(s.ray(name="wf-a")), 200)
    events = s.watch(
        s.ray(), {"resourceVersion": start, "timeoutSeconds": 1, "fieldSelector": "metadata.name=wf-a"}
    )
    assert [e["type"] for e in events] == ["ADDED", "DELETED"]
    r = s.get(s.ray(), params={"watch": "1", "fieldSelector": "spec.x=y", "timeoutSeconds": 1})
    assert r.status_code == 400


@scenario()
def sc_watch_single_object(s: Session) -> None:
    """One object is watched with fieldSelector=metadata.name; ``?watch=1`` on its item path is a GET."""
    start = expect(s.get(s.ray()), 200)["metadata"]["resourceVersion"]
    create(s, "one")
    create(s, "two")
    events = s.watch(
        s.ray(), {"resourceVersion": start, "timeoutSeconds": 1, "fieldSelector": "metadata.name=one"}
    )
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events] == [("ADDED", "one")]
    assert expect(s.get(s.ray(name="one"), params={"watch": "1"}), 200)["kind"] == "RayCluster"


@scenario()
def sc_watch_bookmarks(s: Session) -> None:
    """A watch from "now" with allowWatchBookmarks ends its initial ADDED events with a BOOKMARK
    annotated ``k8s.io/initial-events-end: "true"`` (KEP-3157, watch-list). Bookmarks before a
    timeout are only sent when the resourceVersion moved on, which a quiet test cannot rely on."""
    create(s, "bm")
    # The real server defaults sendInitialEvents=true here and may hold the closing bookmark until
    # its next bookmark tick (k8s.io/apiserver/pkg/storage/cacher/cacher.go,
    # setInitialEventsEndBookmarkIfRequested), which took over 3 s on a loaded 2-core host: allow 5 s.
    events = s.watch(s.ray(), {"timeoutSeconds": 5, "allowWatchBookmarks": "true"})
    assert [e["type"] for e in events] == ["ADDED", "BOOKMARK"], events
    bm = events[1]["object"]
    assert bm["kind"] == "RayCluster" and bm["metadata"]["resourceVersion"]
    assert bm["metadata"]["annotations"] == {"k8s.io/initial-events-end": "true"}
    events = s.watch(s.ray(), {"timeoutSeconds": 1})  # without allowWatchBookmarks: no bookmark
    assert [e["type"] for e in events] == ["ADDED"], events


@scenario()
def sc_watch_expired(s: Session) -> None:
    create(s, "old")
    events = s.watch(s.ray(), {"resourceVersion": "1", "timeoutSeconds": 1})
    assert len(events) == 1 and events[0]["type"] == "ERROR", events
    st = events[0]["object"]
    assert st["kind"] == "Status" and st["code"] == 410 and st["reason"] == "Expired", st


# -- dry run, field validation, table, discovery -----------------------------------------------


@scenario()
def sc_dry_run(s: Session) -> None:
    obj = expect(s.post(s.ray(), raycluster("dry"), params={"dryRun": "All"}), 201)
    assert obj["metadata"]["name"] == "dry"
    expect(s.get(s.ray(name="dry")), 404, "NotFound")
    create(s, "real")
    expect(s.delete(s.ray(name="real"), params={"dryRun": "All"}), 200)
    expect(
        s.patch(s.ray(name="real"), {"metadata": {"labels": {"d": "r"}}}, MERGE, params={"dryRun": "All"}),
        200,
    )
    assert "labels" not in expect(s.get(s.ray(name="real")), 200)["metadata"]
    expect(s.post(s.ray(), raycluster("dry2"), params={"dryRun": "Bogus"}), 422, "Invalid")


@scenario()
def sc_field_validation(s: Session) -> None:
    unknown = raycluster("fv-strict")
    unknown["spec"]["bogusField"] = 1
    expect(s.post(s.ray(), unknown, params={"fieldValidation": "Strict"}), 400, "BadRequest")
    unknown["metadata"]["name"] = "fv-warn"
    r = s.post(s.ray(), unknown, params={"fieldValidation": "Warn"})
    assert "bogusField" not in expect(r, 201)["spec"] and "bogusField" in r.headers.get("warning", "")
    unknown["metadata"]["name"] = "fv-ignore"
    r = s.post(s.ray(), unknown, params={"fieldValidation": "Ignore"})
    assert "bogusField" not in expect(r, 201)["spec"] and "warning" not in r.headers
    unknown["metadata"]["name"] = "fv-default"
    expect(s.post(s.ray(), unknown), 201)
    expect(s.post(s.ray(), raycluster("fv-bad"), params={"fieldValidation": "Sometimes"}), 422, "Invalid")


@scenario()
def sc_table_output(s: Session) -> None:
    create(s, "tbl", {"app": "ray"})
    accept = {"Accept": "application/json;as=Table;v=v1;g=meta.k8s.io"}
    t = expect(s.get(s.ray(), headers=accept), 200)
    assert t["kind"] == "Table"
    assert [c["name"] for c in t["columnDefinitions"]][:2] == ["Name", "desired workers"]
    assert t["rows"][0]["cells"][0] == "tbl"
    expect(s.get(s.ray(name="tbl"), headers=accept), 200)


@scenario()
def sc_discovery_ray(s: Session) -> None:
    d = expect(s.get(RAY), 200)
    assert d["kind"] == "APIResourceList" and d["groupVersion"] == "ray.io/v1"
    got = {r["name"] for r in d["resources"]}
    assert {"rayclusters", "rayclusters/status", "rayjobs", "rayservices", "raycronjobs"} <= got


@scenario()
def sc_discovery_groups(s: Session) -> None:
    """The ray.io entry of ``/apis`` (both served versions, v1 preferred) and the ray.io paths of the
    OpenAPI v3 index, which kubectl reads before ``apply``/``explain``."""
    # whole documents are not compared: a real server serves many more groups than ray.io
    groups = expect(s.get("/apis", record=False), 200)["groups"]
    ray = [g for g in groups if g["name"] == "ray.io"]
    s.note("ray.io group", ray)
    assert ray and ray[0]["preferredVersion"]["groupVersion"] == "ray.io/v1"
    paths = sorted(p for p in expect(s.get("/openapi/v3", record=False), 200)["paths"] if "ray.io" in p)
    s.note("openapi v3 ray.io paths", paths)
    assert "apis/ray.io/v1" in paths


@scenario()
def sc_list_resource_version_options(s: Session) -> None:
    """resourceVersion / resourceVersionMatch on list and get (API concepts, "Resource versions")."""
    create(s, "a")
    rv = expect(s.get(s.ray()), 200)["metadata"]["resourceVersion"]
    assert names(expect(s.get(s.ray(), params={"resourceVersion": "0"}), 200)) == ["a"]
    body = expect(s.get(s.ray(), params={"resourceVersionMatch": "Exact"}), 422, "Invalid")
    assert body["details"]["causes"][0]["field"] == "resourceVersionMatch"
    exact = {"resourceVersionMatch": "Exact", "resourceVersion": rv}
    assert names(expect(s.get(s.ray(), params=exact), 200)) == ["a"]
    newer = {"resourceVersionMatch": "NotOlderThan", "resourceVersion": rv}
    assert names(expect(s.get(s.ray(), params=newer), 200)) == ["a"]
    expect(s.get(s.ray(), params={"resourceVersion": "abc"}), 400, "BadRequest")
    expect(s.get(s.ray(), params={"limit": "-1"}), 200)
    expect(s.get(s.ray(), params={"timeoutSeconds": "x"}), 400, "BadRequest")
    expect(s.get(s.ray(name="a"), params={"resourceVersion": "0"}), 200)


# -- core kinds (direct API servers only) -------------------------------------------------------


@scenario(core=True)
def sc_core_configmap_crud(s: Session) -> None:
    cm = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {"name": "cm", "labels": {"k": "v"}},
        "data": {"a": "1"},
    }
    expect(s.post(s.core("configmaps"), cm), 201)
    expect(s.post(s.core("configmaps"), cm), 409, "AlreadyExists")
    expect(s.patch(s.core("configmaps", "cm"), {"data": {"b": "2"}}, MERGE), 200)
    expect(s.patch(s.core("configmaps", "cm"), {"data": {"c": "3"}}, STRATEGIC), 200)
    expect(s.get(s.core("configmaps"), params={"labelSelector": "k=v"}), 200)
    expect(s.delete(s.core("configmaps", "cm")), 200)
    expect(s.get(s.core("configmaps", "cm")), 404, "NotFound")


@scenario(core=True)
def sc_core_namespaces(s: Session) -> None:
    got = expect(s.get(f"/api/v1/namespaces/{s.ns}"), 200)
    assert got["status"]["phase"] == "Active"
    for ns in (
        "default",
        "kube-system",
        "kube-public",
    ):  # not recorded: their creation order is not specified
        expect(s.get(f"/api/v1/namespaces/{ns}", record=False), 200)
    expect(s.get("/api/v1/namespaces/no-such-ns-x1"), 404, "NotFound")
    expect(
        s.post("/api/v1/namespaces", {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": s.ns}}),
        409,
        "AlreadyExists",
    )


@scenario(core=True)
def sc_core_namespace_terminating(s: Session) -> None:
    """A deleted namespace is Terminating (spec.finalizers ["kubernetes"]) and refuses new objects
    with 403 Forbidden (NamespaceLifecycle admission) until the namespace controller removes it.
    The object inside carries a finalizer, so it (and the namespace) stay whether or not a namespace
    controller runs (fakekube has one; refkube has none). Only the names in the namespace are
    compared at the end: a namespace controller marks the held object deleting
    (deletionTimestamp, generation + 1) ``namespace_finalize_delay`` after the DELETE, as on a real
    cluster, which refkube (no controller manager) never does, so the object itself differs or not
    depending on timing."""
    doomed = s.new_namespace()
    inside = raycluster("inside")
    inside["metadata"]["finalizers"] = ["contract.example.com/hold"]
    expect(s.post(s.ray(ns=doomed), inside), 201)
    gone = expect(s.delete(f"/api/v1/namespaces/{doomed}"), 200)
    assert gone["status"]["phase"] == "Terminating"
    body = expect(s.post(s.ray(ns=doomed), raycluster("late")), 403, "Forbidden")
    assert body["details"]["causes"][0]["reason"] == "NamespaceTerminating"
    left = names(expect(s.get(s.ray(ns=doomed), record=False), 200))
    s.note("names left in the terminating namespace", left)
    assert left == ["inside"]


@scenario(core=True)
def sc_core_event_field_selectors(s: Session) -> None:
    ev = {
        "apiVersion": "v1",
        "kind": "Event",
        "metadata": {"name": "ev1"},
        "type": "Warning",
        "reason": "Boom",
        "involvedObject": {"apiVersion": "ray.io/v1", "kind": "RayCluster", "name": "rc", "namespace": s.ns},
    }
    expect(s.post(s.core("events"), ev), 201)
    for sel, n in [
        ("involvedObject.name=rc", 1),
        ("reason=Boom", 1),
        ("type=Normal", 0),
        ("involvedObject.kind=RayCluster", 1),
    ]:
        assert len(expect(s.get(s.core("events"), params={"fieldSelector": sel}), 200)["items"]) == n, sel
    expect(s.get(s.core("events"), params={"fieldSelector": "message=x"}), 400, "BadRequest")
    new_ev = {
        "apiVersion": "events.k8s.io/v1",
        "kind": "Event",
        "metadata": {"name": "ev2"},
        "eventTime": "2026-01-01T00:00:00.000000Z",
        "reportingController": "c",
        "reportingInstance": "i",
        "action": "A",
        "type": "Normal",
        "reason": "R",
        "regarding": {"apiVersion": "ray.io/v1", "kind": "RayCluster", "name": "rc", "namespace": s.ns},
    }
    path = f"/apis/events.k8s.io/v1/namespaces/{s.ns}/events"
    expect(s.post(path, new_ev), 201)
    for sel in ["regarding.apiVersion=ray.io/v1", "regarding.name=rc", "reason=R,type=Normal"]:
        assert len(expect(s.get(path, params={"fieldSelector": sel}), 200)["items"]) == 2 - (
            sel == "reason=R,type=Normal"
        )


@scenario(core=True)
def sc_core_service_proxy_without_endpoints(s: Session) -> None:
    """``services/{name}[:port]/proxy/...`` of a Service with no ready endpoints — and of one that does
    not exist — is 503 ServiceUnavailable "no endpoints available for service" on the real server."""
    svc = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "dash", "labels": {"app.kubernetes.io/name": "kuberay"}},
        "spec": {"ports": [{"port": 8265, "name": "dashboard"}], "selector": {"app": "none"}},
    }
    expect(s.post(s.core("services"), svc, record=False), 201)  # its clusterIP is allocated at random
    for path in ["dash/proxy/", "dash/proxy/api/jobs/", "dash:dashboard/proxy/", "nope/proxy/"]:
        expect(s.get(s.core("services", path)), 503, "ServiceUnavailable")


@scenario(core=True)
def sc_core_pods_and_log(s: Session) -> None:
    """Pods: create (v1 defaults, ``Pending`` status, generation 1), validation, ``/status``, and
    ``pods/log``'s answers for an unscheduled Pod (no scheduler or kubelet on either target): the
    container choice errors, ``PodLogOptions`` validation, 204 without a node. The created Pod is
    compared field by field, except ``serviceAccountName``/``serviceAccount`` (refkube runs without
    the ``ServiceAccount`` admission plugin; fakekube sets them as a full cluster does)."""
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p", "labels": {"ray.io/is-ray-node": "yes"}},
        "spec": {"containers": [{"name": "a", "image": "busybox:1.36"}, {"name": "b", "image": "busybox"}]},
    }
    made = expect(s.post(s.core("pods"), pod, record=False), 201)
    spec = {k: v for k, v in made["spec"].items() if k not in ("serviceAccountName", "serviceAccount")}
    s.note("created pod spec", spec)
    s.note("created pod status and generation", [made["status"], made["metadata"].get("generation")])
    expect(
        s.post(s.core("pods"), {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "q"}, "spec": {}}),
        422,
    )
    bad = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "q"},
        "spec": {"containers": [{"name": "x"}]},
    }
    expect(s.post(s.core("pods"), bad), 422, "Invalid")
    log = s.core("pods", "p") + "/log"
    expect(s.get(log), 400, "BadRequest")
    expect(s.get(log, params={"container": "c"}), 400, "BadRequest")
    for params in (
        {"container": "a", "tailLines": "-1"},
        {"container": "a", "limitBytes": "0"},
        {"container": "a", "sinceSeconds": "0"},
        {"container": "a", "sinceSeconds": "1", "sinceTime": "2020-01-01T00:00:00Z"},
    ):
        expect(s.get(log, params=params), 422, "Invalid")
    expect(s.get(log, params={"container": "a", "tailLines": "x"}), 400, "BadRequest")
    for params in ({"container": "a"}, {"container": "b", "previous": "true", "follow": "true"}):
        r = s.get(log, params=params, record=False)
        s.note(f"log of an unscheduled pod {params}", [r.status_code, r.text])
    expect(s.get(s.core("pods", "nope") + "/log"), 404, "NotFound")
    expect(s.post(log, {}), 405)
    status = dict(made, status={"phase": "Running", "podIP": "10.0.0.9"})
    got = expect(s.put(s.core("pods", "p") + "/status", status, record=False), 200)
    s.note("status written through /status", [got["status"]["phase"], got["status"]["podIP"]])
    listed = expect(
        s.get(s.core("pods"), params={"fieldSelector": "status.phase=Running"}, record=False), 200
    )
    s.note("field selector status.phase", names(listed))
    expect(s.delete(s.core("pods", "p"), record=False), 200)


# -- KubeRay samples ----------------------------------------------------------------------------

RAY_KINDS = {
    "RayCluster": "rayclusters",
    "RayJob": "rayjobs",
    "RayService": "rayservices",
    "RayCronJob": "raycronjobs",
}


def ray_documents(path: Path) -> list[dict[str, Any]]:
    """The ray.io/v1 documents of a sample file, in file order."""
    docs = [d for d in yaml.safe_load_all(path.read_text()) if isinstance(d, dict)]
    return [d for d in docs if d.get("kind") in RAY_KINDS and d.get("apiVersion") == "ray.io/v1"]


def sample_scenario(path: Path) -> Callable[[Session], None]:
    """Create, read back, list and delete every Ray object of one sample file."""

    def run(s: Session) -> None:
        docs = ray_documents(path)
        assert docs, f"{path.name} has no ray.io/v1 object"
        created: list[tuple[str, str]] = []
        for doc in docs:
            doc = copy.deepcopy(doc)
            doc["metadata"].pop("namespace", None)
            plural = RAY_KINDS[doc["kind"]]
            name = expect(s.post(s.ray(plural), doc), 201)["metadata"]["name"]  # may come from generateName
            created.append((plural, name))
            expect(s.get(s.ray(plural, name=name)), 200)
            assert name in names(expect(s.get(s.ray(plural)), 200))
        for plural, name in created:
            expect(s.delete(s.ray(plural, name=name)), 200)
            expect(s.get(s.ray(plural, name=name)), 404, "NotFound")

    return run


def _job_body(name: str, restart: str | None) -> Json:
    """A ``batch/v1`` Job like KubeRay's submitter (``common/job.go`` ``GetDefaultSubmitterContainer``)."""
    pod: Json = {"containers": [{"name": "ray-job-submitter", "image": "rayproject/ray:2.52.0"}]}
    if restart is not None:
        pod["restartPolicy"] = restart
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {"template": {"spec": pod}},
    }


@scenario(core=True)
def sc_core_batch_job_defaults(s: Session) -> None:
    """``batch/v1`` Jobs (the simulated KubeRay operator's submitter Jobs): defaults
    (completions, parallelism, backoffLimit 6, completionMode, suspend, podReplacementPolicy,
    manualSelector), the generated selector and labels, restartPolicy validation (Required for a
    missing or ``Always`` value), the immutable template (code and field only: the real message
    prints Go's struct) and the status subresource."""
    jobs = f"/apis/batch/v1/namespaces/{s.ns}/jobs"
    body = expect(s.post(jobs, _job_body("missing", None)), 422, "Invalid")
    assert body["details"]["causes"][0]["field"] == "spec.template.spec.restartPolicy"
    expect(s.post(jobs, _job_body("always", "Always")), 422, "Invalid")
    made = expect(s.post(jobs, _job_body("submit", "Never")), 201)
    uid = made["metadata"]["uid"]
    assert made["spec"]["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    assert made["metadata"]["labels"]["batch.kubernetes.io/job-name"] == "submit"
    changed = copy.deepcopy(made)
    changed["spec"]["template"]["spec"]["containers"][0]["image"] = "other"
    r = s.put(f"{jobs}/submit", changed, record=False)
    assert r.status_code == 422 and r.json()["details"]["causes"][0]["field"] == "spec.template"
    made["status"] = {"active": 1}
    expect(s.put(f"{jobs}/submit/status", made), 200)
    expect(s.get(f"{jobs}/submit"), 200)

"""Each bad input gets the real apiserver's code and reason, and changes nothing in the store."""

from __future__ import annotations

import base64
import json
from collections.abc import Callable
from typing import Any

import pytest

from fakekube import FakeKube
from fakekube.testing import Client
from tests.fakekube.objects import RC_PATH, raycluster

CM_PATH = "/api/v1/namespaces/default/configmaps"


def state(app: FakeKube) -> tuple[int, dict[str, list[bytes]]]:
    """The store's resourceVersion and every stored object's bytes."""
    keys = {rt.storage_key for rt in app.kinds.types()}
    return app.store.rv, {k: [s.raw for _, s in app.store.scan(k)] for k in sorted(keys)}


@pytest.fixture
def seeded(client: Client, app: FakeKube) -> Client:
    """A client whose store holds RayCluster ``a`` (with a finalizer-free spec) and ConfigMap ``c``."""
    assert client.send("POST", RC_PATH, raycluster("a", {"x": "1"})).status == 201
    assert client.send("POST", CM_PATH, {"metadata": {"name": "c"}, "data": {"k": "v"}}).status == 201
    assert (
        client.send(
            "POST",
            "/api/v1/namespaces/default/services",
            {"metadata": {"name": "svc"}, "spec": {"ports": [{"port": 80}]}},
        ).status
        == 201
    )
    return client


def _big() -> dict[str, Any]:
    return raycluster("big") | {"spec": {"blob": "x" * (3 * 1024 * 1024 + 10)}}


def _stale(client: Client) -> dict[str, Any]:
    obj: dict[str, Any] = client.send("GET", f"{RC_PATH}/a").json()
    obj["metadata"]["resourceVersion"] = "1"
    return obj


_EXPIRED_TOKEN = (
    base64.urlsafe_b64encode(json.dumps({"v": "meta.k8s.io/v1", "rv": 1, "start": "default/a\x00"}).encode())
    .decode()
    .rstrip("=")
)

# (id, method, path, body or callable(client) -> body, content type, query, code, reason, message part)
CASES: list[tuple[str, str, str, Any, str, dict[str, str], int, str, str]] = [
    (
        "get-missing",
        "GET",
        f"{RC_PATH}/nope",
        None,
        "",
        {},
        404,
        "NotFound",
        'rayclusters.ray.io "nope" not found',
    ),
    (
        "create-missing-namespace",
        "POST",
        "/apis/ray.io/v1/namespaces/nope/rayclusters",
        raycluster("z"),
        "application/json",
        {},
        404,
        "NotFound",
        'namespaces "nope" not found',
    ),
    (
        "create-exists",
        "POST",
        RC_PATH,
        raycluster("a"),
        "application/json",
        {},
        409,
        "AlreadyExists",
        'rayclusters.ray.io "a" already exists',
    ),
    (
        "update-stale",
        "PUT",
        f"{RC_PATH}/a",
        _stale,
        "application/json",
        {},
        409,
        "Conflict",
        "the object has been modified",
    ),
    (
        "update-without-rv",
        "PUT",
        f"{RC_PATH}/a",
        raycluster("a"),
        "application/json",
        {},
        422,
        "Invalid",
        "must be specified for an update",
    ),
    (
        "bad-name",
        "POST",
        RC_PATH,
        raycluster("Bad_Name"),
        "application/json",
        {},
        422,
        "Invalid",
        "a lowercase RFC 1123 subdomain",
    ),
    (
        "long-name",
        "POST",
        RC_PATH,
        raycluster("a" * 254),
        "application/json",
        {},
        422,
        "Invalid",
        "must be no more than 253 characters",
    ),
    (
        "missing-name",
        "POST",
        RC_PATH,
        {"apiVersion": "ray.io/v1", "kind": "RayCluster", "metadata": {}},
        "application/json",
        {},
        422,
        "Invalid",
        "name or generateName is required",
    ),
    (
        "bad-label",
        "POST",
        RC_PATH,
        raycluster("l", {"a": "-x-"}),
        "application/json",
        {},
        422,
        "Invalid",
        "metadata.labels",
    ),
    (
        "service-name-1035",
        "POST",
        "/api/v1/namespaces/default/services",
        {"metadata": {"name": "1abc"}, "spec": {"ports": [{"port": 1}]}},
        "application/json",
        {},
        422,
        "Invalid",
        "DNS-1035 label",
    ),
    (
        "kind-mismatch-cr",
        "POST",
        RC_PATH,
        raycluster("k") | {"kind": "RayJob"},
        "application/json",
        {},
        422,
        "Invalid",
        "must be RayCluster",
    ),
    (
        "apiversion-mismatch",
        "POST",
        RC_PATH,
        raycluster("v") | {"apiVersion": "ray.io/v2"},
        "application/json",
        {},
        400,
        "BadRequest",
        "does not match the expected API version",
    ),
    (
        "kind-mismatch-core",
        "POST",
        CM_PATH,
        {"kind": "Secret", "metadata": {"name": "s"}},
        "application/json",
        {},
        400,
        "BadRequest",
        "cannot be handled as a ConfigMap",
    ),
    (
        "namespace-mismatch",
        "POST",
        RC_PATH,
        raycluster("n") | {"metadata": {"name": "n", "namespace": "kube-system"}},
        "application/json",
        {},
        400,
        "BadRequest",
        "does not match the namespace",
    ),
    (
        "name-mismatch-put",
        "PUT",
        f"{RC_PATH}/a",
        raycluster("b") | {"metadata": {"name": "b", "resourceVersion": "1"}},
        "application/json",
        {},
        400,
        "BadRequest",
        "does not match the name on the URL",
    ),
    (
        "invalid-json",
        "POST",
        RC_PATH,
        b"{bad",
        "application/json",
        {},
        400,
        "BadRequest",
        "invalid character 'b' looking for beginning of object key string",
    ),
    ("invalid-yaml", "POST", RC_PATH, b"a: [", "application/yaml", {}, 400, "BadRequest", "yaml: line 1"),
    (
        "array-body",
        "POST",
        RC_PATH,
        b"[1]",
        "application/json",
        {},
        400,
        "BadRequest",
        "cannot unmarshal array",
    ),
    (
        "unknown-content-type",
        "POST",
        RC_PATH,
        b"x",
        "text/plain",
        {},
        415,
        "UnsupportedMediaType",
        "unknown format",
    ),
    (
        "too-large",
        "POST",
        RC_PATH,
        _big(),
        "application/json",
        {},
        413,
        "RequestEntityTooLarge",
        "limit is 3145728",
    ),
    (
        "post-on-core-object",
        "POST",
        f"{CM_PATH}/c",
        {},
        "application/json",
        {},
        405,
        "MethodNotAllowed",
        "does not allow this method",
    ),
    (
        "delete-status",
        "DELETE",
        f"{RC_PATH}/a/status",
        None,
        "",
        {},
        405,
        "MethodNotAllowed",
        'delete is not supported on resources of kind "rayclusters.ray.io"',
    ),
    (
        "deletecollection-namespaces",
        "DELETE",
        "/api/v1/namespaces",
        None,
        "",
        {},
        405,
        "MethodNotAllowed",
        "does not allow this method",
    ),
    (
        "strategic-merge-cr",
        "PATCH",
        f"{RC_PATH}/a",
        b"{}",
        "application/strategic-merge-patch+json",
        {},
        415,
        "UnsupportedMediaType",
        "application/json-patch+json, application/merge-patch+json",
    ),
    (
        "json-patch-fails",
        "PATCH",
        f"{RC_PATH}/a",
        [{"op": "test", "path": "/spec/rayVersion", "value": "0"}],
        "application/json-patch+json",
        {},
        422,
        "Invalid",
        "",
    ),
    (
        "json-patch-not-a-list",
        "PATCH",
        f"{RC_PATH}/a",
        {"op": "add"},
        "application/json-patch+json",
        {},
        400,
        "BadRequest",
        "",
    ),
    (
        "merge-patch-stale-rv",
        "PATCH",
        f"{RC_PATH}/a",
        {"metadata": {"resourceVersion": "1"}},
        "application/merge-patch+json",
        {},
        409,
        "Conflict",
        "",
    ),
    (
        "patch-missing",
        "PATCH",
        f"{RC_PATH}/nope",
        {},
        "application/merge-patch+json",
        {},
        404,
        "NotFound",
        "",
    ),
    (
        "label-selector-parse",
        "GET",
        RC_PATH,
        None,
        "",
        {"labelSelector": "a in"},
        400,
        "BadRequest",
        "unable to parse requirement: found '' expected: '('",
    ),
    (
        "field-selector-unsupported",
        "GET",
        RC_PATH,
        None,
        "",
        {"fieldSelector": "spec.x=1"},
        400,
        "BadRequest",
        "field label not supported: spec.x",
    ),
    (
        "field-selector-syntax",
        "GET",
        RC_PATH,
        None,
        "",
        {"fieldSelector": "metadata.name"},
        400,
        "BadRequest",
        "invalid selector",
    ),
    (
        "continue-malformed",
        "GET",
        RC_PATH,
        None,
        "",
        {"limit": "1", "continue": "!!"},
        400,
        "BadRequest",
        "continue key is not valid",
    ),
    (
        "delete-bad-propagation",
        "DELETE",
        f"{RC_PATH}/a",
        None,
        "",
        {"propagationPolicy": "Never"},
        422,
        "Invalid",
        "propagationPolicy: Unsupported value",
    ),
    (
        "delete-uid-precondition",
        "DELETE",
        f"{RC_PATH}/a",
        {"preconditions": {"uid": "nope"}},
        "application/json",
        {},
        409,
        "Conflict",
        "the UID in the precondition (nope) does not match the UID in record",
    ),
    (
        "proxy-no-endpoints",
        "GET",
        "/api/v1/namespaces/default/services/svc/proxy/api",
        None,
        "",
        {},
        503,
        "ServiceUnavailable",
        'no endpoints available for service "svc"',
    ),
    (
        "proxy-missing-service",
        "GET",
        "/api/v1/namespaces/default/services/nope/proxy/",
        None,
        "",
        {},
        503,
        "ServiceUnavailable",
        'no endpoints available for service "nope"',
    ),
    (
        "dry-run-bogus-create",
        "POST",
        RC_PATH,
        raycluster("d"),
        "application/json",
        {"dryRun": "Bogus"},
        422,
        "Invalid",
        'CreateOptions.meta.k8s.io "" is invalid: dryRun: Unsupported value: ["Bogus"]',
    ),
    (
        "field-validation-bogus",
        "POST",
        RC_PATH,
        raycluster("d"),
        "application/json",
        {"fieldValidation": "Sometimes"},
        422,
        "Invalid",
        'fieldValidation: Unsupported value: "Sometimes"',
    ),
    (
        "delete-missing-bad-options",
        "DELETE",
        f"{RC_PATH}/nope",
        None,
        "",
        {"propagationPolicy": "Sideways"},
        422,
        "Invalid",
        "DeleteOptions.meta.k8s.io",
    ),
    (
        "json-patch-unknown-op",
        "PATCH",
        f"{RC_PATH}/a",
        [{"op": "frobnicate", "path": "/x"}],
        "application/json-patch+json",
        {},
        422,
        "Invalid",
        "the server rejected our request due to an error",
    ),
    (
        "rv-match-without-rv",
        "GET",
        RC_PATH,
        None,
        "",
        {"resourceVersionMatch": "Exact"},
        422,
        "Invalid",
        "resourceVersionMatch is forbidden unless resourceVersion is provided",
    ),
    (
        "rv-not-a-number",
        "GET",
        RC_PATH,
        None,
        "",
        {"resourceVersion": "abc"},
        400,
        "BadRequest",
        "invalid resource version",
    ),
    (
        "timeout-not-a-number",
        "GET",
        RC_PATH,
        None,
        "",
        {"timeoutSeconds": "x"},
        400,
        "BadRequest",
        'strconv.ParseInt: parsing "x": invalid syntax',
    ),
    (
        "delete-preconditions-not-an-object",
        "DELETE",
        f"{RC_PATH}/a",
        {"preconditions": [1]},
        "application/json",
        {},
        400,
        "BadRequest",
        "preconditions",
    ),
]


def test_no_new_finalizers_while_deleting(client: Client, app: FakeKube) -> None:
    client.send("POST", RC_PATH, raycluster("f") | {"metadata": {"name": "f", "finalizers": ["x.io/a"]}})
    marked = client.send("DELETE", f"{RC_PATH}/f").json()
    before = state(app)
    marked["metadata"]["finalizers"] = ["x.io/a", "x.io/b"]
    r = client.send("PUT", f"{RC_PATH}/f", marked)
    assert r.status == 422 and r.json()["reason"] == "Invalid"
    assert r.json()["details"]["causes"][0] == {
        "reason": "FieldValueForbidden",
        "field": "metadata.finalizers",
        "message": "Forbidden: no new finalizers can be added if the object is being deleted, found new "
        'finalizers []string{"x.io/b"}',
    }
    assert state(app) == before


def test_watch_from_before_server_start_is_expired(client: Client) -> None:
    r = client.send("GET", RC_PATH, query={"watch": "1", "resourceVersion": "1"})
    (ev,) = [json.loads(x) for x in r.read().splitlines()]
    assert ev["type"] == "ERROR" and ev["object"]["code"] == 410


@pytest.mark.parametrize(
    ("method", "path", "body", "ctype", "query", "code", "reason", "message"),
    [c[1:] for c in CASES],
    ids=[c[0] for c in CASES],
)
def test_rejected_and_store_unchanged(
    seeded: Client,
    app: FakeKube,
    method: str,
    path: str,
    body: Any,
    ctype: str,
    query: dict[str, str],
    code: int,
    reason: str,
    message: str,
) -> None:
    if callable(body):
        body = body(seeded)
    before = state(app)
    r = seeded.send(method, path, body, query=query, content_type=ctype or "application/json")
    assert r.status == code, r.read()[:500]
    status = r.json()
    assert status["kind"] == "Status" and status["apiVersion"] == "v1" and status["status"] == "Failure"
    assert status["reason"] == reason and status["code"] == code
    assert message in status["message"]
    assert state(app) == before


def test_expired_continue_is_410(connect: Callable[[FakeKube], Client]) -> None:
    from fakekube import create_app

    small = connect(create_app(history_size=2))
    for i in range(3):
        assert small.send("POST", RC_PATH, raycluster(f"r{i}")).status == 201
    first = small.send("GET", RC_PATH, query={"limit": "1"}).json()
    token = first["metadata"]["continue"]
    for i in range(3):
        small.send(
            "PATCH",
            f"{RC_PATH}/r{i}",
            {"metadata": {"labels": {"n": str(i)}}},
            content_type="application/merge-patch+json",
        )
    r = small.send("GET", RC_PATH, query={"limit": "1", "continue": token})
    assert r.status == 410 and r.json()["reason"] == "Expired"
    assert "continue parameter is too old" in r.json()["message"]
    r = small.send("GET", RC_PATH, query={"limit": "1", "continue": _EXPIRED_TOKEN})
    assert r.status == 410


def test_unexpected_errors_answer_a_status(
    client: Client, app: FakeKube, monkeypatch: pytest.MonkeyPatch
) -> None:
    def boom(*args: Any) -> None:
        raise RuntimeError("kaput")

    from fakekube._endpoints.handlers import HANDLERS

    monkeypatch.setitem(HANDLERS, "get", boom)
    r = client.send("GET", f"{RC_PATH}/a")
    assert r.status == 500 and r.json()["reason"] == "InternalError"
    assert r.json()["message"] == "Internal error occurred: RuntimeError: kaput"

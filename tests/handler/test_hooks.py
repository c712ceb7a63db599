"""The object-hook API: registration, the request context, rewriting, and errors as ``Status``."""

from __future__ import annotations

import json
from typing import Any

import pytest
from litestar.testing import TestClient

from handler import HookError, RequestContext, Settings, create_app, object_hook
from handler.hooks import ObjectHook, request_verb
from handler.routes import match
from tests.handler.gateway_stub import Reply, StubUpstream

NS = "/apis/ray.io/v1/namespaces/team-a"


def test_registration_checks_verbs_and_async() -> None:
    with pytest.raises(ValueError, match="unknown verbs"):
        object_hook(["create", "upsert"], ["*"])

    def sync_hook(ctx: RequestContext, obj: Any) -> Any:
        return obj

    with pytest.raises(ValueError, match="async"):
        object_hook(["create"], ["*"])(sync_hook)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("resources", "group", "resource", "expected"),
    [
        (["ray.io/rayclusters"], "ray.io", "rayclusters", True),
        (["ray.io/rayclusters"], "ray.io", "rayjobs", False),
        (["ray.io/*"], "ray.io", "rayjobs", True),
        (["*"], "", "configmaps", True),
        (["configmaps"], "", "configmaps", True),
        (["configmaps"], "ray.io", "configmaps", False),
    ],
)
def test_resource_patterns(resources: list[str], group: str, resource: str, expected: bool) -> None:
    async def noop(ctx: RequestContext, obj: Any) -> Any:
        return obj

    hook = object_hook(["create"], resources)(noop)
    assert hook.matches("create", group, resource) is expected
    assert hook.matches("delete", group, resource) is False


@pytest.mark.parametrize(
    ("method", "path", "query", "verb"),
    [
        ("POST", "/rayclusters", "", "create"),
        ("PUT", "/rayclusters/a", "", "update"),
        ("PATCH", "/rayclusters/a", "", "patch"),
        ("DELETE", "/rayclusters/a", "", "delete"),
        ("DELETE", "/rayclusters", "", "deletecollection"),
        ("GET", "/rayclusters/a", "", "get"),
        ("GET", "/rayclusters", "limit=1", "list"),
        ("GET", "/rayclusters", "watch=1", "watch"),
    ],
)
def test_verbs_as_the_apiserver_names_them(method: str, path: str, query: str, verb: str) -> None:
    assert request_verb(method, match(method, NS + path), query) == verb


def recording_hook(seen: list[tuple[RequestContext, Any]]) -> ObjectHook:
    @object_hook(["create", "update", "delete"], ["ray.io/rayclusters"])
    async def record(ctx: RequestContext, obj: Any) -> Any:
        seen.append((ctx, json.loads(json.dumps(obj))))
        if obj is not None:
            obj["metadata"].setdefault("annotations", {})["seen-by"] = (
                ctx.user.name if ctx.user else "anonymous"
            )
        return obj

    return record


def test_hook_gets_context_and_rewrites_the_object(stub: StubUpstream) -> None:
    stub.reset()
    seen: list[tuple[RequestContext, Any]] = []
    app = create_app(
        Settings(authentication="none", accept_hosts=".*", upstream=stub.url),
        middleware=[recording_hook(seen)],
    )
    body = "apiVersion: ray.io/v1\nkind: RayCluster\nmetadata:\n  name: c1\n"
    with TestClient(app) as c:
        r = c.post(
            f"{NS}/rayclusters?dryRun=All&fieldManager=me",
            content=body,
            headers={"Content-Type": "application/yaml", "X-Remote-User": "alice"},
        )
        assert r.status_code == 200
        c.delete(f"{NS}/rayclusters/c1")
    (ctx, obj), (dctx, dobj) = seen
    assert (ctx.verb, ctx.group, ctx.resource, ctx.namespace, ctx.name) == (
        "create",
        "ray.io",
        "rayclusters",
        "team-a",
        None,
    )
    # Under --authentication none nobody is verified: the caller's X-Remote-User is not the user.
    assert ctx.query == {"dryRun": "All", "fieldManager": "me"} and ctx.user is None
    assert obj == {"apiVersion": "ray.io/v1", "kind": "RayCluster", "metadata": {"name": "c1"}}
    assert (dctx.verb, dctx.name, dobj) == ("delete", "c1", None)
    sent = stub.seen[0]
    assert sent.headers["content-type"] == "application/json"  # YAML in, JSON upstream
    assert json.loads(sent.body)["metadata"]["annotations"] == {"seen-by": "anonymous"}
    assert "x-remote-user" not in sent.headers  # the caller's identity claim stays here
    assert stub.seen[1].method == "DELETE" and stub.seen[1].body == b""


def test_requests_no_hook_matches_pass_through_as_bytes(stub: StubUpstream) -> None:
    stub.reset()
    seen: list[tuple[RequestContext, Any]] = []
    raw = b'{"kind":"RayJob",   "metadata":{"name":"j"}}\n'
    with TestClient(
        create_app(
            Settings(authentication="none", accept_hosts=".*", upstream=stub.url),
            middleware=[recording_hook(seen)],
        )
    ) as c:
        c.post(f"{NS}/rayjobs", content=raw, headers={"Content-Type": "application/json"})
        c.patch(
            f"{NS}/rayclusters/c",
            content=b'{"spec":{}}',
            headers={"Content-Type": "application/merge-patch+json"},
        )
        c.put(f"{NS}/rayclusters/c/status", content=raw, headers={"Content-Type": "application/json"})
    assert seen == []
    assert [s.body for s in stub.seen] == [raw, b'{"spec":{}}', raw]


def test_hook_errors_are_status_responses(stub: StubUpstream) -> None:
    stub.reset()

    @object_hook(["create"], ["ray.io/*"])
    async def refuse(ctx: RequestContext, obj: Any) -> Any:
        raise HookError(
            422,
            f'RayCluster.ray.io "{obj["metadata"]["name"]}" is invalid: spec.rayVersion: Required value',
            causes=[
                {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.rayVersion"}
            ],
            details={"name": obj["metadata"]["name"], "group": "ray.io", "kind": "RayCluster"},
        )

    @object_hook(["create"], ["ray.io/rayjobs"])
    async def broken(ctx: RequestContext, obj: Any) -> Any:
        raise RuntimeError("bug in a hook")

    with TestClient(
        create_app(
            Settings(authentication="none", accept_hosts=".*", upstream=stub.url), middleware=[broken, refuse]
        )
    ) as c:
        r = c.post(f"{NS}/rayclusters", json={"metadata": {"name": "x"}})
        assert r.status_code == 422
        assert r.json() == {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": 'RayCluster.ray.io "x" is invalid: spec.rayVersion: Required value',
            "reason": "Invalid",
            "code": 422,
            "details": {
                "name": "x",
                "group": "ray.io",
                "kind": "RayCluster",
                "causes": [
                    {"reason": "FieldValueRequired", "message": "Required value", "field": "spec.rayVersion"}
                ],
            },
        }
        r = c.post(f"{NS}/rayjobs", json={"metadata": {"name": "j"}})
        assert (
            r.status_code == 500
            and r.json()["reason"] == "InternalError"
            and "bug in a hook" in r.json()["message"]
        )
        r = c.post(f"{NS}/rayclusters", content=b"{oops", headers={"Content-Type": "application/json"})
        assert r.status_code == 400 and r.json()["reason"] == "BadRequest"
    assert stub.seen == []  # nothing went upstream


def test_hook_reads_the_upstream_with_the_gateway_credentials(stub: StubUpstream) -> None:
    stub.reset()
    stub.script(Reply(body=b'{"data":{"max":"1"}}'))  # answers the first request: the lookup

    @object_hook(["create"], ["ray.io/rayclusters"])
    async def limited(ctx: RequestContext, obj: Any) -> Any:
        status, cm = await ctx.get_json(f"/api/v1/namespaces/{ctx.namespace}/configmaps/limits")
        assert status == 200
        obj["metadata"]["labels"] = {"max": cm["data"]["max"]}
        return obj

    with TestClient(
        create_app(
            Settings(authentication="none", accept_hosts=".*", upstream=stub.url), middleware=[limited]
        )
    ) as c:
        assert c.post(f"{NS}/rayclusters", json={"metadata": {"name": "x"}}).status_code == 200
    lookup, create = stub.seen
    assert lookup.method == "GET" and lookup.path == "/api/v1/namespaces/team-a/configmaps/limits"
    assert create.method == "POST"
    assert json.loads(create.body)["metadata"]["labels"] == {"max": "1"}


def test_patch_hooks_get_the_patch_and_keep_its_type(stub: StubUpstream) -> None:
    stub.reset()
    patches: list[Any] = []

    @object_hook(["patch"], ["ray.io/rayclusters"])
    async def annotate(ctx: RequestContext, patch: Any) -> Any:
        patches.append(json.loads(json.dumps(patch)))  # as received, before the change below
        if isinstance(patch, dict):
            patch.setdefault("metadata", {}).setdefault("annotations", {})["patched-by"] = "hook"
        return patch

    apply_body = "apiVersion: ray.io/v1\nkind: RayCluster\nmetadata:\n  name: c\n"
    with TestClient(
        create_app(
            Settings(authentication="none", accept_hosts=".*", upstream=stub.url), middleware=[annotate]
        )
    ) as c:
        c.patch(
            f"{NS}/rayclusters/c",
            content=b'{"spec":{}}',
            headers={"Content-Type": "application/merge-patch+json"},
        )
        c.patch(
            f"{NS}/rayclusters/c?fieldManager=me",
            content=apply_body,
            headers={"Content-Type": "application/apply-patch+yaml"},
        )
    assert patches[0] == {"spec": {}}
    assert patches[1] == {"apiVersion": "ray.io/v1", "kind": "RayCluster", "metadata": {"name": "c"}}
    merge, apply = stub.seen
    assert merge.headers["content-type"] == "application/merge-patch+json"
    assert json.loads(merge.body)["metadata"]["annotations"] == {"patched-by": "hook"}
    assert apply.headers["content-type"] == "application/apply-patch+yaml"
    assert json.loads(apply.body)["metadata"] == {"name": "c", "annotations": {"patched-by": "hook"}}

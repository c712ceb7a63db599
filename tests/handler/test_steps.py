"""Each step of the route table alone: a GatewayRequest, a recording ``next``, a fake upstream; and the
helpers the steps use (the forced events selector, the KubeRay Service label)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from typing import Any

import pytest

from handler import GatewayError, GatewayRequest, ObjectHook, RequestContext, object_hook
from handler._body import RequestBody
from handler.request import USER_HEADER
from handler.responses import AnyResponse, Response, SharedWatchResponse, json_response
from handler.routes import gateway_routes
from handler.routing import RouteTable
from handler.steps import (
    EVENTS_SELECTOR,
    CancelOnDisconnect,
    EvaluateFieldSelectorsLocally,
    ForceEventsSelector,
    ObjectHooks,
    ReadApiBody,
    RequestRules,
    RequireKubeRayService,
    ShareWatches,
    force_field_selector,
    is_kuberay_service,
)
from handler.template_api import TemplateConfigMapGuard, TemplateConfigMapWriteCheck
from kubeapi.authn import UserInfo
from kubeapi.query import Query

TABLE: RouteTable = gateway_routes(field_selector_fields=("status.state",))
PASSED = json_response(299, {"passed": True})


class FakeUpstream:
    """Answers ``get_json`` from a dict of path → (status, object); records every call."""

    def __init__(self, objects: dict[str, tuple[int, Any]] | None = None) -> None:
        self.objects = objects or {}
        self.calls: list[tuple[str, str]] = []

    async def get_json(
        self, path: str, query: str = "", accept: str = "", route: str = "", identity: Any = None
    ) -> tuple[int, Any]:
        self.calls.append((path, query))
        return self.objects.get(path, (404, {"kind": "Status", "reason": "NotFound", "message": "nope"}))


def receive_of(body: bytes) -> Callable[[], Awaitable[dict[str, Any]]]:
    sent = False

    async def receive() -> dict[str, Any]:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.sleep(3600)
        return {"type": "http.disconnect"}

    return receive


def request(
    method: str,
    path: str,
    query: str = "",
    body: Any = None,
    upstream: Any = None,
    headers: list[tuple[str, str]] | None = None,
) -> GatewayRequest:
    """A GatewayRequest for ``method path?query`` matched in the gateway's table."""
    raw = json.dumps(body).encode() if body is not None else b""
    _, target = TABLE.match(method, path)
    hdrs = [("content-type", "application/json")] if body is not None else []
    receive = receive_of(raw)
    return GatewayRequest(
        method,
        path,
        query,
        hdrs + (headers or []),
        target,
        RequestBody(receive, len(raw), False),  # type: ignore[arg-type]
        upstream or FakeUpstream(),
        3 * 1024 * 1024,
        receive,  # type: ignore[arg-type]
        [(USER_HEADER.encode(), b"mallory")],  # a header claim: never the user
    )


class Next:
    """A recording ``next``: remembers the request it got and answers PASSED."""

    def __init__(self) -> None:
        self.seen: GatewayRequest | None = None

    async def __call__(self, r: GatewayRequest) -> AnyResponse:
        self.seen = r
        return PASSED


def run(step: Any, r: GatewayRequest) -> tuple[AnyResponse, Next]:
    nxt = Next()
    return asyncio.run(step(r, next=nxt)), nxt


RAY = "/apis/ray.io/v1/namespaces/ns/rayclusters"


def test_read_api_body_reads_the_body_whole_before_going_on() -> None:
    r = request("POST", RAY, body={"a": 1})
    response, nxt = run(ReadApiBody(), r)
    assert response is PASSED and nxt.seen is r and r.raw_body.buffered == b'{"a": 1}'


def test_request_rules_run_in_order_and_can_refuse() -> None:
    order: list[str] = []

    async def first(req: GatewayRequest) -> None:
        order.append("first")
        req.set_header("x-first", "1")

    async def second(req: GatewayRequest) -> None:
        order.append("second")
        if req.method == "DELETE":
            raise GatewayError(403, "Forbidden", "no")

    r = request("GET", RAY)
    response, _ = run(RequestRules([first, second]), r)
    assert response is PASSED and order == ["first", "second"] and r.header("x-first") == "1"
    with pytest.raises(GatewayError) as e:
        run(RequestRules([first, second]), request("DELETE", RAY + "/a"))
    assert e.value.code == 403


def test_object_hooks_rewrite_the_parsed_body_for_matching_verbs_only() -> None:
    seen: list[tuple[str, UserInfo | None]] = []

    @object_hook(verbs=["create"], resources=["ray.io/rayclusters"])
    async def add_label(ctx: RequestContext, obj: Any) -> Any:
        seen.append((ctx.verb, ctx.user))
        obj["metadata"]["labels"] = {"stamped": "yes"}
        return obj

    r = request("POST", RAY, body={"metadata": {"name": "a"}})
    alice = UserInfo.of("alice", "uid-1", ["team-a"], {"scopes": ["x"]})
    r.user = alice  # what the pipeline sets from the verified authentication
    response, nxt = run(ObjectHooks([add_label]), r)
    assert response is PASSED and nxt.seen is r and seen == [("create", alice)]
    assert json.loads(r.raw_body.buffered or b"") == {"metadata": {"name": "a", "labels": {"stamped": "yes"}}}
    assert r.header("content-type") == "application/json"
    run(ObjectHooks([add_label]), request("GET", RAY))  # a list: not a create
    run(ObjectHooks([add_label]), request("PUT", RAY + "/a/status", body={"metadata": {}}))  # subresource
    assert len(seen) == 1


def test_object_hooks_answer_an_unexpected_exception_as_500() -> None:
    @object_hook(verbs=["create"], resources=["*"])
    async def broken(ctx: RequestContext, obj: Any) -> Any:
        raise RuntimeError("boom")

    assert isinstance(broken, ObjectHook)
    with pytest.raises(GatewayError) as e:
        run(ObjectHooks([broken]), request("POST", RAY, body={"metadata": {"name": "a"}}))
    assert e.value.code == 500 and "object hook broken failed: boom" in e.value.message


def test_force_events_selector_ands_the_ray_selector_into_the_callers() -> None:
    r = request("GET", "/api/v1/namespaces/ns/events", "fieldSelector=reason%3DX&limit=5")
    run(ForceEventsSelector("core"), r)
    assert r.params.values("fieldSelector") == ["involvedObject.apiVersion=ray.io/v1,reason=X"]
    assert r.params.get("limit") == "5"
    r = request("GET", "/apis/events.k8s.io/v1/namespaces/ns/events")
    run(ForceEventsSelector("events.k8s.io"), r)
    assert r.params.values("fieldSelector") == ["regarding.apiVersion=ray.io/v1"]


SVC = "/api/v1/namespaces/ns/services/head:8265/proxy/api/jobs/"
SVC_OBJECT = "/api/v1/namespaces/ns/services/head"


@pytest.mark.parametrize(
    ("answer", "passes"),
    [
        ((200, {"metadata": {"labels": {"app.kubernetes.io/name": "kuberay"}}}), True),
        ((200, {"metadata": {"labels": {"app.kubernetes.io/name": "other"}}}), False),
        ((404, {"kind": "Status"}), False),
    ],
)
def test_require_kuberay_service_checks_the_service_label(answer: tuple[int, Any], passes: bool) -> None:
    upstream = FakeUpstream({SVC_OBJECT: answer})
    r = request("GET", SVC, upstream=upstream)
    assert r.route.service == "head"
    if passes:
        response, nxt = run(RequireKubeRayService(), r)
        assert response is PASSED and nxt.seen is r
    else:
        with pytest.raises(GatewayError) as e:
            run(RequireKubeRayService(), r)
        assert e.value.code == 404 and e.value.details == {"name": "head", "kind": "services"}
    # read again before the answer is relayed when it passed (issue 13 finding 8)
    assert upstream.calls == [(SVC_OBJECT, "")] * (2 if passes else 1)


def test_share_watches_goes_on_when_fanout_is_off_or_the_request_is_not_a_shareable_watch() -> None:
    for r in (
        request("GET", RAY, "watch=1"),  # fan-out off (no cache)
    ):
        response, nxt = run(ShareWatches(None), r)
        assert response is PASSED and nxt.seen is r

    class NoCache:
        async def subscribe(self, plan: Any, upstream: Any, identity: Any = None) -> Any:
            raise AssertionError("must not be asked")

    step = ShareWatches(NoCache(), ("status.state",))  # type: ignore[arg-type]
    for r in (
        request("GET", RAY),  # a list
        request("GET", RAY + "/a", "watch=1"),  # one object
        request("GET", RAY, "watch=1&fieldSelector=status.state%3Dready"),  # evaluated locally
        request("GET", RAY, "watch=1", headers=[("accept", "application/json;as=Table;g=meta.k8s.io;v=v1")]),
    ):
        response, _ = run(step, r)
        assert response is PASSED


def test_share_watches_answers_a_shareable_watch_from_the_cache() -> None:
    class Entry:
        def __init__(self) -> None:
            self.headers = [(b"content-type", b"application/json")]

    class Sub:
        def __init__(self) -> None:
            self.entry = Entry()

    class Cache:
        def __init__(self) -> None:
            self.plans: list[Any] = []

        async def subscribe(self, plan: Any, upstream: Any, identity: Any = None) -> Any:
            self.plans.append(plan)
            return Sub()

    cache = Cache()
    response, nxt = run(ShareWatches(cache), request("GET", RAY, "watch=yes&timeoutSeconds=7"))  # type: ignore[arg-type]
    assert isinstance(response, SharedWatchResponse) and nxt.seen is None
    assert response.timeout == 7.0 and cache.plans[0].path == RAY


class LossyReceive:
    """An ASGI ``receive`` that, like granian's, hands each message to the oldest call made, even
    one whose caller was cancelled meanwhile (so that message is lost)."""

    def __init__(self) -> None:
        self.calls: list[asyncio.Future[dict[str, Any]]] = []

    async def __call__(self) -> dict[str, Any]:
        call: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.calls.append(call)
        return await call

    def deliver(self, message: dict[str, Any]) -> None:
        call = self.calls.pop(0)
        if not call.done():
            call.set_result(message)


def test_share_watches_hands_its_pending_receive_to_the_response() -> None:
    """A watch that joins a shared watch while it opens (the opening's disconnect watcher reading
    ``receive``) still sees its caller leave once served: the watcher's pending call is the one the
    response reads (SharedReceive). With a second call instead, the disconnect went to the
    cancelled one, and 1,000 watches joining at once left some answered 200 with no events."""

    class Sub:
        entry = type("Entry", (), {"headers": [(b"content-type", b"application/json")]})()

    class SlowCache:
        async def subscribe(self, plan: Any, upstream: Any, identity: Any = None) -> Any:
            await asyncio.sleep(0.2)  # the watcher is past the body and waiting in receive()
            return Sub()

    async def go() -> object:
        r = request("GET", RAY, "watch=1")
        lossy = LossyReceive()
        r.receive = lossy  # type: ignore[assignment]
        response = await ShareWatches(SlowCache())(r, next=Next())  # type: ignore[arg-type]
        assert isinstance(response, SharedWatchResponse) and r.receive is not None
        read = asyncio.ensure_future(r.receive())  # what the pipeline hands the response
        await asyncio.sleep(0.05)
        lossy.deliver({"type": "http.disconnect"})  # the caller leaves
        return await asyncio.wait_for(read, 2)

    assert asyncio.run(go()) == {"type": "http.disconnect"}


def test_cancel_on_disconnect_watches_only_watches_unless_always() -> None:
    async def go(step: CancelOnDisconnect, r: GatewayRequest) -> bool:
        await step(r, next=Next())
        started = r.disconnect_watcher is not None
        if r.disconnect_watcher is not None:
            r.disconnect_watcher.cancel()
        return started

    assert asyncio.run(go(CancelOnDisconnect(), request("GET", RAY, "watch=true")))
    assert not asyncio.run(go(CancelOnDisconnect(), request("GET", RAY)))
    assert asyncio.run(go(CancelOnDisconnect(always=True), request("GET", RAY)))


def _disconnecting_request(leave_after: float) -> tuple[GatewayRequest, list[str]]:
    """A GET whose caller disconnects ``leave_after`` seconds after its ``receive`` is first read;
    the list records each ``receive`` call."""
    reads: list[str] = []

    async def receive() -> dict[str, Any]:
        reads.append("receive")
        await asyncio.sleep(leave_after)
        return {"type": "http.disconnect"}

    r = request("GET", RAY)
    r.receive = receive  # type: ignore[assignment]
    r.raw_body._receive = receive  # type: ignore[assignment]
    return r, reads


def test_a_request_answered_within_the_delay_never_reads_receive() -> None:
    """The watcher starts only once the request ran ``delay`` seconds: a quick answer costs a
    timer, not a task and a pending ``receive()`` (the CPU the deferral saves)."""

    async def go() -> tuple[list[str], bool]:
        r, reads = _disconnecting_request(0.0)
        step = CancelOnDisconnect(always=True, delay=0.2)
        await step(r, next=Next())
        assert r.disconnect_watcher is not None
        r.disconnect_watcher.cancel()  # what the pipeline does once the response was sent
        await asyncio.sleep(0.3)  # past the delay: the cancelled timer never fires
        return reads, r.disconnected.is_set()

    assert asyncio.run(go()) == ([], False)


def test_a_caller_leaving_a_longer_request_still_cancels_it() -> None:
    """A request that outlives the delay gets the watcher: the caller's disconnect cancels the
    request's task and marks the request disconnected, as before the deferral."""

    class Slow:
        async def __call__(self, r: GatewayRequest) -> AnyResponse:
            await asyncio.sleep(5)
            return PASSED

    async def go() -> tuple[list[str], bool, float]:
        r, reads = _disconnecting_request(0.05)
        step = CancelOnDisconnect(always=True, delay=0.05)
        t0 = asyncio.get_running_loop().time()
        with pytest.raises(asyncio.CancelledError):
            await step(r, next=Slow())
        took = asyncio.get_running_loop().time() - t0
        assert r.disconnect_watcher is not None
        r.disconnect_watcher.cancel()
        return reads, r.disconnected.is_set(), took

    reads, disconnected, took = asyncio.run(go())
    assert reads == ["receive"] and disconnected
    assert took < 1.0, f"the disconnect cancelled the request only after {took:.2f}s"


def test_watchers_start_in_turn_on_every_event_loop_the_step_serves() -> None:
    """Several requests at once (one answered quickly, two that outlive the delay and whose callers
    leave), on two event loops one after the other with the same step (a closed loop leaves
    nothing that stops the next one's watchers): exactly the long ones are cancelled, and the
    step keeps no state for a loop once none of its requests waits."""

    class Sleep:
        def __init__(self, seconds: float) -> None:
            self.seconds = seconds

        async def __call__(self, r: GatewayRequest) -> AnyResponse:
            await asyncio.sleep(self.seconds)
            return PASSED

    step = CancelOnDisconnect(always=True, delay=0.05)

    async def one(seconds: float, stagger: float) -> tuple[str, list[str]]:
        await asyncio.sleep(stagger)
        r, reads = _disconnecting_request(0.02)
        try:
            await step(r, next=Sleep(seconds))
            outcome = "answered"
        except asyncio.CancelledError:
            outcome = "cancelled" if r.disconnected.is_set() else "cancelled without a disconnect"
        finally:
            assert r.disconnect_watcher is not None
            r.disconnect_watcher.cancel()
        return outcome, reads

    async def go() -> list[tuple[str, list[str]]]:
        results = await asyncio.gather(one(0.0, 0.0), one(5, 0.0), one(5, 0.03))
        await asyncio.sleep(0.1)  # the starter's last timer finds nothing waiting
        return list(results)

    for _ in range(2):
        assert asyncio.run(go()) == [("answered", []), ("cancelled", ["receive"]), ("cancelled", ["receive"])]
        assert step._starters == {}


def test_evaluate_field_selectors_locally_filters_a_list_and_passes_the_rest() -> None:
    items = [
        {"metadata": {"namespace": "ns", "name": "a"}, "status": {"state": "ready"}},
        {"metadata": {"namespace": "ns", "name": "b"}, "status": {"state": "failed"}},
    ]

    class Pages(FakeUpstream):
        async def get_json(
            self, path: str, query: str = "", accept: str = "", route: str = "", identity: Any = None
        ) -> tuple[int, Any]:
            self.calls.append((path, query))
            return 200, {"kind": "RayClusterList", "metadata": {"resourceVersion": "9"}, "items": items}

    step = EvaluateFieldSelectorsLocally(("status.state",))
    upstream = Pages()
    response, nxt = run(step, request("GET", RAY, "fieldSelector=status.state%3Dready", upstream=upstream))
    assert isinstance(response, Response) and nxt.seen is None and response.status == 200

    async def body() -> bytes:
        assert not isinstance(response.body, bytes)
        return b"".join([c async for c in response.body])

    doc = json.loads(asyncio.run(body()))
    assert [i["metadata"]["name"] for i in doc["items"]] == ["a"]
    assert "fieldSelector" not in Query.parse(upstream.calls[0][1])  # no upstream-supported terms
    for r in (
        request("GET", RAY),
        request("GET", RAY, "fieldSelector=metadata.name%3Da"),  # the upstream's own
        request("GET", RAY + "/a", "fieldSelector=status.state%3Dready"),
    ):
        assert run(step, r)[0] is PASSED


TEMPLATE = {
    "metadata": {
        "name": "small",
        "uid": "u1",
        "labels": {"ray.io/config-type": "compute-template", "ray.io/compute-template": "small"},
    },
    "data": {"name": "small", "namespace": "ns", "cpu": "2", "memory": "4"},
}
CM = "/api/v1/namespaces/ns/configmaps"


def test_template_configmap_guard_confines_configmaps_to_templates() -> None:
    guard = TemplateConfigMapGuard()
    r = request("GET", CM, "labelSelector=team%3Dml")
    run(guard, r)
    assert r.params.values("labelSelector") == ["team=ml,ray.io/config-type=compute-template"]
    upstream = FakeUpstream(
        {CM + "/small": (200, TEMPLATE), CM + "/other": (200, {"metadata": {"name": "other"}})}
    )
    response, nxt = run(guard, request("GET", CM + "/small", upstream=upstream))
    assert isinstance(response, Response) and json.loads(response.body) == TEMPLATE  # type: ignore[arg-type]
    assert nxt.seen is None
    with pytest.raises(GatewayError) as e:
        run(guard, request("GET", CM + "/other", upstream=upstream))
    assert e.value.code == 404
    r = request("DELETE", CM + "/small", upstream=upstream)
    response, nxt = run(guard, r)
    assert response is PASSED and json.loads(r.raw_body.buffered or b"")["preconditions"] == {"uid": "u1"}
    with pytest.raises(GatewayError) as e:
        run(guard, request("POST", CM, body={"metadata": {"name": "plain"}}))
    assert e.value.code == 422  # the final body must still be a labelled template


def test_template_configmap_write_check_refuses_what_the_caller_may_not_write() -> None:
    check = TemplateConfigMapWriteCheck()
    body = {**TEMPLATE, "data": {**TEMPLATE["data"], "mapRoles": "[]"}}
    with pytest.raises(GatewayError) as e:
        run(check, request("POST", CM, body=body))
    assert e.value.code == 422 and e.value.message == (
        'ConfigMap "small" is invalid: data[mapRoles]: Forbidden: not a compute-template key (the keys are '
        "name, namespace, cpu, memory, memory_unit, gpu, gpu_accelerator, extended_resources, tolerations)"
    )
    assert run(check, request("POST", CM, body=TEMPLATE))[0] is PASSED
    assert run(check, request("GET", CM))[0] is PASSED


def test_request_watch_reads_the_parameter_as_go_does() -> None:
    assert request("GET", RAY, "watch=TRUE").watch and request("GET", RAY, "watch=").watch
    assert request("GET", RAY, "w%61tch=1").watch  # Go decodes the name too
    assert not request("GET", RAY, "watch=0").watch and not request("GET", RAY, "watch=fAlSe").watch
    assert not request("GET", RAY, "limit=1").watch and not request("GET", RAY).watch


# -- the events selector and the KubeRay Service label  ------------------------------------------------------


def test_forced_field_selector() -> None:
    from urllib.parse import parse_qsl

    q = force_field_selector(
        Query.parse("labelSelector=a%3Db&fieldSelector=reason%3DX&fieldSelector=type%3DWarning&limit=1"),
        EVENTS_SELECTOR["core"],
    )

    pairs = parse_qsl(q)
    assert ("labelSelector", "a=b") in pairs and ("limit", "1") in pairs
    assert [v for k, v in pairs if k == "fieldSelector"] == [
        "involvedObject.apiVersion=ray.io/v1,reason=X,type=Warning"  # forced first: no escape swallows it
    ]
    assert parse_qsl(force_field_selector(Query.parse(""), EVENTS_SELECTOR["events.k8s.io"])) == [
        ("fieldSelector", "regarding.apiVersion=ray.io/v1")
    ]


def test_kuberay_service_label() -> None:
    assert is_kuberay_service({"metadata": {"labels": {"app.kubernetes.io/name": "kuberay"}}})
    assert not is_kuberay_service({"metadata": {"labels": {"app.kubernetes.io/name": "other"}}})
    assert not is_kuberay_service({"metadata": {}})


def test_request_info_is_parsed_once_per_method_path_and_query() -> None:
    """``GatewayRequest.info`` is shared by requests with the same method, path and query (it is
    immutable and a pure function of them) and equals a fresh parse; another query or method is
    parsed anew, and a query changed by a step is re-read."""
    from handler.request import INFO_CACHE_KEY_CHARS
    from kubeapi.requestinfo import request_info

    a, b = request("GET", RAY + "/x"), request("GET", RAY + "/x")
    assert a.info is b.info
    fresh = request_info("GET", RAY + "/x", "")
    assert (a.info.verb, a.info.namespace, a.info.resource, a.info.name) == (
        fresh.verb,
        fresh.namespace,
        fresh.resource,
        fresh.name,
    )
    assert request("DELETE", RAY + "/x").info.verb == "delete"
    listing = request("GET", RAY, "watch=1")
    assert listing.info.verb == "watch"
    listing.query = "watch=0"
    assert listing.info.verb == "list"
    long_name = "n" * INFO_CACHE_KEY_CHARS
    assert request("GET", f"{RAY}/{long_name}").info is not request("GET", f"{RAY}/{long_name}").info

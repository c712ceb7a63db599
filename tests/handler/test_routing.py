"""The route table: what each route runs, pattern matching, the extension API of ``create_app(routes=...)``,
the ``watch`` parameter read with kube-apiserver's rules, and ``handler.routes.match`` alone (served and
refused paths and verbs, Service proxy names)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from litestar.testing import TestClient

from handler import (
    GatewayError,
    GatewayRequest,
    RequestContext,
    Route,
    RouteFamily,
    RouteTable,
    Settings,
    Step,
    create_app,
    json_response,
    object_hook,
    step,
)
from handler.hooks import request_verb
from handler.responses import AnyResponse
from handler.routes import gateway_routes, match, service_name
from handler.routing import Handler
from tests.handler.gateway_stub import Reply, StubUpstream

RAY = "/apis/ray.io/v1/namespaces/default/rayclusters"


def steps_of(table: RouteTable, name: str) -> list[list[str]]:
    return [[s.name for s in r.steps] for r in table if r.name == name]


def test_the_table_lists_every_route_with_its_steps_in_order() -> None:
    table = gateway_routes()
    assert table.names() == [
        "ray",
        "template-configmaps",
        "compute-templates",
        "service-proxy",
        "events-core",
        "events",
        "pods",
        "pods-log",
        "discovery",
    ]
    assert steps_of(table, "ray") == [
        [
            "read_api_body",
            "request_rules",
            "object_hooks",
            "pod_security",
            "share_watches",
            "cancel_on_disconnect",
            "evaluate_field_selectors_locally",
        ]
    ]
    assert steps_of(table, "service-proxy") == [
        ["request_rules", "require_kuberay_service", "cancel_on_disconnect"]
    ]
    assert steps_of(table, "events") == [
        ["request_rules", "force_events_selector", "share_watches", "cancel_on_disconnect"]
    ]
    assert steps_of(table, "pods") == [
        ["request_rules", "force_ray_node_selector", "cancel_on_disconnect"],
        ["request_rules", "force_ray_node_selector", "cancel_on_disconnect"],
        ["request_rules", "force_ray_node_selector", "require_ray_pod", "cancel_on_disconnect"],
    ]
    assert steps_of(table, "pods-log") == [["request_rules", "require_ray_pod", "cancel_on_disconnect"]]
    # every route cancels its upstream call when the caller leaves (issue 13 finding 4)
    assert {tuple(s) for s in steps_of(table, "discovery")} == {("cancel_on_disconnect",)}
    assert all("cancel_on_disconnect" in s for name in table.names() for s in steps_of(table, name))


@pytest.mark.parametrize(
    ("method", "path", "route", "parts"),
    [
        (
            "GET",
            "/apis/ray.io/v1/namespaces/a%20b/rayjobs/j/status",
            "ray",
            ("a b", "rayjobs", "j", "status"),
        ),
        ("GET", "/apis/ray.io/v1/rayclusters", "ray", (None, "rayclusters", None, None)),
        ("PUT", "/api/v1/namespaces/ns/configmaps/t", "template-configmaps", ("ns", "configmaps", "t", None)),
        ("GET", "/apis/v1/compute_templates", "compute-templates", (None, "compute_templates", None, None)),
        ("GET", "/openapi/v3/apis/ray.io/v1", "discovery", (None, None, None, None)),
        ("GET", "/api/v1/namespaces/a%20b/pods/p/log", "pods-log", ("a b", "pods", "p", "log")),
        ("GET", "/api/v1/pods", "pods", (None, "pods", None, None)),
        (
            "PATCH",
            "/api/v1/namespaces/ns/services/https:svc:443/proxy",
            "service-proxy",
            ("ns", None, None, None),
        ),
    ],
)
def test_patterns_capture_the_path_parts(
    method: str, path: str, route: str, parts: tuple[str | None, ...]
) -> None:
    target = match(method, path)
    assert target.name == route
    assert (target.namespace, target.resource, target.object_name, target.subresource) == parts


@pytest.mark.parametrize(
    ("method", "path", "code"),
    [
        ("GET", "/openapi/v3", 0),
        ("GET", "/openapi/v3/", 0),
        ("GET", "/apis/ray.io/v1/", 0),
        ("POST", "/apis/v1/compute_templates", 405),
        ("PATCH", "/api/v1/namespaces/ns/configmaps/t", 405),
        ("GET", "/api/v1/namespaces/ns/secrets", 404),
        ("GET", "/apis/ray.io/v1/namespaces/%2e%2e/secrets", 404),
        ("GET", "/apis/ray.io/v1//rayclusters", 404),
    ],
)
def test_unserved_paths_and_verbs(method: str, path: str, code: int) -> None:
    if code == 0:
        assert match(method, path).family is RouteFamily.DISCOVERY
        return
    with pytest.raises(GatewayError) as e:
        match(method, path)
    assert e.value.code == code


def test_steps_run_in_table_order_around_the_backend() -> None:
    calls: list[str] = []

    def named(label: str) -> Step:
        async def run(request: GatewayRequest, next: Handler) -> AnyResponse:
            calls.append(label + ">")
            response = await next(request)
            calls.append("<" + label)
            return response

        s = step(run, name=label)
        assert isinstance(s, Step)
        return s

    async def backend(request: GatewayRequest) -> AnyResponse:
        calls.append("backend")
        return json_response(200, {})

    route = Route("/x", None, "x", RouteFamily.CUSTOM, (named("a"), named("b")), backend)
    table = RouteTable([route])
    table.add_step("x", named("c"), before="b")
    table.add_step("x", named("d"))
    got, _ = table.match("GET", "/x")
    asyncio.run(table.handler(got)(None))  # type: ignore[arg-type]
    assert calls == ["a>", "c>", "b>", "d>", "backend", "<d", "<b", "<c", "<a"]
    table.remove_step("x", "c")
    table.replace_step("x", "d", named("e"))
    assert [s.name for s in table.routes[0].steps] == ["a", "b", "e"]
    with pytest.raises(KeyError):
        table.add_step("nope", named("f"))
    with pytest.raises(KeyError):
        table.replace_step("x", "nope", named("f"))


def test_remembered_matches_follow_the_table_and_still_check_the_verb() -> None:
    """A path's match is remembered (the same target object again), the verb is checked on every
    call (405 on a remembered path), a change to the table is seen at once (a route added before
    it, a step added), and a refused path stays refused."""

    async def backend(request: GatewayRequest) -> AnyResponse:
        return json_response(200, {})

    table = RouteTable([Route("/x/{name}", frozenset({"GET"}), "x", RouteFamily.CUSTOM, (), backend)])
    first = table.match("GET", "/x/a")
    assert table.match("GET", "/x/a") is first
    with pytest.raises(GatewayError) as e:
        table.match("POST", "/x/a")
    assert e.value.code == 405
    table.add(Route("/x/a", None, "y", RouteFamily.CUSTOM, (), backend), before="x")
    assert table.match("POST", "/x/a")[0].name == "y"
    table.add_step("y", step(lambda request, next: next(request), name="s"))
    assert [s.name for s in table.match("GET", "/x/a")[0].steps] == ["s"]
    for _ in range(2):
        with pytest.raises(GatewayError) as e:
            table.match("GET", "/z")
        assert e.value.code == 404


def test_create_app_routes_adds_a_route_and_a_step(stub: StubUpstream) -> None:
    stub.reset()
    seen: list[str] = []

    async def audit(request: GatewayRequest, next: Handler) -> AnyResponse:
        response = await next(request)
        seen.append(f"{request.method} {request.path} {response.status}")
        return response

    async def hello(request: GatewayRequest) -> AnyResponse:
        return json_response(200, {"hello": request.route.namespace})

    def customize(table: RouteTable) -> None:
        table.add_step("ray", step(audit), before="read_api_body")
        table.add(Route("/hello/{namespace}", frozenset({"GET"}), "hello", RouteFamily.CUSTOM, (), hello))

    app = create_app(Settings(authentication="none", accept_hosts=".*", upstream=stub.url), routes=customize)
    with TestClient(app) as c:
        assert c.get("/hello/ns").json() == {"hello": "ns"}
        assert c.post("/hello/ns").status_code == 405
        assert c.get(RAY).status_code == 200
        assert c.get("/api/v1/namespaces/ns/secrets").status_code == 404
    assert seen == [f"GET {RAY} 200"]
    assert "hello" in app.state.routes.names()


@pytest.mark.parametrize(
    ("query", "verb"),
    [
        ("watch=1", "watch"),
        ("watch=true", "watch"),
        ("watch=TRUE", "watch"),  # the gateway's own rule said list; kube-apiserver says watch
        ("watch=yes", "watch"),
        ("watch=", "watch"),
        ("watch", "watch"),
        ("watch=0", "list"),
        ("watch=False", "list"),
        ("watch=false&watch=1", "list"),  # the first value counts, as in Go
        ("", "list"),
    ],
)
def test_watch_is_read_as_kube_apiserver_reads_it(query: str, verb: str) -> None:
    assert request_verb("GET", match("GET", RAY), query) == verb


def test_watch_yes_reaches_watch_hooks_and_the_upstream_as_a_watch(stub: StubUpstream) -> None:
    """Before: ``watch=yes`` was a list for the gateway (no watch hook ran) while the upstream
    served a watch; now both agree."""
    stub.reset()
    verbs: list[str] = []

    @object_hook(verbs=["list", "watch"], resources=["ray.io/rayclusters"])
    async def record(ctx: RequestContext, obj: Any) -> Any:
        verbs.append(ctx.verb)
        return obj

    stub.script(Reply(body=json.dumps({"type": "ADDED", "object": {}}).encode() + b"\n"))
    settings = Settings(authentication="none", accept_hosts=".*", upstream=stub.url, watch_fanout=False)
    with TestClient(create_app(settings, middleware=[record])) as c:
        c.get(RAY, params={"watch": "yes"})
        c.get(RAY, params={"watch": "FALSE"})
    assert verbs == ["watch", "list"]


# -- handler.routes.match: which paths and verbs are served  -------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "kind", "namespace"),
    [
        ("GET", "/apis/ray.io/v1/namespaces/ns/rayclusters", RouteFamily.RAY, "ns"),
        ("POST", "/apis/ray.io/v1/namespaces/ns/rayjobs", RouteFamily.RAY, "ns"),
        ("PUT", "/apis/ray.io/v1/namespaces/ns/rayclusters/a/status", RouteFamily.RAY, "ns"),
        ("DELETE", "/apis/ray.io/v1/namespaces/ns/rayservices/a", RouteFamily.RAY, "ns"),
        ("GET", "/apis/ray.io/v1/rayclusters", RouteFamily.RAY, None),
        ("GET", "/apis/ray.io/v1/raycronjobs/", RouteFamily.RAY, None),
        ("GET", "/apis/events.k8s.io/v1/namespaces/ns/events", RouteFamily.EVENTS, "ns"),
        ("GET", "/api/v1/namespaces/ns/events", RouteFamily.EVENTS, "ns"),
        ("GET", "/api/v1/namespaces/ns/services/svc/proxy", RouteFamily.SERVICE_PROXY, "ns"),
        ("POST", "/api/v1/namespaces/ns/services/svc:8265/proxy/api/jobs/", RouteFamily.SERVICE_PROXY, "ns"),
        ("GET", "/apis/ray.io/v1", RouteFamily.DISCOVERY, None),
        ("GET", "/apis", RouteFamily.DISCOVERY, None),
        ("GET", "/api", RouteFamily.DISCOVERY, None),
        ("GET", "/version", RouteFamily.DISCOVERY, None),
        ("GET", "/openapi/v3/apis/ray.io/v1", RouteFamily.DISCOVERY, None),
    ],
)
def test_allowlisted_routes(method: str, path: str, kind: RouteFamily, namespace: str | None) -> None:
    route = match(method, path)
    assert route.family is kind
    assert route.namespace == namespace


@pytest.mark.parametrize(
    ("method", "path", "code"),
    [
        ("GET", "/api/v1/namespaces/ns/secrets", 404),
        ("GET", "/api/v1/namespaces/ns/services/svc", 404),
        ("GET", "/api/v1/namespaces/ns/events/e1", 404),
        ("GET", "/apis/events.k8s.io/v1/events", 404),
        ("GET", "/apis/ray.io/v1/..%2f..%2fapi", 404),
        ("GET", "/apis/ray.io/v1//namespaces", 404),
        ("POST", "/api/v1/namespaces/ns/events", 405),
        ("DELETE", "/apis/events.k8s.io/v1/namespaces/ns/events", 405),
        ("POST", "/apis", 405),
    ],
)
def test_refused_routes(method: str, path: str, code: int) -> None:
    with pytest.raises(GatewayError) as err:
        match(method, path)
    assert err.value.code == code
    assert err.value.status()["reason"] == ("NotFound" if code == 404 else "MethodNotAllowed")


@pytest.mark.parametrize(
    ("segment", "name"),
    [
        ("svc", "svc"),
        ("svc:8265", "svc"),
        ("svc:dashboard", "svc"),
        ("https:svc:443", "svc"),
        ("http:svc:", "svc"),
    ],
)
def test_service_name_forms(segment: str, name: str) -> None:
    assert service_name(segment) == name


def test_service_proxy_route_carries_the_service_name() -> None:
    route = match("GET", "/api/v1/namespaces/ns/services/http:head-svc:8265/proxy/")
    assert (route.namespace, route.service) == ("ns", "head-svc")

"""The gateway and fakekube agree on every kubeapi primitive both use (issue 11, item 3).

Each property drives the gateway's real code path and fakekube's real code path with the same
generated input and asserts the same answer:

- the ``watch`` parameter (with ``limit``/``timeoutSeconds`` beside it): ``GatewayRequest.watch``
  (what the gateway's steps branch on) vs the verb fakekube's ``Request.info`` gives;
- ``limit``: the gateway's locally filtered list (``handler.local_selection.serve_list``, paging
  fakekube) vs fakekube's own list: the same 400 Status or the same items;
- paths: the gateway's route table (``handler.routes.gateway_routes``) vs fakekube's request info:
  the same refusal of an unsafe path, the same namespace, resource and name;
- field selectors and ``field_value``: the gateway's split and local evaluation
  (``handler.field_selectors.plan`` + ``serve_list``) vs fakekube's list of a CRD whose
  ``selectableFields`` cover the same fields: the same matches, or the same 400;
- body decoding (JSON and YAML, the size limit): ``GatewayRequest.json`` vs fakekube's create
  decoding: the same code, reason and Go decode error;
- watch events: fakekube's event line for a stored object vs the gateway's re-encoding of it
  (``WatchFilter``): the same bytes;
- media types: the gateway's ``Shape.for_request`` vs fakekube's ``wants_table``: the same
  Table-or-not for the same ``Accept``.

Fakekube runs in-process (:mod:`fakekube.testing`, ASGI without sockets); the gateway's pieces are
called directly. Label selectors are not here: the gateway never evaluates one (it forwards them).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlencode

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from fakekube._endpoints import decoding, rendering
from fakekube._endpoints.asgi import Request as FakeRequest
from fakekube._resources import ResourceType
from fakekube._storage.store import dumps
from fakekube.testing import Bridge, Client, FakeKubeError, LoopThread, ResettableApp
from handler._body import RequestBody
from handler.field_selectors import plan
from handler.local_selection import Shape, WatchFilter, serve_list
from handler.request import GatewayRequest
from handler.routes import gateway_routes
from kubeapi.decode import MAX_BODY_BYTES
from kubeapi.status import StatusError
from kubeapi.watchevents import event_line

SETTINGS = settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)

GROUP = "both.example.com"
WIDGETS = f"/apis/{GROUP}/v1/namespaces/default/widgets"
#: The fields both sides evaluate: fakekube through the CRD's selectableFields, the gateway
#: through its allowlist (metadata.name goes upstream).
LOCAL_FIELDS = ("spec.color", "spec.size", "spec.ready")
WIDGET_CRD: dict[str, Any] = {
    "apiVersion": "apiextensions.k8s.io/v1",
    "kind": "CustomResourceDefinition",
    "metadata": {"name": f"widgets.{GROUP}"},
    "spec": {
        "group": GROUP,
        "scope": "Namespaced",
        "names": {"plural": "widgets", "singular": "widget", "kind": "Widget", "listKind": "WidgetList"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "selectableFields": [{"jsonPath": "." + f} for f in LOCAL_FIELDS],
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "properties": {
                            "spec": {
                                "type": "object",
                                "properties": {
                                    "color": {"type": "string"},
                                    "size": {"type": "integer"},
                                    "ready": {"type": "boolean"},
                                },
                            }
                        },
                    }
                },
            }
        ],
    },
}


class FakeKube:
    """One in-process fakekube with the Widget CRD, its objects replaced per example."""

    def __init__(self) -> None:
        self.loop = LoopThread("both-sides")
        self.bridge = Bridge(ResettableApp(), self.loop.loop)
        self.client = Client(self.bridge)
        self.client.request("POST", "/apis/apiextensions.k8s.io/v1/customresourcedefinitions", WIDGET_CRD)
        self.client.resources()  # discovery read once the CRD is served

    def replace_widgets(self, specs: list[dict[str, Any]]) -> None:
        self.client.request("DELETE", WIDGETS)
        for i, spec in enumerate(specs):
            obj = {"apiVersion": f"{GROUP}/v1", "kind": "Widget", "metadata": {"name": f"w{i}"}, "spec": spec}
            self.client.request("POST", WIDGETS, obj)

    def get(self, path: str, query: str) -> tuple[int, Any]:
        r = self.bridge.request("GET", path, query, [("accept", "application/json")])
        return r.status, r.json()

    async def aget(self, path: str, query: str) -> tuple[int, Any]:
        r = await self.bridge.arequest("GET", path, query, [("accept", "application/json")])
        return r.status, json.loads(await asyncio.to_thread(r.read))


@pytest.fixture(scope="module")
def fk() -> Iterator[FakeKube]:
    server = FakeKube()
    yield server
    server.loop.stop()


def scope(
    method: str, raw_path: str, query: str = "", headers: list[tuple[str, str]] | None = None
) -> dict[str, Any]:
    """An ASGI HTTP scope as a server builds it (``raw_path`` as received)."""
    return {
        "type": "http",
        "method": method,
        "path": raw_path,
        "raw_path": raw_path.encode("latin-1"),
        "query_string": query.encode("latin-1"),
        "headers": [(k.encode(), v.encode()) for k, v in headers or []],
    }


async def _no_receive() -> dict[str, Any]:
    return {"type": "http.request", "body": b"", "more_body": False}


def gateway_request(
    method: str, path: str, query: str = "", headers: list[tuple[str, str]] | None = None, body: bytes = b""
) -> GatewayRequest:
    """A GatewayRequest as the gateway's ASGI entry builds it (no upstream: the tests never proxy)."""

    async def receive() -> Any:
        return {"type": "http.request", "body": body, "more_body": False}

    route = gateway_routes().match(method, path)[1]
    no_upstream: Any = None
    body_reader = RequestBody(receive, len(body), False)
    return GatewayRequest(method, path, query, headers or [], route, body_reader, no_upstream, MAX_BODY_BYTES)


# -- query parameters: watch, limit, timeoutSeconds ----------------------------------------------

_NAMES = st.sampled_from(["watch", "w%61tch", "limit", "timeoutSeconds", "other", "WATCH"])
_VALUES = st.sampled_from(
    ["", "1", "0", "true", "TRUE", "False", "yes", "f", "abc", "-1", "+3", "%30", "07", " 5"]
)
_QUERIES = st.lists(st.tuples(_NAMES, _VALUES), max_size=4).map(
    lambda ps: "&".join(f"{k}={v}" for k, v in ps)
)
_RAY_COLLECTION = "/apis/ray.io/v1/namespaces/default/rayclusters"


@SETTINGS
@given(query=_QUERIES)
def test_the_same_query_is_a_watch_on_both_sides(query: str) -> None:
    gateway = gateway_request("GET", _RAY_COLLECTION, query).watch
    fakekube = FakeRequest(scope("GET", _RAY_COLLECTION, query), _no_receive).info.is_watch
    assert gateway == fakekube, query


def _gateway_list(fk: FakeKube, query: str) -> tuple[int, Any]:
    """The gateway's locally evaluated list of widgets for ``query`` (a ``fieldSelector`` in it is
    split as the gateway splits it), paging fakekube; ``(code, names or Status message)``."""
    req = gateway_request("GET", _RAY_COLLECTION, query)
    selector = req.params.get("fieldSelector") or ""
    split = plan(selector, LOCAL_FIELDS)
    pairs = [(k, v) for k, v in req.params.pairs if k != "fieldSelector"]
    if selector and not split.local:  # the gateway sends it upstream as it is
        return _fakekube_list(fk, query)

    async def run() -> tuple[int, Any]:
        async def fetch(q: str) -> tuple[int, Any]:
            return await fk.aget(WIDGETS, q)

        try:
            resp = await serve_list(urlencode(pairs), split.upstream, split.local, Shape(), fetch)
        except StatusError as e:
            return e.code, e.message
        assert not isinstance(resp.body, bytes)
        body = b"".join([chunk async for chunk in resp.body])
        return 200, sorted(i["metadata"]["name"] for i in json.loads(body)["items"])

    return asyncio.run(run())


def _fakekube_list(fk: FakeKube, query: str) -> tuple[int, Any]:
    status, doc = fk.get(WIDGETS, query)
    if status != 200:
        return status, doc["message"]
    return 200, sorted(i["metadata"]["name"] for i in doc["items"])


_SPECS = st.lists(
    st.fixed_dictionaries(
        {},
        optional={
            "color": st.sampled_from(["red", "blue", "", "true", "3"]),
            "size": st.integers(-2, 3),
            "ready": st.booleans(),
        },
    ),
    max_size=5,
)


@SETTINGS
@given(specs=_SPECS, limit=_VALUES)
def test_the_same_limit_gives_the_same_answer(fk: FakeKube, specs: list[dict[str, Any]], limit: str) -> None:
    fk.replace_widgets(specs)
    query = f"limit={quote(limit)}&fieldSelector=spec.color!=never"  # a local term: serve_list runs
    gateway, fakekube = _gateway_list(fk, query), _fakekube_list(fk, f"limit={quote(limit)}")
    if fakekube[0] == 200:
        # A limit pages: the gateway's first page holds as many items as fakekube's.
        assert gateway[0] == 200 and len(gateway[1]) == len(fakekube[1]), (limit, gateway, fakekube)
    else:
        assert gateway == fakekube, limit


# -- field selectors and field_value -------------------------------------------------------------

#: Per field, values that hit its objects (booleans and numbers rendered as Go's fmt.Sprint does)
#: and a few a selector must escape or cannot hold.
_FIELD_VALUES = {
    "spec.color": ["red", "blue", "", "3", "true"],
    "spec.size": ["3", "0", "-1", "", "+3"],
    "spec.ready": ["true", "false", "", "True"],
    "metadata.name": ["w0", "w1", ""],
}
_ODD_VALUES = ["a\\,b", "x=y", "a\\=b"]
_TERM = st.sampled_from(sorted(_FIELD_VALUES)).flatmap(
    lambda f: st.tuples(
        st.just(f),
        st.sampled_from(["=", "==", "!="]),
        st.sampled_from(_FIELD_VALUES[f] * 3 + _ODD_VALUES),
    )
)
_TERMS = st.lists(_TERM, min_size=1, max_size=3)


@SETTINGS
@given(specs=_SPECS, terms=_TERMS)
@example(specs=[{"ready": True}], terms=[("spec.ready", "=", "true")])
def test_the_same_field_selector_matches_the_same_objects(
    fk: FakeKube, specs: list[dict[str, Any]], terms: list[tuple[str, str, str]]
) -> None:
    fk.replace_widgets(specs)
    selector = ",".join(f"{f}{op}{v}" for f, op, v in terms)
    query = urlencode({"fieldSelector": selector})
    assert _gateway_list(fk, query) == _fakekube_list(fk, query), selector


# -- paths ---------------------------------------------------------------------------------------

_SEGMENTS = st.sampled_from(
    ["rayclusters", "rc", "status", "finalize", "%2F", "%2e", "..", ".", "a%20b", "%5C", ""]
)
#: An API tail: maybe ``namespaces/{ns}`` first (the rule both sides must read alike), then more.
_TAILS = (
    st.tuples(
        st.sampled_from([[], ["namespaces"], ["namespaces", "default"], ["namespaces", "a%2Fb"]]),
        st.lists(_SEGMENTS, max_size=3),
    )
    .map(lambda t: t[0] + t[1])
    .filter(bool)
)


@SETTINGS
@given(segments=_TAILS, trailing=st.booleans())
@example(segments=["namespaces", "default"], trailing=False)
def test_the_same_path_is_read_alike(segments: list[str], trailing: bool) -> None:
    path = "/apis/ray.io/v1/" + "/".join(segments) + ("/" if trailing else "")
    try:
        target = gateway_routes().match("GET", path)[1]
        gateway: Any = (target.namespace or "", target.resource or "", target.object_name or "")
    except StatusError as e:
        gateway = e.code
    try:
        info = FakeRequest(scope("GET", path), _no_receive).info
        fakekube: Any = (info.namespace, info.resource, info.name)
    except StatusError as e:
        fakekube = e.code
    assert gateway == fakekube, path


# -- body decoding -------------------------------------------------------------------------------

_BODIES = st.one_of(
    st.sampled_from(
        [
            b"{",
            b'{"a":1,}',
            b'{"a":1}x',
            b"[1,2",
            b'"\\x"',
            b"a: [b",
            b"a: b: c",
            b"- a\nb: c",
            b"\t a",
            b'{"a": "\xff"}',
            b"[" * 10001 + b"]" * 10001,
            b"a: &x [1]\nb: *y",
        ]
    ),
    st.binary(max_size=12).map(lambda b: b"{" + b),
)
_BODY_TYPES = st.sampled_from(["application/json", "application/yaml"])
_RAYCLUSTER = ResourceType(
    group="ray.io", version="v1", plural="rayclusters", singular="raycluster", kind="RayCluster", custom=True
)


def _decode_error(message: str) -> str:
    """The Go decode error inside either side's message (the wrapper texts differ by design)."""
    for prefix in ("the body of the request was in an unknown format: ",):
        if message.startswith(prefix):
            return message[len(prefix) :]
    head = "the object provided is unrecognized (must be of type RayCluster): "
    assert message.startswith(head), message
    rest = message[len(head) :]
    rest = rest.removeprefix("couldn't get version/kind; json parse error: ")
    return rest[: rest.rindex(" (")]


@SETTINGS
@given(body=_BODIES, content_type=_BODY_TYPES)
def test_the_same_malformed_body_gives_the_same_error(body: bytes, content_type: str) -> None:
    req = gateway_request("POST", _RAY_COLLECTION, headers=[("content-type", content_type)], body=body)
    try:
        asyncio.run(req.json())
        gateway: Any = None
    except StatusError as e:
        gateway = (e.code, e.reason, _decode_error(e.message))
    try:
        decoding.parse(_RAYCLUSTER, body, content_type)
        fakekube: Any = None
    except StatusError as e:
        fakekube = (e.code, e.reason, _decode_error(e.message))
    assert gateway == fakekube, body


def test_the_same_oversized_body_gives_the_same_413() -> None:
    body = b'{"a":"' + b"x" * MAX_BODY_BYTES + b'"}'
    req = gateway_request("POST", _RAY_COLLECTION, headers=[("content-type", "application/json")], body=body)
    with pytest.raises(StatusError) as gateway:
        asyncio.run(req.json())

    async def fakekube() -> Any:
        chunks = [{"type": "http.request", "body": body, "more_body": False}]

        async def receive() -> dict[str, Any]:
            return chunks.pop()

        return await FakeRequest(scope("POST", _RAY_COLLECTION), receive).body()

    with pytest.raises(StatusError) as fake:
        asyncio.run(fakekube())
    assert (
        (gateway.value.code, gateway.value.reason)
        == (fake.value.code, fake.value.reason)
        == (413, "RequestEntityTooLarge")
    )


# -- watch events ----------------------------------------------------------------------------------

_JSON_SCALARS = st.one_of(st.none(), st.booleans(), st.integers(-(2**53), 2**53), st.text(max_size=6))
_JSON_VALUES = st.recursive(
    _JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=4), inner, max_size=3),
    max_leaves=8,
)


@SETTINGS
@given(
    spec=st.dictionaries(st.text(max_size=5), _JSON_VALUES, max_size=4),
    kind=st.sampled_from(["ADDED", "MODIFIED"]),
)
def test_the_same_object_is_the_same_watch_event(spec: dict[str, Any], kind: str) -> None:
    obj = {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {"name": "rc", "namespace": "default"},
        "spec": spec,
    }
    fakekube = event_line(kind, dumps(obj))  # what fakekube's WatchStream writes for a stored object
    gateway = WatchFilter([], known={"default/rc": kind == "MODIFIED"}).event(fakekube.rstrip(b"\n"))
    assert gateway is not None and gateway + b"\n" == fakekube


# -- media types ---------------------------------------------------------------------------------

_CLAUSES = st.tuples(
    st.sampled_from(["application/json", "application/yaml", "*/*", "application/*", "text/plain"]),
    st.lists(
        st.sampled_from(
            ["as=Table", "v=v1", "v=v1beta1", "v=v2", "g=meta.k8s.io", "g=x", "q=0.5", "q=0", "as=Other"]
        ),
        max_size=4,
    ),
).map(lambda c: ";".join([c[0], *c[1]]))


@SETTINGS
@given(clauses=st.lists(_CLAUSES, min_size=1, max_size=3))
def test_the_same_accept_asks_for_a_table_on_both_sides(clauses: list[str]) -> None:
    accept = ",".join(clauses)
    gateway = Shape.for_request(accept, []).table
    fakekube = rendering.wants_table(
        FakeRequest(scope("GET", WIDGETS, headers=[("accept", accept)]), _no_receive)
    )
    assert gateway == fakekube, accept


def test_fakekube_answers_the_table_the_gateway_expects(fk: FakeKube) -> None:
    """The shape the gateway reads is the shape fakekube sends (a Table, or the JSON fallback)."""
    for accept in (
        "application/json;as=Table;v=v1;g=meta.k8s.io,application/json",
        "application/json;as=Table;v=v2;g=meta.k8s.io,application/json",
    ):
        r = fk.bridge.request("GET", WIDGETS, "", [("accept", accept)])
        assert (r.json()["kind"] == "Table") == Shape.for_request(accept, []).table, accept


def test_fakekube_errors_are_statuses(fk: FakeKube) -> None:
    with pytest.raises(FakeKubeError) as e:
        fk.client.request("GET", WIDGETS, query={"limit": "x"})
    assert e.value.status["kind"] == "Status" and e.value.code == 400

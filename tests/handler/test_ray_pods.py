"""Ray pods through the gateway (:mod:`handler.raypods`), against a scripted upstream: lists and
watches get ``ray.io/is-ray-node=yes`` forced into their label selector (the caller's kept),
one pod and its log are served only for pods carrying that label (checked by a lookup, and again
on a JSON answer), logs stream as they come, and nothing but reads reaches the upstream."""

from __future__ import annotations

import json
import threading
import time
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handler.raypods import RAY_NODE_SELECTOR
from handler.steps import force_field_selector, force_label_selector
from kubeapi.fields import FieldSelectorSyntaxError, parse_field_selector
from kubeapi.labels import LabelSelectorError, parse_label_selector
from kubeapi.query import Query
from tests.handler.gateway_stub import Reply, StubUpstream

NS = "team-a"


def pod(name: str, uid: str = "u-1", ray: bool = True) -> bytes:
    """A Pod as JSON; labelled as a Ray node when ``ray``."""
    labels = {"ray.io/is-ray-node": "yes", "ray.io/cluster": "c"} if ray else {"app": "web"}
    return json.dumps(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": NS, "uid": uid, "labels": labels},
        }
    ).encode()


def selectors_sent(stub: StubUpstream) -> list[list[str]]:
    """The ``labelSelector`` values of every request the stub saw."""
    return [[v for k, v in parse_qsl(urlsplit(s.path).query) if k == "labelSelector"] for s in stub.seen]


@pytest.mark.parametrize(
    ("path", "params", "expected"),
    [
        (f"/api/v1/namespaces/{NS}/pods", {}, RAY_NODE_SELECTOR),
        (
            f"/api/v1/namespaces/{NS}/pods",
            {"labelSelector": "ray.io/cluster=c"},
            f"{RAY_NODE_SELECTOR},ray.io/cluster=c",
        ),
        (
            "/api/v1/pods",
            {"labelSelector": "ray.io/node-type in (head,worker)"},
            f"{RAY_NODE_SELECTOR},ray.io/node-type in (head,worker)",
        ),
        (
            f"/api/v1/namespaces/{NS}/pods",
            {"watch": "1", "labelSelector": "x!=y"},
            f"{RAY_NODE_SELECTOR},x!=y",
        ),
    ],
)
def test_lists_and_watches_get_the_ray_node_selector(
    stub_gateway: str,
    stub: StubUpstream,
    http: httpx.Client,
    path: str,
    params: dict[str, str],
    expected: str,
) -> None:
    stub.default = Reply(body=b'{"kind":"PodList","items":[]}')
    r = http.get(stub_gateway + path, params={**params, "limit": "5"})
    assert r.status_code == 200, r.text
    assert selectors_sent(stub) == [[expected]]
    assert ("limit", "5") in parse_qsl(urlsplit(stub.seen[0].path).query)  # the rest of the query kept


def test_a_watch_on_one_pod_gets_the_selector_too(
    stub_gateway: str, stub: StubUpstream, http: httpx.Client
) -> None:
    stub.script(Reply(body=pod("p")), Reply(body=b""))
    r = http.get(f"{stub_gateway}/api/v1/namespaces/{NS}/pods/p", params={"watch": "true"})
    assert r.status_code == 200
    assert selectors_sent(stub) == [[], [RAY_NODE_SELECTOR]]  # the lookup, then the watch


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
@pytest.mark.parametrize(
    "path",
    [
        f"/api/v1/namespaces/{NS}/pods",
        f"/api/v1/namespaces/{NS}/pods/p",
        f"/api/v1/namespaces/{NS}/pods/p/log",
    ],
)
def test_only_reads_are_served(
    stub_gateway: str, stub: StubUpstream, http: httpx.Client, method: str, path: str
) -> None:
    r = http.request(method, stub_gateway + path, content=b"{}")
    assert r.status_code == 405, r.text
    assert r.json()["reason"] == "MethodNotAllowed"
    assert stub.seen == []


@pytest.mark.parametrize("sub", ["exec", "attach", "portforward", "status", "eviction", "proxy", "binding"])
def test_other_pod_subresources_are_not_served(
    stub_gateway: str, stub: StubUpstream, http: httpx.Client, sub: str
) -> None:
    r = http.get(f"{stub_gateway}/api/v1/namespaces/{NS}/pods/p/{sub}")
    assert r.status_code == 404
    assert stub.seen == []


def test_a_ray_pod_is_served(stub_gateway: str, stub: StubUpstream, http: httpx.Client) -> None:
    stub.script(Reply(body=pod("p")), Reply(body=pod("p")))
    r = http.get(f"{stub_gateway}/api/v1/namespaces/{NS}/pods/p", headers={"Accept-Encoding": "gzip"})
    assert r.status_code == 200, r.text
    assert r.json()["metadata"]["uid"] == "u-1"
    lookup, read = stub.seen
    assert lookup.path == read.path == f"/api/v1/namespaces/{NS}/pods/p"
    assert lookup.headers.get("authorization") == read.headers.get("authorization")  # same identity
    assert "accept-encoding" not in read.headers  # an answer the re-check can read


@pytest.mark.parametrize("path", ["/api/v1/namespaces/{ns}/pods/web", "/api/v1/namespaces/{ns}/pods/web/log"])
def test_other_pods_are_not_found(
    stub_gateway: str, stub: StubUpstream, http: httpx.Client, path: str
) -> None:
    stub.script(Reply(body=pod("web", ray=False)))
    r = http.get(stub_gateway + path.format(ns=NS))
    assert r.status_code == 404
    status = r.json()
    assert status["reason"] == "NotFound" and status["details"] == {"name": "web", "kind": "pods"}
    assert len(stub.seen) == 1  # the lookup only: the pod itself and its log were never asked for


def test_the_lookups_own_errors_are_answered(
    stub_gateway: str, stub: StubUpstream, http: httpx.Client
) -> None:
    forbidden = {
        "kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": "Forbidden", "code": 403,
        "message": 'pods "p" is forbidden: User "alice" cannot get resource "pods"',
    }  # fmt: skip
    stub.script(Reply(status=403, body=json.dumps(forbidden).encode()))
    r = http.get(f"{stub_gateway}/api/v1/namespaces/{NS}/pods/p/log")
    assert r.status_code == 403
    assert r.json()["reason"] == "Forbidden"
    assert len(stub.seen) == 1


@pytest.mark.parametrize(
    ("answer", "why"),
    [(pod("p", uid="u-2"), "another pod under the same name"), (pod("p", ray=False), "the label removed")],
)
def test_a_pod_answer_is_checked_again(
    stub_gateway: str, stub: StubUpstream, http: httpx.Client, answer: bytes, why: str
) -> None:
    stub.script(Reply(body=pod("p")), Reply(body=answer))
    r = http.get(f"{stub_gateway}/api/v1/namespaces/{NS}/pods/p")
    assert r.status_code == 404, why
    assert "changed while it was read" in r.json()["message"]


def test_a_table_answer_is_checked_by_its_rows_metadata(
    stub_gateway: str, stub: StubUpstream, http: httpx.Client
) -> None:
    table_type = "application/json;as=Table;v=v1;g=meta.k8s.io"

    def table(uid: str) -> bytes:
        row = {
            "cells": ["p"],
            "object": json.loads(pod("p", uid=uid).decode()) | {"kind": "PartialObjectMetadata"},
        }
        return json.dumps({"kind": "Table", "apiVersion": "meta.k8s.io/v1", "rows": [row]}).encode()

    accept = {"Accept": f"{table_type},application/json"}
    stub.script(Reply(body=pod("p")), Reply(headers={"Content-Type": table_type}, body=table("u-1")))
    ok = http.get(f"{stub_gateway}/api/v1/namespaces/{NS}/pods/p", headers=accept)
    assert ok.status_code == 200 and ok.json()["kind"] == "Table"
    assert ok.headers["content-type"] == table_type
    stub.script(Reply(body=pod("p")), Reply(headers={"Content-Type": table_type}, body=table("u-9")))
    assert http.get(f"{stub_gateway}/api/v1/namespaces/{NS}/pods/p", headers=accept).status_code == 404


def test_a_followed_log_streams(stub_gateway: str, stub: StubUpstream) -> None:
    gate = threading.Event()
    log_headers = {"Content-Type": "text/plain"}
    stub.script(
        Reply(body=pod("p")), Reply(headers=log_headers, body=b"line 1\n", tail=b"line 2\n", gate=gate)
    )
    url = f"{stub_gateway}/api/v1/namespaces/{NS}/pods/p/log"
    with (
        httpx.Client(timeout=10) as c,
        c.stream("GET", url, params={"follow": "true", "container": "ray-head"}) as r,
    ):
        assert r.status_code == 200
        chunks = r.iter_bytes()
        started = time.monotonic()
        assert next(chunks) == b"line 1\n"  # relayed while the upstream still holds the rest back
        assert time.monotonic() - started < 5
        gate.set()
        assert b"".join(chunks) == b"line 2\n"
    assert urlsplit(stub.seen[1].path).path.endswith("/pods/p/log")
    assert ("follow", "true") in parse_qsl(urlsplit(stub.seen[1].path).query)


# -- the forced selectors cannot be escaped  -----------------------------------------------------------------

LABEL_TEXT = st.text(alphabet="abc.-/=!,() \\inotexsy", max_size=30)


@settings(max_examples=400, deadline=None)
@given(caller=st.lists(LABEL_TEXT, max_size=3))
def test_a_caller_label_selector_only_narrows(caller: list[str]) -> None:
    """Whatever the caller writes, the selector sent upstream is invalid or requires the label."""
    raw = urlencode([("labelSelector", c) for c in caller])
    sent = Query.parse(force_label_selector(Query.parse(raw), RAY_NODE_SELECTOR)).values("labelSelector")
    assert len(sent) == 1
    try:
        selector = parse_label_selector(sent[0])
    except LabelSelectorError:
        return
    assert not selector.matches({}) and not selector.matches({"ray.io/is-ray-node": "no"})
    assert RAY_NODE_SELECTOR in [str(r) for r in selector.requirements]


@settings(max_examples=400, deadline=None)
@given(caller=st.text(alphabet="abmetdn.=!,\\x", max_size=30))
def test_a_caller_field_selector_only_narrows(caller: str) -> None:
    """The events selector, forced first, stays one whole term whatever the caller wrote."""
    forced = "involvedObject.apiVersion=ray.io/v1"
    sent = Query.parse(force_field_selector(Query.parse("").replace("fieldSelector", [caller]), forced))
    try:
        selector = parse_field_selector(sent.values("fieldSelector")[0])
    except FieldSelectorSyntaxError:
        return
    assert forced in [r.raw for r in selector.requirements]


def test_a_trailing_escape_cannot_swallow_the_events_selector() -> None:
    forced = "involvedObject.apiVersion=ray.io/v1"
    sent = Query.parse(
        force_field_selector(Query.parse("").replace("fieldSelector", ["metadata.name!=x\\"]), forced)
    )
    with pytest.raises(FieldSelectorSyntaxError):
        parse_field_selector(sent.values("fieldSelector")[0])

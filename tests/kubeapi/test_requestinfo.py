"""kubeapi.requestinfo: RequestInfoFactory.NewRequestInfo's outcomes, and the gateway's path refusals."""

from __future__ import annotations

import json
from urllib.parse import quote

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubeapi.query import Query
from kubeapi.requestinfo import (
    RequestInfo,
    ServiceProxyTarget,
    UnsafePathError,
    request_info,
    request_info_from_scope,
    split_scheme_name_port,
)
from kubeapi.status import StatusError

RC = "/apis/ray.io/v1/namespaces/default/rayclusters"


def info(method: str, path: str, query: str = "") -> RequestInfo:
    return request_info(method, path, query)


# -- verbs -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "query", "verb"),
    [
        ("GET", RC, "", "list"),
        ("HEAD", RC, "", "list"),
        ("GET", RC + "/x", "", "get"),
        ("GET", RC + "/x", "watch=1", "get"),  # a name: never list/watch
        ("POST", RC, "", "create"),
        ("PUT", RC + "/x", "", "update"),
        ("PATCH", RC + "/x", "", "patch"),
        ("DELETE", RC + "/x", "", "delete"),
        ("DELETE", RC, "", "deletecollection"),
        ("OPTIONS", RC, "", ""),  # Go: no verb for other methods on resource paths
        ("GET", "/api/v1/watch/namespaces/default/pods", "", "watch"),  # legacy path verb
        ("GET", "/api/v1/watch/namespaces/default/pods", "watch=0", "watch"),
        ("GET", "/api/v1/proxy/namespaces/default/pods/p/a/b", "", "proxy"),
        ("get", RC, "", "list"),
    ],
)
def test_verbs(method: str, path: str, query: str, verb: str) -> None:
    assert info(method, path, query).verb == verb


@pytest.mark.parametrize("value", ["1", "true", "TRUE", "True", "yes", "", "2"])
def test_watch_values_that_make_a_watch(value: str) -> None:
    r = info("GET", RC, f"watch={value}")
    assert r.verb == "watch" and r.is_watch


@pytest.mark.parametrize("value", ["0", "false", "FALSE", "False", "fAlSe"])
def test_watch_values_that_do_not(value: str) -> None:
    assert info("GET", RC, f"watch={value}").verb == "list"


def test_watch_bare_name_is_a_watch() -> None:
    assert info("GET", RC, "watch").verb == "watch"


def test_watch_after_a_semicolon_is_not_seen() -> None:
    assert info("GET", RC, "limit=1;watch=1").verb == "list"


def test_undecodable_list_options_fall_back_to_the_lowercase_rule() -> None:
    # requestinfo.go: DecodeParameters fails (bad limit), watch read with strings.ToLower
    assert info("GET", RC, "limit=x&watch=fal%C5%BFe").verb == "watch"
    assert info("GET", RC, "watch=fal%C5%BFe").verb == "list"  # EqualFold folds U+017F to s
    assert info("GET", RC, "limit=x&watch=FALSE").verb == "list"
    assert info("GET", RC, "timeoutSeconds=&watch=1").verb == "watch"


# -- parts -------------------------------------------------------------------------------------


def test_namespaced_object_with_subresource() -> None:
    r = info("PUT", RC + "/x/status")
    assert (r.api_prefix, r.api_group, r.api_version) == ("apis", "ray.io", "v1")
    assert (r.namespace, r.resource, r.name, r.subresource) == ("default", "rayclusters", "x", "status")
    assert r.parts == ("rayclusters", "x", "status")
    assert r.is_resource_request and r.group_version == "ray.io/v1" and not r.is_collection


def test_core_group_and_cluster_scope() -> None:
    r = info("GET", "/api/v1/nodes/n1")
    assert (r.api_prefix, r.api_group, r.api_version, r.namespace) == ("api", "", "v1", "")
    assert (r.resource, r.name, r.group_version) == ("nodes", "n1", "v1")


def test_cluster_wide_list() -> None:
    r = info("GET", "/apis/ray.io/v1/rayclusters")
    assert (r.namespace, r.resource, r.verb, r.is_collection) == ("", "rayclusters", "list", True)


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/api/v1/namespaces", ("", "namespaces", "", "")),
        ("/api/v1/namespaces/ns", ("ns", "namespaces", "ns", "")),
        ("/api/v1/namespaces/ns/status", ("ns", "namespaces", "ns", "status")),
        ("/api/v1/namespaces/ns/finalize", ("ns", "namespaces", "ns", "finalize")),
        ("/api/v1/namespaces/ns/pods", ("ns", "pods", "", "")),
    ],
)
def test_namespace_paths(path: str, expected: tuple[str, str, str, str]) -> None:
    r = info("GET", path)
    assert (r.namespace, r.resource, r.name, r.subresource) == expected


@pytest.mark.parametrize(
    "path",
    ["/", "/api", "/api/v1", "/apis", "/apis/ray.io", "/apis/ray.io/v1", "/version", "/openapi/v3/apis/x/y"],
)
def test_non_resource_requests(path: str) -> None:
    r = info("GET", path)
    assert not r.is_resource_request
    assert r.verb == "get"
    assert (r.api_group, r.resource, r.parts) == ("", "", ())
    assert info("POST", path).verb == "post"


def test_trailing_slash_is_ignored() -> None:
    assert info("GET", RC + "/").verb == "list"
    assert info("GET", RC + "/x/").name == "x"


def test_selectors_recorded_for_selector_verbs_only() -> None:
    q = "fieldSelector=metadata.name%3Dx&labelSelector=a"
    r = info("GET", RC, q)
    assert (r.field_selector, r.label_selector) == ("metadata.name=x", "a")
    assert r.name == ""  # deliberately not copied from the field selector
    assert info("DELETE", RC, q).field_selector == "metadata.name=x"
    assert info("GET", RC + "/x", q).field_selector == ""
    assert info("GET", "/api/v1/watch/namespaces/n/pods", q).field_selector == ""


def test_query_object_is_kept_and_a_query_can_be_passed() -> None:
    q = Query.parse("limit=5")
    r = request_info("GET", RC, q)
    assert r.query is q and r.query.int("limit") == 5
    assert request_info("GET", RC.encode(), b"watch=1").verb == "watch"


def test_immutable() -> None:
    r = info("GET", RC)
    with pytest.raises(AttributeError):
        r.verb = "x"  # type: ignore[misc]


# -- services proxy ------------------------------------------------------------------------------


def test_services_proxy_keeps_the_raw_rest() -> None:
    r = info("GET", "/api/v1/namespaces/default/services/head-svc:8265/proxy/api/jobs/a%20b/")
    assert (r.resource, r.name, r.subresource) == ("services", "head-svc:8265", "proxy")
    assert r.verb == "get"
    assert r.proxy_path == "/api/jobs/a%20b/"
    assert r.parts == ("services", "head-svc:8265", "proxy", "api", "jobs", "a b")
    assert r.service_proxy_target() == ServiceProxyTarget("", "head-svc", "8265")


@pytest.mark.parametrize(
    ("tail", "rest"), [("", ""), ("/", "/"), ("/a", "/a"), ("/a/", "/a/"), ("/a/b", "/a/b")]
)
def test_proxy_rest(tail: str, rest: str) -> None:
    assert info("GET", f"/api/v1/namespaces/d/services/s/proxy{tail}").proxy_path == rest


def test_legacy_proxy_verb_has_no_subresource() -> None:
    r = info("GET", "/api/v1/proxy/namespaces/d/services/s:80/x/y")
    assert (r.verb, r.resource, r.name, r.subresource, r.proxy_path) == (
        "proxy",
        "services",
        "s:80",
        "",
        "/x/y",
    )
    assert r.verb_via_path


def test_not_a_proxy() -> None:
    assert info("GET", RC + "/x").service_proxy_target() is None
    assert info("GET", RC + "/x").proxy_path == ""


@pytest.mark.parametrize(
    ("segment", "target"),
    [
        ("svc", ServiceProxyTarget("", "svc", "")),
        ("svc:8265", ServiceProxyTarget("", "svc", "8265")),
        ("svc:dashboard", ServiceProxyTarget("", "svc", "dashboard")),
        ("https:svc:443", ServiceProxyTarget("https", "svc", "443")),
        ("http:svc:", ServiceProxyTarget("http", "svc", "")),
        ("ftp:svc:21", None),
        (":80", None),
        ("a:b:c:d", None),
        ("", None),
    ],
)
def test_split_scheme_name_port(segment: str, target: ServiceProxyTarget | None) -> None:
    assert split_scheme_name_port(segment) == target


# -- refused paths ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    [
        "",
        "apis/ray.io/v1",
        RC + "/.",
        RC + "/..",
        RC + "/%2e",
        RC + "/%2E%2e",
        RC + "/a%2Fb",
        RC + "/a%2fb",
        RC + "/a%5Cb",
        RC + "/a\\b",
        RC + "//x",
        "//apis/ray.io/v1",
        "/api/v1/namespaces/d/services/s/proxy/a/../b",
        "/api/v1/namespaces/d/services/s/proxy/a//b",
        "/api/v1/namespaces/d/services/s/proxy/%2e%2e/x",
    ],
)
def test_unsafe_paths_are_404(path: str) -> None:
    with pytest.raises(UnsafePathError) as e:
        info("GET", path)
    err = e.value
    assert isinstance(err, StatusError)
    assert (err.code, err.reason) == (404, "NotFound")
    assert json.loads(err.body()) == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "the server could not find the requested resource",
        "reason": "NotFound",
        "details": {},
        "code": 404,
    }


def test_legacy_verb_alone_fails_as_go() -> None:
    with pytest.raises(StatusError) as e:
        info("GET", "/api/v1/watch")
    assert e.value.code == 500 and e.value.plain


def test_dotted_names_are_fine() -> None:
    r = info("GET", RC + "/a.b/..c")
    assert (r.name, r.subresource) == ("a.b", "..c")


def test_percent_decoding_of_parts() -> None:
    r = info("GET", "/apis/ray.io/v1/namespaces/d%65v/rayclusters/%C3%A9t%C3%A9+x")
    assert (r.namespace, r.name) == ("dev", "été+x")
    assert info("GET", "/apis/ray.io/v1/namespaces/d/rayclusters/a%zz").name == "a%zz"


# -- properties --------------------------------------------------------------------------------

segment_text = st.text(alphabet="ab.%/\\:é+2F", min_size=1, max_size=5)


@given(
    st.lists(segment_text, min_size=1, max_size=4), st.booleans(), st.sampled_from(["GET", "DELETE", "PUT"])
)
def test_random_segments(segments: list[str], trailing: bool, method: str) -> None:
    """Every segment is either refused (dot segments, slashes) or comes back decoded, unchanged."""
    encoded = "/".join(quote(s, safe="") for s in segments)
    path = f"{RC}/{encoded}" + ("/" if trailing else "")
    unsafe = any(s in (".", "..") or "/" in s or "\\" in s for s in segments)
    if unsafe:
        with pytest.raises(UnsafePathError):
            request_info(method, path)
        return
    r = request_info(method, path)
    assert r.parts == ("rayclusters", *segments)
    assert r.name == segments[0]
    assert r.subresource == (segments[1] if len(segments) > 1 else "")
    assert r.verb == {"GET": "get", "DELETE": "delete", "PUT": "update"}[method]


@given(st.lists(st.text(alphabet="ab.-", min_size=1, max_size=4), min_size=0, max_size=6))
def test_unencoded_paths_match_go_split(segments: list[str]) -> None:
    """Without encoding, parts are Go's: the path's segments after prefix, group, version
    (and namespace when a resource follows it)."""
    path = "/" + "/".join(["apis", "g", "v", *segments])
    if any(s in (".", "..") for s in segments):
        with pytest.raises(UnsafePathError):
            request_info("GET", path)
        return
    r = request_info("GET", path)
    assert r.is_resource_request == bool(segments)
    if segments:
        assert r.parts == tuple(segments)
        assert r.resource == segments[0]


def test_from_asgi_scope() -> None:
    scope = {
        "method": "GET",
        "path": RC + "/a/b",
        "raw_path": (RC + "/a%2Fb").encode(),
        "query_string": b"x=1",
    }
    with pytest.raises(UnsafePathError):
        request_info_from_scope(scope)  # the raw path shows the encoded slash
    r = request_info_from_scope({"method": "DELETE", "path": RC + "/é", "query_string": b""})
    assert (r.verb, r.name, r.path) == ("delete", "é", RC + "/%C3%A9")
    assert request_info_from_scope(
        {"method": "GET", "raw_path": RC.encode(), "query_string": b"watch"}
    ).is_watch

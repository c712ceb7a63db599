"""``--authentication``: passthrough and token-review against a stub upstream that answers the review APIs.

What each mode sends upstream (the caller's token, or the gateway's plus ``Impersonate-*``), the
401 for no or bad credentials, the ``SubjectAccessReview`` for exactly what a request touches (and
for the lookups made for it), decision and token caches, the verified user in hooks and request
rules, the metrics and the logs (no token in them).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from typing import Any

import pytest
from litestar.testing import TestClient

from handler import GatewayRequest, RequestContext, Settings, create_app, object_hook
from handler.credentials import StaticToken, UpstreamCredentials
from kubeapi.authn import UserInfo
from tests.handler.gateway_stub import Reply, Seen, StubUpstream
from tests.handler.review_stub import GATEWAY_TOKEN, Reviews, resource_rule

HOST = r"testserver\.local"  # Litestar's TestClient Host
RAY = "/apis/ray.io/v1/namespaces/team-a/rayclusters"
ALICE = UserInfo.of(
    "alice", "uid-alice", ["team-a-devs", "system:authenticated"], {"scopes": ["view", "edit"]}
)
BOB = UserInfo.of("bob", "uid-bob", ["system:authenticated"])
TOKENS = {"alice-token": ALICE, "bob-token": BOB}
ALICE_RAY = resource_rule(
    "alice", {"get", "list", "watch", "create", "update", "delete"}, "ray.io", "rayclusters", "team-a"
)
TEMPLATE = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {
        "name": "small",
        "namespace": "team-a",
        "uid": "u1",
        "labels": {"ray.io/config-type": "compute-template", "ray.io/compute-template": "small"},
    },
    "data": {"name": "small", "namespace": "team-a", "cpu": "1", "memory": "2"},
}
KUBERAY_SERVICE = {
    "apiVersion": "v1",
    "kind": "Service",
    "metadata": {"name": "head-svc", "namespace": "team-a", "labels": {"app.kubernetes.io/name": "kuberay"}},
}


def credentials(stub: StubUpstream, identity_pem: bytes | None = None) -> UpstreamCredentials:
    """The gateway's own credentials: its token (the only one the stub lets create reviews)."""
    return UpstreamCredentials(stub.url, StaticToken(GATEWAY_TOKEN), identity_pem=identity_pem)


def app_for(stub: StubUpstream, mode: str, middleware: list[Any] | None = None, **settings: Any) -> Any:
    return create_app(
        Settings(upstream=stub.url, authentication=mode, accept_hosts=HOST, **settings),
        middleware=middleware or [],
        credentials=credentials(stub),
    )


def objects(seen: Seen) -> Reply | None:
    """The stub's answers for the objects the lookups read."""
    path = seen.path.split("?", 1)[0]
    if seen.method == "GET" and path == "/api/v1/namespaces/team-a/configmaps/small":
        return Reply(body=json.dumps(TEMPLATE).encode())
    if seen.method == "GET" and path == "/api/v1/namespaces/team-a/services/head-svc":
        return Reply(body=json.dumps(KUBERAY_SERVICE).encode())
    return None


@pytest.fixture
def reviews(stub: StubUpstream) -> Iterator[Reviews]:
    """The review answerer on a reset stub (alice may use rayclusters in team-a; bob nothing)."""
    stub.reset()
    r = Reviews(dict(TOKENS), [ALICE_RAY])

    def respond(seen: Seen) -> Reply | None:
        return r(seen) or objects(seen)

    stub.responder = respond
    yield r
    stub.reset()


def proxied(stub: StubUpstream) -> list[Seen]:
    """What reached the stub other than the review APIs."""
    return [
        s
        for s in stub.seen
        if "/apis/authentication.k8s.io/" not in s.path and "authorization.k8s.io" not in s.path
    ]


def auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


# --- passthrough -------------------------------------------------------------------------------


def test_passthrough_is_the_settings_default() -> None:
    assert Settings().authentication == "passthrough"


@pytest.mark.parametrize("header", [None, "Bearer", "Bearer ", "Basic YWxpY2U6cHc=", "bearer"])
def test_passthrough_without_a_bearer_token_is_401_and_nothing_goes_upstream(
    stub: StubUpstream, reviews: Reviews, header: str | None
) -> None:
    with TestClient(app_for(stub, "passthrough")) as c:
        r = c.get(RAY, headers={"Authorization": header} if header is not None else {})
    assert r.status_code == 401
    assert r.json() == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": "Unauthorized",
        "reason": "Unauthorized",
        "code": 401,
    }
    assert stub.seen == []


def test_passthrough_sends_the_callers_token_and_no_identity_headers(
    stub: StubUpstream, reviews: Reviews
) -> None:
    seen_users: list[UserInfo | None] = []

    async def rule(request: GatewayRequest) -> None:
        seen_users.append(request.user)

    with TestClient(app_for(stub, "passthrough", [rule])) as c:
        r = c.get(
            RAY,
            headers={
                **auth("alice-token"),
                "Impersonate-User": "admin",
                "Impersonate-Group": "system:masters",
                "X-Remote-User": "admin",
            },
        )
        assert r.status_code == 200
        assert c.get(RAY, headers=auth("alice-token")).status_code == 200
    (first, second) = proxied(stub)
    for sent in (first, second):
        assert sent.headers["authorization"] == "Bearer alice-token"
        assert not any(k.startswith(("impersonate-", "x-remote-")) for k in sent.headers)
    assert seen_users == [ALICE, ALICE]  # the API server's SelfSubjectReview said who the token is
    assert reviews.self_reviews == 1  # cached for the second request
    assert reviews.token_reviews == [] and reviews.access_reviews == []


def test_passthrough_token_the_api_server_refuses_is_401(stub: StubUpstream, reviews: Reviews) -> None:
    with TestClient(app_for(stub, "passthrough")) as c:
        r = c.get(RAY, headers=auth("stolen-token"))
    assert r.status_code == 401 and r.json()["reason"] == "Unauthorized"
    assert proxied(stub) == []


def test_passthrough_lookups_use_the_callers_token_never_the_gateways(
    stub: StubUpstream, reviews: Reviews
) -> None:
    """Template lookups, the V1 compute-template API and the services-proxy label check."""
    with TestClient(app_for(stub, "passthrough")) as c:
        assert (
            c.get("/api/v1/namespaces/team-a/configmaps/small", headers=auth("bob-token")).status_code == 200
        )
        assert (
            c.get("/apis/v1/namespaces/team-a/compute_templates/small", headers=auth("bob-token")).status_code
            == 200
        )
        stub.script(Reply(status=201, body=json.dumps(TEMPLATE).encode()))
        created = c.post(
            "/apis/v1/namespaces/team-a/compute_templates",
            json={"name": "small", "namespace": "team-a", "cpu": 1, "memory": 2},
            headers=auth("bob-token"),
        )
        assert created.status_code == 200, created.text
        assert (
            c.get(
                "/api/v1/namespaces/team-a/services/head-svc/proxy/api/version", headers=auth("bob-token")
            ).status_code
            == 200
        )
    calls = proxied(stub)
    assert [s.path.split("?")[0] for s in calls] == [
        "/api/v1/namespaces/team-a/configmaps/small",
        "/api/v1/namespaces/team-a/configmaps/small",
        "/api/v1/namespaces/team-a/configmaps",
        "/api/v1/namespaces/team-a/services/head-svc",
        "/api/v1/namespaces/team-a/services/head-svc/proxy/api/version",
        "/api/v1/namespaces/team-a/services/head-svc",  # read again before relaying (issue 13 finding 8)
    ]
    assert {s.headers["authorization"] for s in calls} == {"Bearer bob-token"}


def test_passthrough_pool_presents_no_client_certificate_of_the_gateways(stub: StubUpstream) -> None:
    pem = b"-----BEGIN CERTIFICATE-----\n...\n"
    app = create_app(Settings(upstream=stub.url), credentials=credentials(stub, pem))
    assert app.state.upstream.credentials.identity_pem is None
    kept = create_app(
        Settings(upstream=stub.url, authentication="token-review"), credentials=credentials(stub, pem)
    )
    assert kept.state.upstream.credentials.identity_pem == pem


# --- token-review ------------------------------------------------------------------------------


def test_token_review_without_token_or_with_a_bad_one_is_401(stub: StubUpstream, reviews: Reviews) -> None:
    with TestClient(app_for(stub, "token-review")) as c:
        assert c.get(RAY).status_code == 401
        bad = c.get(RAY, headers=auth("nobody-token"))
    assert bad.status_code == 401 and bad.json()["message"] == "Unauthorized"
    assert [s["token"] for s in reviews.token_reviews] == ["nobody-token"]
    assert proxied(stub) == [] and reviews.access_reviews == []


def test_token_review_forwards_with_the_gateways_token_and_impersonation(
    stub: StubUpstream, reviews: Reviews
) -> None:
    with TestClient(app_for(stub, "token-review")) as c:
        r = c.post(
            RAY,
            json={"apiVersion": "ray.io/v1", "kind": "RayCluster", "metadata": {"name": "x"}},
            headers={**auth("alice-token"), "Impersonate-User": "admin", "X-Remote-Group": "system:masters"},
        )
        assert r.status_code == 200
    (sent,) = proxied(stub)
    assert sent.headers["authorization"] == f"Bearer {GATEWAY_TOKEN}"
    assert sent.headers["impersonate-user"] == "alice"
    assert sent.headers["impersonate-uid"] == "uid-alice"
    # http.server folds repeated headers into the last value; the test reads them all
    assert sent.headers["impersonate-extra-scopes"] in ("view", "edit", "view, edit")
    assert "x-remote-group" not in sent.headers
    (review,) = reviews.access_reviews
    assert review == {
        "user": "alice",
        "uid": "uid-alice",
        "groups": ["team-a-devs", "system:authenticated"],
        "extra": {"scopes": ["view", "edit"]},
        "resourceAttributes": {
            "namespace": "team-a",
            "verb": "create",
            "group": "ray.io",
            "version": "v1",
            "resource": "rayclusters",
            "subresource": "",
            "name": "",
        },
    }


@pytest.mark.parametrize(
    ("method", "path", "attrs"),
    [
        ("GET", RAY + "/x", ("get", "ray.io", "rayclusters", "", "team-a", "x")),
        ("GET", RAY + "?watch=1", ("watch", "ray.io", "rayclusters", "", "team-a", "")),
        (
            "DELETE",
            "/apis/ray.io/v1/namespaces/other/rayclusters",
            ("deletecollection", "ray.io", "rayclusters", "", "other", ""),
        ),
        ("PUT", RAY + "/x/status", ("update", "ray.io", "rayclusters", "status", "team-a", "x")),
        ("GET", "/apis/ray.io/v1/rayclusters", ("list", "ray.io", "rayclusters", "", "", "")),
    ],
)
def test_token_review_asks_exactly_what_the_request_touches(
    stub: StubUpstream, reviews: Reviews, method: str, path: str, attrs: tuple[str, ...]
) -> None:
    with TestClient(app_for(stub, "token-review")) as c:
        c.request(method, path, headers=auth("bob-token"), json={} if method == "PUT" else None)
    review = reviews.access_reviews[0]["resourceAttributes"]
    assert (
        review["verb"],
        review["group"],
        review["resource"],
        review["subresource"],
        review["namespace"],
        review["name"],
    ) == attrs


def test_token_review_denied_is_the_apiservers_403_and_nothing_goes_upstream(
    stub: StubUpstream, reviews: Reviews
) -> None:
    with TestClient(app_for(stub, "token-review")) as c:
        r = c.delete("/apis/ray.io/v1/namespaces/other/rayclusters", headers=auth("alice-token"))
    assert r.status_code == 403
    assert r.json() == {
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": 'rayclusters.ray.io is forbidden: User "alice" cannot deletecollection resource '
        '"rayclusters" in API group "ray.io" in the namespace "other"',
        "reason": "Forbidden",
        "details": {"group": "ray.io", "kind": "rayclusters"},
        "code": 403,
    }
    assert proxied(stub) == []


def test_token_review_caches_tokens_and_decisions_with_their_ttls(
    stub: StubUpstream, reviews: Reviews
) -> None:
    app = app_for(stub, "token-review", authorization_cache_denied_ttl=0.0)
    with TestClient(app) as c:
        for _ in range(3):
            assert c.get(RAY, headers=auth("alice-token")).status_code == 200
            assert c.get(RAY + "/x", headers=auth("bob-token")).status_code == 403
        metrics = c.get("/metrics").text
    assert len(reviews.token_reviews) == 2  # one per token
    allowed = [s for s in reviews.access_reviews if s["user"] == "alice"]
    denied = [s for s in reviews.access_reviews if s["user"] == "bob"]
    assert len(allowed) == 1 and len(denied) == 3  # the denied TTL is 0: reviewed every time
    assert 'kuberay_apiserver_authentication_total{mode="token-review",result="success"} 6.0' in metrics
    assert 'kuberay_apiserver_authorization_total{cached="false",decision="allowed"} 1.0' in metrics
    assert 'kuberay_apiserver_authorization_total{cached="true",decision="allowed"} 2.0' in metrics
    assert 'kuberay_apiserver_authorization_total{cached="false",decision="denied"} 3.0' in metrics


def test_token_review_warm_path_honours_the_token_ttl_and_cached_refusals(
    stub: StubUpstream, reviews: Reviews
) -> None:
    """The cached answer taken without a coroutine (``Access.authenticated``) lasts exactly the
    authentication TTL: after it the token is reviewed again; a refused token stays refused on
    every request (its refusal cached, not re-reviewed within the TTL), never let through by the
    warm path."""
    with TestClient(app_for(stub, "token-review", authentication_cache_ttl=0.3)) as c:
        for _ in range(3):
            assert c.get(RAY, headers=auth("alice-token")).status_code == 200
            assert c.get(RAY, headers=auth("nobody-token")).status_code == 401
        assert [s["token"] for s in reviews.token_reviews] == ["alice-token", "nobody-token"]
        time.sleep(0.4)
        assert c.get(RAY, headers=auth("alice-token")).status_code == 200
        assert c.get(RAY, headers=auth("nobody-token")).status_code == 401
    assert [s["token"] for s in reviews.token_reviews] == ["alice-token", "nobody-token"] * 2


def test_authentication_metrics_count_failures_and_missing_credentials(
    stub: StubUpstream, reviews: Reviews
) -> None:
    with TestClient(app_for(stub, "token-review")) as c:
        c.get(RAY)
        c.get(RAY, headers=auth("nobody-token"))
        metrics = c.get("/metrics").text
    assert (
        'kuberay_apiserver_authentication_total{mode="token-review",result="no-credentials"} 1.0' in metrics
    )
    assert 'kuberay_apiserver_authentication_total{mode="token-review",result="failure"} 1.0' in metrics


def test_token_review_asks_for_the_audience(stub: StubUpstream, reviews: Reviews) -> None:
    with TestClient(app_for(stub, "token-review", token_audience="kuberay-gateway")) as c:
        assert c.get(RAY, headers=auth("alice-token")).status_code == 401  # tokens are not for this audience
    assert reviews.token_reviews[0]["audiences"] == ["kuberay-gateway"]
    reviews.audiences = ("kuberay-gateway",)
    with TestClient(app_for(stub, "token-review", token_audience="kuberay-gateway")) as c:
        assert c.get(RAY, headers=auth("alice-token")).status_code == 200


def test_token_review_authorizes_the_lookups_made_for_the_caller(
    stub: StubUpstream, reviews: Reviews
) -> None:
    """The template ConfigMap guard reads the ConfigMap, the services proxy reads the Service: each
    lookup is reviewed as the caller's, and a denied lookup stops the request before it is made."""
    reviews.rules.append(resource_rule("alice", {"get"}, "", "configmaps", "team-a"))
    with TestClient(app_for(stub, "token-review")) as c:
        assert (
            c.get("/api/v1/namespaces/team-a/configmaps/small", headers=auth("alice-token")).status_code
            == 200
        )
        proxy = c.get("/api/v1/namespaces/team-a/services/head-svc/proxy/", headers=auth("alice-token"))
        v1 = c.get("/apis/v1/namespaces/team-a/compute_templates/small", headers=auth("alice-token"))
        v1_list = c.get("/apis/v1/compute_templates", headers=auth("alice-token"))
    asked = [
        (
            s["resourceAttributes"]["verb"],
            s["resourceAttributes"]["resource"],
            s["resourceAttributes"]["subresource"],
            s["resourceAttributes"]["name"],
        )
        for s in reviews.access_reviews
    ]
    assert asked == [
        ("get", "configmaps", "", "small"),  # the request (the lookup reuses the cached decision)
        ("get", "services", "proxy", "head-svc"),  # the request: denied, so no Service lookup
        ("list", "configmaps", "", ""),  # V1 list: the ConfigMap list it makes, cluster-wide
    ]
    assert proxy.status_code == 403 and 'cannot get resource "services/proxy"' in proxy.json()["message"]
    assert v1.status_code == 200  # the V1 route is not reviewed itself; its ConfigMap get is
    assert v1_list.status_code == 403 and "at the cluster scope" in v1_list.json()["message"]
    assert [s.path.split("?")[0] for s in proxied(stub)] == ["/api/v1/namespaces/team-a/configmaps/small"] * 2
    assert {s.headers["impersonate-user"] for s in proxied(stub)} == {"alice"}


def test_hooks_and_rules_receive_the_verified_user_never_a_header(
    stub: StubUpstream, reviews: Reviews
) -> None:
    users: list[UserInfo | None] = []

    @object_hook(["create"], ["ray.io/rayclusters"])
    async def stamp(ctx: RequestContext, obj: Any) -> Any:
        users.append(ctx.user)
        obj["metadata"]["annotations"] = {"created-by": ctx.user.name if ctx.user else ""}
        return obj

    with TestClient(app_for(stub, "token-review", [stamp])) as c:
        r = c.post(
            RAY, json={"metadata": {"name": "x"}}, headers={**auth("alice-token"), "X-Remote-User": "admin"}
        )
        assert r.status_code == 200
    assert users == [ALICE]
    assert json.loads(proxied(stub)[0].body)["metadata"]["annotations"] == {"created-by": "alice"}


def test_logs_carry_the_user_never_a_token(
    stub: StubUpstream, reviews: Reviews, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    with TestClient(app_for(stub, "token-review")) as c:
        c.get(RAY, headers=auth("alice-token"))
        c.get(RAY + "/x", headers=auth("bob-token"))  # denied: logged with the user
        c.get(RAY, headers=auth("nobody-token"))  # refused
    with TestClient(app_for(stub, "passthrough")) as c:
        c.get(RAY, headers=auth("alice-token"))
        c.get(RAY, headers=auth("stolen-token"))
    text = caplog.text + "".join(str(r.args) for r in caplog.records)
    assert 'User "bob" cannot get resource "rayclusters"' in text
    assert (
        "authenticated user alice (token-review)" in text and "authenticated user alice (passthrough)" in text
    )
    for token in ("alice-token", "bob-token", "nobody-token", "stolen-token", GATEWAY_TOKEN):
        assert token not in text


def test_a_review_the_gateway_may_not_make_is_401_for_the_caller_and_logged(
    stub: StubUpstream, reviews: Reviews, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR)
    app = create_app(
        Settings(upstream=stub.url, authentication="token-review", accept_hosts=HOST),
        credentials=UpstreamCredentials(stub.url, StaticToken("not-the-gateway")),
    )
    with TestClient(app) as c:
        assert c.get(RAY, headers=auth("alice-token")).status_code == 401
    assert "TokenReview failed: the API server answered 403" in caplog.text


def test_a_method_with_no_verb_is_denied_without_a_review(stub: StubUpstream, reviews: Reviews) -> None:
    reviews.rules.append(lambda spec: True)
    with TestClient(app_for(stub, "token-review")) as c:
        r = c.request("OPTIONS", RAY, headers=auth("alice-token"))
    assert r.status_code == 403 and "invalid verb" in r.json()["message"]
    assert reviews.access_reviews == [] and proxied(stub) == []

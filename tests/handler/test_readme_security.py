"""The README's "Security" section is kept true: its flags exist, its modes are the registered ones,
its defaults are the code's, and the ClusterRole it gives the gateway's service account allows
exactly what the gateway's own credentials are used for (and nothing on Ray objects)."""

from __future__ import annotations

import re
import subprocess
from typing import Any

import yaml
from litestar.testing import TestClient

from handler import Settings, create_app
from handler.auth.modes import MODES
from handler.credentials import StaticToken, UpstreamCredentials
from kubeapi.authn import UserInfo
from kubeapi.requestinfo import request_info
from tests.handler.gateway_stub import Seen, StubUpstream
from tests.handler.review_stub import GATEWAY_TOKEN, Reviews
from tests.handler.test_readme_templates import README
from tests.procs import BIN

CAROL = UserInfo.of("carol", "uid-carol", ["team-a"], {"scopes": ["edit"], "example.com/tenant": ["a"]})


def section() -> str:
    text = README.read_text()
    start = text.index("## Security\n")
    return text[start : text.index("\n## ", start + 1)]


def cluster_role() -> list[dict[str, Any]]:
    (block,) = re.findall(r"```yaml\n(.*?)```", section(), re.S)
    role = yaml.safe_load(block)
    assert role["kind"] == "ClusterRole"
    return list(role["rules"])


def allows(rules: list[dict[str, Any]], verb: str, group: str, resource: str, subresource: str = "") -> bool:
    """RBAC's rule matching (k8s.io/kubernetes pkg/apis/rbac/v1/evaluation_helpers.go: VerbMatches,
    APIGroupMatches, ResourceMatches with ``*`` and ``*/subresource``)."""
    combined = resource + ("/" + subresource if subresource else "")
    for rule in rules:
        if not ({"*", verb} & set(rule["verbs"])) or not ({"*", group} & set(rule["apiGroups"])):
            continue
        for r in rule["resources"]:
            if r in ("*", combined) or (subresource and r == "*/" + subresource):
                return True
    return False


def test_every_flag_the_section_names_exists() -> None:
    out = subprocess.run(
        [str(BIN / "kuberay-apiserver"), "serve", "--help"], capture_output=True, text=True, timeout=60
    )
    named = set(re.findall(r"`(--[a-z][a-z-]+)", section()))
    assert {"--authentication", "--token-audience", "--accept-hosts", "--allow-unauthenticated"} <= named
    for flag in named:
        assert flag in out.stdout, flag


def test_the_modes_are_the_registered_ones_and_the_defaults_are_the_codes() -> None:
    table_modes = set(re.findall(r"^\| `([a-z-]+)` \|", section(), re.M))
    assert table_modes == set(MODES)
    s = Settings()
    text = " ".join(section().split())
    assert f"`kuberay-apiserver serve` defaults to `{s.authentication}`" in text
    assert f"`--authentication-cache-ttl` seconds, default {s.authentication_cache_ttl:g})" in text
    assert (
        f"`--authorization-cache-allowed-ttl` seconds (default {s.authorization_cache_allowed_ttl:g})" in text
    )
    assert f"`--authorization-cache-denied-ttl` (default {s.authorization_cache_denied_ttl:g})" in text


def gateway_calls(stub: StubUpstream, mode: str) -> list[Seen]:
    """Run a representative session as carol (object, lookups, V1 API, services proxy, discovery)
    through a gateway in ``mode``; every request the upstream received."""
    stub.reset()
    reviews = Reviews({"carol-token": CAROL}, [lambda spec: True])
    stub.responder = reviews
    app = create_app(
        Settings(upstream=stub.url, authentication=mode, accept_hosts=".*"),
        credentials=UpstreamCredentials(stub.url, StaticToken(GATEWAY_TOKEN)),
    )
    auth = {"Authorization": "Bearer carol-token"}
    with TestClient(app) as c:
        c.get("/apis/ray.io/v1/namespaces/team-a/rayclusters", headers=auth)
        c.post(
            "/apis/ray.io/v1/namespaces/team-a/rayclusters", json={"metadata": {"name": "x"}}, headers=auth
        )
        c.get("/api/v1/namespaces/team-a/configmaps/t", headers=auth)
        c.get("/apis/v1/compute_templates", headers=auth)
        c.get("/api/v1/namespaces/team-a/services/s/proxy/", headers=auth)
        c.get("/apis", headers=auth)
    seen = list(stub.seen)
    stub.reset()
    return seen


def test_the_cluster_role_allows_exactly_what_the_impersonating_modes_use(stub: StubUpstream) -> None:
    rules = cluster_role()
    own: set[tuple[str, str, str]] = set()
    for call in gateway_calls(stub, "token-review"):
        assert call.headers.get("authorization") == f"Bearer {GATEWAY_TOKEN}"
        if "impersonate-user" in call.headers:
            # what kube-apiserver's impersonation filter checks (filters/impersonation.go)
            assert allows(rules, "impersonate", "", "users")
            assert allows(rules, "impersonate", "", "groups")
            assert allows(rules, "impersonate", "authentication.k8s.io", "uids")
            for key, _ in CAROL.extra:
                assert allows(rules, "impersonate", "authentication.k8s.io", "userextras", key)
            continue
        path, _, query = call.path.partition("?")
        info = request_info(call.method, path, query)
        own.add((info.verb, info.api_group, info.resource))
    # The gateway's own credentials are used for the reviews and nothing else.
    assert own == {
        ("create", "authentication.k8s.io", "tokenreviews"),
        ("create", "authorization.k8s.io", "subjectaccessreviews"),
    }
    for verb, group, resource in own:
        assert allows(rules, verb, group, resource)
    # ... and the role gives it nothing on Ray objects or anything else.
    for verb in ("get", "list", "watch", "create", "update", "patch", "delete", "deletecollection"):
        assert not allows(rules, verb, "ray.io", "rayclusters")
        assert not allows(rules, verb, "", "configmaps")
        assert not allows(rules, verb, "", "services", "proxy")


def test_passthrough_needs_nothing_of_the_gateways_service_account(stub: StubUpstream) -> None:
    calls = gateway_calls(stub, "passthrough")
    assert calls and all(c.headers.get("authorization") == "Bearer carol-token" for c in calls)
    assert "`passthrough`: nothing" in " ".join(section().split())

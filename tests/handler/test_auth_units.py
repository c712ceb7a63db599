"""The pieces of ``handler.auth`` on their own: the bearer-token reader, the TTL cache, the
review bodies and the authorizer attributes."""

from __future__ import annotations

import asyncio

import pytest
from hypothesis import given
from hypothesis import strategies as st

from handler.auth.authenticator import bearer_token
from handler.auth.cache import TTLCache, digest
from handler.auth.reviews import access_review, token_review, user_from_json
from kubeapi.authn import Attributes, UserInfo, request_attributes
from kubeapi.requestinfo import request_info


def scope(*headers: tuple[str, str]) -> dict[str, object]:
    return {"headers": [(k.encode(), v.encode()) for k, v in headers]}


@pytest.mark.parametrize(
    ("value", "token"),
    [
        ("Bearer abc", "abc"),
        ("bearer abc", "abc"),
        ("BEARER abc extra", "abc"),
        ("  Bearer abc  ", "abc"),
        ("Bearer", None),
        ("Bearer ", None),
        ("Bearer  abc", None),  # Go splits on single spaces: the token part is empty
        ("Basic YWxpY2U6cHc=", None),
        ("abc", None),
    ],
)
def test_bearer_token_as_kube_apiservers_bearertoken_authenticator(value: str, token: str | None) -> None:
    assert bearer_token(scope(("authorization", value))) == token


def test_only_the_first_authorization_header_counts() -> None:
    assert bearer_token(scope(("Authorization", "Basic x"), ("authorization", "Bearer y"))) is None
    assert bearer_token(scope(("accept", "*/*"))) is None


@given(st.text(st.characters(min_codepoint=32, max_codepoint=126), max_size=60))
def test_bearer_token_matches_go_on_any_header_value(value: str) -> None:
    parts = value.strip().split(" ", 2)
    expected = parts[1] if len(parts) >= 2 and parts[0].lower() == "bearer" and parts[1] else None
    assert bearer_token(scope(("authorization", value))) == expected


def test_cache_keeps_values_for_their_ttl_and_shares_one_computation() -> None:
    now = [0.0]
    cache: TTLCache[str] = TTLCache(max_entries=2, clock=lambda: now[0])
    calls: list[str] = []

    async def compute(key: str) -> str:
        calls.append(key)
        await asyncio.sleep(0.01)
        return key.upper()

    async def main() -> None:
        results = await asyncio.gather(
            *(cache.get("a", lambda: compute("a"), lambda v: 5.0) for _ in range(5))
        )
        assert [r[0] for r in results] == ["A"] * 5 and sum(not cached for _, cached in results) == 1
        assert calls == ["a"]
        assert await cache.get("a", lambda: compute("a"), lambda v: 5.0) == ("A", True)
        now[0] = 5.0  # expired
        assert await cache.get("a", lambda: compute("a"), lambda v: 5.0) == ("A", False)
        assert await cache.get("b", lambda: compute("b"), lambda v: 0.0) == ("B", False)  # ttl 0: not kept
        assert cache.peek("b") is None
        await cache.get("c", lambda: compute("c"), lambda v: 9.0)
        await cache.get("d", lambda: compute("d"), lambda v: 9.0)
        assert len(cache) == 2 and cache.peek("a") is None  # the oldest went first

    asyncio.run(main())


def test_cache_stores_nothing_when_the_computation_fails() -> None:
    cache: TTLCache[int] = TTLCache()

    async def boom() -> int:
        raise RuntimeError("no")

    async def main() -> None:
        with pytest.raises(RuntimeError):
            await cache.get("k", boom, lambda v: 10.0)
        assert await cache.get("k", lambda: asyncio.sleep(0, 7), lambda v: 10.0) == (7, False)

    asyncio.run(main())


def test_the_token_cache_key_is_a_digest() -> None:
    assert digest("secret") != b"secret" and len(digest("secret")) == 32 and b"secret" not in digest("secret")


def test_review_bodies() -> None:
    assert token_review("t") == {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenReview",
        "spec": {"token": "t"},
    }
    assert token_review("t", "aud")["spec"]["audiences"] == ["aud"]
    user = UserInfo.of("u", "", ["g"])
    info = request_info("GET", "/apis", "")
    assert access_review(request_attributes(info, user))["spec"] == {
        "user": "u",
        "groups": ["g"],
        "nonResourceAttributes": {"path": "/apis", "verb": "get"},
    }


@pytest.mark.parametrize(
    "obj",
    [None, {}, {"username": ""}, {"username": 3}, "alice"],
)
def test_a_user_object_without_a_name_is_no_user(obj: object) -> None:
    assert user_from_json(obj) is None


def test_user_from_json_keeps_well_typed_fields_only() -> None:
    got = user_from_json(
        {"username": "a", "uid": "1", "groups": ["g", 3], "extra": {"k": ["v", None], "bad": "x"}}
    )
    assert got == UserInfo.of("a", "1", ["g"], {"k": ["v"]})


@pytest.mark.parametrize(
    ("method", "path", "query", "expected"),
    [
        (
            "GET",
            "/api/v1/namespaces/ns/services/https:svc:8443/proxy/x",
            "",
            ("get", "", "services", "proxy", "ns", "https:svc:8443"),
        ),
        ("POST", "/apis/ray.io/v1/namespaces/ns/rayjobs", "", ("create", "ray.io", "rayjobs", "", "ns", "")),
        ("GET", "/api/v1/namespaces/ns/events", "watch=true", ("watch", "", "events", "", "ns", "")),
        (
            "PATCH",
            "/apis/ray.io/v1/namespaces/ns/rayclusters/c/scale",
            "",
            ("patch", "ray.io", "rayclusters", "scale", "ns", "c"),
        ),
    ],
)
def test_attributes_are_the_requestinfo(
    method: str, path: str, query: str, expected: tuple[str, ...]
) -> None:
    a = request_attributes(request_info(method, path, query), UserInfo("u"))
    assert isinstance(a, Attributes) and a.resource_request
    assert (a.verb, a.api_group, a.resource, a.subresource, a.namespace, a.name) == expected

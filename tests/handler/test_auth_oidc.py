"""``oidc`` mode (handler.auth.oidc): tokens from a local issuer (discovery + JWKS over HTTPS,
tests.handler.oidc_issuer) validated as kube-apiserver's ``--oidc-*`` flags validate them."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from handler.auth.oidc import OIDCAuthenticator, OIDCOptions
from kubeapi.authn import UserInfo
from kubeapi.status import StatusError
from tests.handler.oidc_issuer import CLIENT_ID, Issuer, new_key, unsigned_token


@pytest.fixture(scope="module")
def issuer(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Issuer]:
    i = Issuer(tmp_path_factory.mktemp("oidc"))
    yield i
    i.close()


def scope(token: str | None) -> dict[str, Any]:
    headers = [(b"authorization", f"Bearer {token}".encode())] if token is not None else []
    return {"type": "http", "headers": headers}


def authenticator(issuer: Issuer, interval: float = 10.0, **flags: str) -> OIDCAuthenticator:
    options = OIDCOptions.parse(issuer.url, CLIENT_ID, ca_file=issuer.ca_file, **flags)
    return OIDCAuthenticator(options, min_refresh_interval=interval)


async def refused(auth: OIDCAuthenticator, token: str) -> None:
    with pytest.raises(StatusError) as e:
        await auth.authenticate(scope(token))
    assert e.value.code == 401
    assert e.value.reason == "Unauthorized"


async def test_valid_token_names_the_user_with_the_issuer_prefix_and_groups(issuer: Issuer) -> None:
    auth = authenticator(issuer, groups_claim="groups", groups_prefix="oidc:")
    user = await auth.authenticate(scope(issuer.token()))
    # kube-apiserver's legacy flag rule: no --oidc-username-prefix and a claim other than email
    # → "<issuer>#".
    assert user == UserInfo.of(f"{issuer.url}#alice", groups=["oidc:team-a", "oidc:devs"])


async def test_username_prefix_rules(issuer: Issuer) -> None:
    token = issuer.token()
    email = await authenticator(issuer, username_claim="email").authenticate(scope(token))
    assert email is not None and email.name == "alice@example.com"
    dash = await authenticator(issuer, username_prefix="-").authenticate(scope(token))
    assert dash is not None and dash.name == "alice"
    given_prefix = await authenticator(issuer, username_prefix="corp:").authenticate(scope(token))
    assert given_prefix is not None and given_prefix.name == "corp:alice" and given_prefix.groups == ()


async def test_a_single_string_groups_claim_is_one_group(issuer: Issuer) -> None:
    auth = authenticator(issuer, groups_claim="groups")
    user = await auth.authenticate(scope(issuer.token(groups="admins")))
    assert user is not None and user.groups == ("admins",)
    await refused(auth, issuer.token(groups=[1, 2]))


async def test_no_bearer_token_is_not_handled(issuer: Issuer) -> None:
    assert await authenticator(issuer).authenticate(scope(None)) is None
    assert await authenticator(issuer).authenticate(scope("not-a-jwt")) is None


async def test_expired_token_is_refused(issuer: Issuer) -> None:
    await refused(authenticator(issuer), issuer.token(exp=int(time.time()) - 1))


async def test_missing_exp_is_refused(issuer: Issuer) -> None:
    await refused(authenticator(issuer), issuer.token(exp=None))


async def test_not_before_beyond_the_clock_skew_is_refused_within_it_accepted(issuer: Issuer) -> None:
    auth = authenticator(issuer)
    await refused(auth, issuer.token(nbf=int(time.time()) + 600))
    assert await auth.authenticate(scope(issuer.token(nbf=int(time.time()) + 60))) is not None


async def test_wrong_audience_is_refused(issuer: Issuer) -> None:
    auth = authenticator(issuer)
    await refused(auth, issuer.token(aud="someone-else"))
    await refused(auth, issuer.token(aud=None))
    assert await auth.authenticate(scope(issuer.token(aud=["x", CLIENT_ID]))) is not None


async def test_wrong_issuer_is_not_this_authenticators_token(issuer: Issuer) -> None:
    # hasCorrectIssuer: another issuer's token is not handled (the gateway answers 401).
    auth = authenticator(issuer)
    assert await auth.authenticate(scope(issuer.token(iss="https://evil.example"))) is None


async def test_discovery_issuer_mismatch_refuses_every_token(tmp_path: Path) -> None:
    liar = Issuer(tmp_path, issuer_override="https://accounts.example")
    try:
        await refused(authenticator(liar), liar.token())
    finally:
        liar.close()


async def test_unknown_key_is_refused(issuer: Issuer) -> None:
    stranger = new_key("k1")  # the issuer's kid, not its key
    await refused(authenticator(issuer), issuer.token(key=stranger))
    await refused(authenticator(issuer), issuer.token(key=new_key("nobody")))


async def test_alg_none_is_refused_even_when_configured_algs_are_asked_for(issuer: Issuer) -> None:
    auth = authenticator(issuer)
    await refused(auth, unsigned_token(issuer.claims()))
    with pytest.raises(ValueError, match="unsupported signing alg"):
        authenticator(issuer, signing_algs="none")
    with pytest.raises(ValueError, match="unsupported signing alg"):
        authenticator(issuer, signing_algs="HS256")


async def test_hs256_signed_with_the_public_key_is_refused(issuer: Issuer) -> None:
    # The classic RS256→HS256 confusion: an HMAC keyed with the published public key.
    # joserfc itself refuses to build that key, so the attacker's token is assembled by hand.
    import base64
    import hashlib
    import hmac
    import json

    def b64(b: bytes) -> str:
        return base64.urlsafe_b64encode(b).rstrip(b"=").decode()

    public_pem = issuer.signing_key.as_pem(private=False)
    head = b64(json.dumps({"alg": "HS256", "kid": "k1"}).encode())
    body = b64(json.dumps(issuer.claims()).encode())
    mac = hmac.new(public_pem, f"{head}.{body}".encode(), hashlib.sha256).digest()
    await refused(authenticator(issuer), f"{head}.{body}.{b64(mac)}")
    await refused(authenticator(issuer, signing_algs="RS256,ES256"), f"{head}.{body}.{b64(mac)}")


async def test_token_not_signed_with_an_allowed_alg_is_refused(issuer: Issuer) -> None:
    auth = authenticator(issuer, signing_algs="RS256")
    await refused(auth, issuer.token(alg="RS512"))
    ps = authenticator(issuer, signing_algs="RS512")
    assert await ps.authenticate(scope(issuer.token(alg="RS512"))) is not None


async def test_required_claims(issuer: Issuer) -> None:
    auth = authenticator(issuer, required_claims="hd=example.com,tier=gold")
    assert await auth.authenticate(scope(issuer.token(hd="example.com", tier="gold"))) is not None
    await refused(auth, issuer.token(hd="example.com"))
    await refused(auth, issuer.token(hd="evil.com", tier="gold"))


async def test_unverified_email_is_refused_for_the_email_claim(issuer: Issuer) -> None:
    auth = authenticator(issuer, username_claim="email")
    await refused(auth, issuer.token(email_verified=False))
    assert await auth.authenticate(scope(issuer.token(email_verified=None))) is not None


async def test_missing_or_non_string_username_claim_is_refused(issuer: Issuer) -> None:
    await refused(authenticator(issuer), issuer.token(sub=None))
    await refused(authenticator(issuer), issuer.token(sub=42))


async def test_rotated_key_old_refused_new_accepted_after_refetch(tmp_path: Path) -> None:
    rot = Issuer(tmp_path)
    now = [1000.0]  # the refresh limiter's clock, moved by hand
    try:
        options = OIDCOptions.parse(rot.url, CLIENT_ID, ca_file=rot.ca_file)
        auth = OIDCAuthenticator(options, min_refresh_interval=10.0, clock=lambda: now[0])
        old_token = rot.token()
        assert await auth.authenticate(scope(old_token)) is not None
        assert rot.hits["/jwks"] == 1
        # The issuer rotates: k1 is withdrawn, k2 signs from now on.
        k2 = new_key("k2")
        rot.keys = [k2]
        new_token = rot.token(key=k2)
        # Within the refresh interval the unknown kid does not reach the issuer...
        now[0] += 9.0
        await refused(auth, new_token)
        assert rot.hits["/jwks"] == 1
        # ...after it, one refetch and the new key is accepted.
        now[0] += 1.5
        user = await auth.authenticate(scope(new_token))
        assert user is not None and user.name.endswith("#alice")
        assert rot.hits["/jwks"] == 2
        # The withdrawn key is gone from the refetched set, whenever asked.
        await refused(auth, old_token)
        now[0] += 60.0
        await refused(auth, old_token)
        assert rot.hits["/jwks"] == 3
    finally:
        rot.close()


async def test_unknown_kids_are_rate_limited(issuer: Issuer) -> None:
    auth = authenticator(issuer, interval=60.0)
    assert await auth.authenticate(scope(issuer.token())) is not None
    before = issuer.hits["/jwks"]
    tokens = [issuer.token(key=new_key(f"junk-{i}")) for i in range(3)]
    for t in tokens * 3:
        await refused(auth, t)
    assert issuer.hits["/jwks"] == before  # nine unknown kids, no refetch within the interval


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(garbage=st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=300))
def test_hostile_tokens_never_authenticate(issuer: Issuer, garbage: str) -> None:
    auth = authenticator(issuer)
    real = issuer.token()
    for token in (garbage, real[: len(garbage) % len(real)] + garbage, real + garbage):
        try:
            user = asyncio.run(auth.authenticate(scope(token)))
        except StatusError as e:
            assert e.code == 401
            continue
        assert user is None or token == real


# --- through the gateway -------------------------------------------------------------------------


def test_gateway_in_oidc_mode_impersonates_the_token_user(issuer: Issuer, stub: Any) -> None:
    """A valid token: the request goes upstream with the gateway's token and the prefixed user
    and groups as ``Impersonate-*``; a refused token (expired, alg none, another key) is a 401
    and nothing reaches the upstream."""
    from litestar.testing import TestClient

    from handler import Settings, create_app
    from handler.credentials import StaticToken, UpstreamCredentials
    from tests.handler.review_stub import GATEWAY_TOKEN, Reviews, resource_rule

    stub.reset()
    reviews = Reviews({}, [resource_rule("oidc:alice", {"list"}, "ray.io", "rayclusters", "team-a")])
    stub.responder = reviews
    settings = Settings(
        upstream=stub.url,
        authentication="oidc",
        accept_hosts=r"testserver\.local",
        oidc_issuer_url=issuer.url,
        oidc_client_id=CLIENT_ID,
        oidc_ca_file=issuer.ca_file,
        oidc_username_prefix="oidc:",
        oidc_groups_claim="groups",
        oidc_groups_prefix="oidc:",
    )
    app = create_app(settings, credentials=UpstreamCredentials(stub.url, StaticToken(GATEWAY_TOKEN)))
    path = "/apis/ray.io/v1/namespaces/team-a/rayclusters"
    try:
        with TestClient(app) as c:
            r = c.get(path, headers={"Authorization": f"Bearer {issuer.token()}"})
            assert r.status_code == 200, r.text
            [seen] = [s for s in stub.seen if ".k8s.io/" not in s.path]
            assert seen.headers["impersonate-user"] == "oidc:alice"
            assert seen.headers["authorization"] == f"Bearer {GATEWAY_TOKEN}"
            spec = reviews.access_reviews[-1]
            assert (spec["user"], spec["groups"]) == ("oidc:alice", ["oidc:team-a", "oidc:devs"])
            # alice's token in another namespace: 403 from the SubjectAccessReview.
            other = c.get(
                path.replace("team-a", "default"), headers={"Authorization": f"Bearer {issuer.token()}"}
            )
            assert other.status_code == 403
            stub.seen.clear()
            for bad in (
                issuer.token(exp=int(time.time()) - 1),
                unsigned_token(issuer.claims()),
                issuer.token(key=new_key("k1")),
                issuer.token(aud="other"),
                issuer.token(iss="https://evil.example"),
            ):
                r = c.get(path, headers={"Authorization": f"Bearer {bad}"})
                assert (r.status_code, r.json()["reason"]) == (401, "Unauthorized")
            assert [s for s in stub.seen if ".k8s.io/" not in s.path] == []
    finally:
        stub.reset()

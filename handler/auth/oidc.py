"""``oidc`` mode: an OpenID Connect ID token (a signed JWT) names the user, validated as
kube-apiserver's ``--oidc-*`` flags validate it.

Follows k8s.io/apiserver ``plugin/pkg/authenticator/token/oidc/oidc.go`` (v0.37,
``jwtAuthenticator.AuthenticateToken``), the go-oidc v3 verifier it uses, and the flag rules of
k8s.io/kubernetes ``pkg/kubeapiserver/options/authentication.go``:

- A bearer token whose (unverified) ``iss`` is not the issuer URL is not handled
  (``hasCorrectIssuer``: None; the gateway then answers 401). Everything below failing is a 401.
- Discovery: ``<issuer>/.well-known/openid-configuration``; its ``issuer`` must equal the issuer
  URL exactly and it names ``jwks_uri`` (go-oidc ``NewProvider``). Fetched on first use, over
  HTTPS trusting ``--oidc-ca-file`` (or the system roots). Until it succeeds tokens are refused
  (``oidc: authenticator not initialized``); a failed fetch is retried after
  :data:`MIN_REFRESH_INTERVAL`.
- Signature: the header's ``alg`` must be one of ``--oidc-signing-algs`` (default ``RS256``; only
  the asymmetric algorithms of ``allowedSigningAlgs`` may be configured, so ``none`` and ``HS*``
  are always refused); the key is the JWKS key with the header's ``kid`` (every key without one).
  An unknown ``kid`` or a signature no cached key verifies makes the key set be fetched again
  (go-oidc ``RemoteKeySet`` does this on every miss; here at most once per
  :data:`MIN_REFRESH_INTERVAL`, shared by concurrent requests, so junk tokens cannot make the
  gateway hammer the issuer). Signatures are checked by joserfc, never by code here.
- Claims (go-oidc ``IDTokenVerifier.Verify``): ``iss`` equal to the issuer URL; ``aud`` (string or
  list) containing ``--oidc-client-id``; ``exp`` required and not passed (no leeway, as go-oidc);
  ``nbf``, when present, at most :data:`NBF_LEEWAY` (5 minutes, go-oidc's clock skew allowance)
  in the future; ``iat`` when present must be a number (go-oidc parses it, never compares it).
- User: the ``--oidc-username-claim`` string (default ``sub``), prefixed by
  ``--oidc-username-prefix``; without a prefix flag, every claim but ``email`` gets
  ``<issuer URL>#`` and ``-`` means none (the legacy flag rule). With ``email`` as the claim, an
  ``email_verified`` claim that is present must be true. Groups: ``--oidc-groups-claim``, a string
  or a list of strings, each prefixed by ``--oidc-groups-prefix``. ``--oidc-required-claims``:
  each ``key=value`` must be present as that exact string.
"""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

from joserfc import jws, jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

from handler.auth.authenticator import bearer_token
from kubeapi.authn import UserInfo, unauthorized

__all__ = [
    "ALLOWED_SIGNING_ALGS",
    "MIN_REFRESH_INTERVAL",
    "NBF_LEEWAY",
    "OIDCAuthenticator",
    "OIDCOptions",
    "ProviderKeys",
    "user_from_claims",
]

log = logging.getLogger("handler.auth")

#: oidc.go ``allowedSigningAlgs``: the asymmetric JWS algorithms (go-oidc's names).
ALLOWED_SIGNING_ALGS = frozenset(
    {"RS256", "RS384", "RS512", "ES256", "ES384", "ES512", "PS256", "PS384", "PS512"}
)
#: go-oidc's allowance for a ``nbf`` in the future (seconds).
NBF_LEEWAY = 300.0
#: Seconds between two fetches of the discovery document and key set.
MIN_REFRESH_INTERVAL = 10.0
#: Seconds an HTTP fetch from the issuer may take.
FETCH_TIMEOUT = 10.0


class OIDCError(Exception):
    """A token that does not validate (the message is logged, the caller gets 401)."""


@dataclass(frozen=True)
class OIDCOptions:
    """The ``--oidc-*`` settings, validated: ``issuer_url`` (https), ``client_id`` (the audience),
    ``username_claim``, ``username_prefix`` as given (None: the flag rule of the module
    docstring), ``groups_claim``, ``groups_prefix``, ``required_claims``, ``ca_file`` (PEM, or
    ``""`` for the system roots) and ``signing_algs``."""

    issuer_url: str
    client_id: str
    username_claim: str = "sub"
    username_prefix: str | None = None
    groups_claim: str = ""
    groups_prefix: str = ""
    required_claims: Mapping[str, str] = field(default_factory=dict)
    ca_file: str = ""
    signing_algs: tuple[str, ...] = ("RS256",)

    def __post_init__(self) -> None:
        if not self.issuer_url.startswith("https://"):
            raise ValueError(f"--oidc-issuer-url must be an https URL, got {self.issuer_url!r}")
        if not self.client_id:
            raise ValueError("--authentication oidc needs --oidc-client-id")
        bad = [a for a in self.signing_algs if a not in ALLOWED_SIGNING_ALGS]
        if bad or not self.signing_algs:
            raise ValueError(f"oidc: unsupported signing alg: {bad[0] if bad else ''!r}")

    @classmethod
    def parse(
        cls,
        issuer_url: str,
        client_id: str,
        username_claim: str = "sub",
        username_prefix: str = "",
        groups_claim: str = "",
        groups_prefix: str = "",
        required_claims: str = "",
        ca_file: str = "",
        signing_algs: str = "RS256",
    ) -> OIDCOptions:
        """Options from flag strings (``required_claims`` ``k=v,k2=v2``, ``signing_algs``
        comma-separated; an empty ``username_prefix`` means the flag was not given). Raises
        ValueError naming the flag for a value that does not parse."""
        claims: dict[str, str] = {}
        for item in filter(None, (p.strip() for p in required_claims.split(","))):
            key, sep, value = item.partition("=")
            if not sep or not key:
                raise ValueError(f"--oidc-required-claims: {item!r} is not key=value")
            claims[key] = value
        algs = tuple(a.strip() for a in signing_algs.split(",") if a.strip()) or ("RS256",)
        return cls(
            issuer_url,
            client_id,
            username_claim or "sub",
            username_prefix or None,
            groups_claim,
            groups_prefix,
            claims,
            ca_file,
            algs,
        )

    @property
    def effective_username_prefix(self) -> str:
        """authentication.go: no flag → ``issuer#`` unless the claim is ``email``; ``-`` → none."""
        if self.username_prefix is None:
            return "" if self.username_claim == "email" else self.issuer_url + "#"
        return "" if self.username_prefix == "-" else self.username_prefix


class ProviderKeys:
    """The issuer's discovery document and JWKS, fetched with pyreqwest and refreshed at most
    every ``min_interval`` seconds of ``clock`` (monotonic seconds; concurrent callers share one
    fetch)."""

    def __init__(
        self,
        options: OIDCOptions,
        min_interval: float = MIN_REFRESH_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.options = options
        self.min_interval = min_interval
        self.clock = clock
        self.keys: KeySet | None = None
        self.fetches = 0
        self._fetched_at = -float("inf")
        self._lock = asyncio.Lock()
        self._client: Any = None

    def _http(self) -> Any:
        if self._client is None:
            from pyreqwest.client import ClientBuilder

            builder = (
                ClientBuilder()
                .https_only(True)
                .follow_redirects(False)
                .timeout(timedelta(seconds=FETCH_TIMEOUT))
                .user_agent("kuberay-apiserver/0.1")
            )
            if self.options.ca_file:
                with open(self.options.ca_file, "rb") as f:
                    builder = builder.add_root_certificate_pem(f.read())
            self._client = builder.build()
        return self._client

    async def _get_json(self, url: str) -> Any:
        resp = await self._http().get(url).build().send()
        body = bytes(await resp.bytes())
        if resp.status != 200:
            raise OIDCError(f"oidc: GET {url}: HTTP {resp.status}")
        return json.loads(body)

    async def _fetch(self) -> KeySet:
        issuer = self.options.issuer_url
        doc = await self._get_json(issuer.rstrip("/") + "/.well-known/openid-configuration")
        if not isinstance(doc, dict) or doc.get("issuer") != issuer:
            got = doc.get("issuer") if isinstance(doc, dict) else None
            raise OIDCError(
                f"oidc: issuer did not match the issuer returned by provider, expected {issuer!r} got {got!r}"
            )
        jwks_uri = doc.get("jwks_uri")
        if not isinstance(jwks_uri, str) or not jwks_uri:
            raise OIDCError("oidc: discovery document has no jwks_uri")
        jwks = await self._get_json(jwks_uri)
        keys = []
        for entry in jwks.get("keys", []) if isinstance(jwks, dict) else []:
            if isinstance(entry, dict) and entry.get("use", "sig") == "sig":
                try:
                    keys.append(KeySet.import_key_set({"keys": [entry]}).keys[0])
                except (JoseError, ValueError, TypeError, KeyError) as e:
                    log.info("oidc: skipping a JWKS key that does not import: %s", e)
        return KeySet(keys)

    async def refresh(self, *, force: bool) -> KeySet | None:
        """The key set, fetched first when there is none yet or ``force`` — but not when the last
        fetch was less than ``min_interval`` seconds ago. None while no fetch has succeeded."""
        if self.keys is not None and not force:
            return self.keys
        async with self._lock:
            if self.clock() - self._fetched_at < self.min_interval:
                return self.keys
            self._fetched_at = self.clock()
            self.fetches += 1
            try:
                self.keys = await self._fetch()
            except Exception as e:  # network, TLS, JSON: the issuer is unavailable, keep the old keys
                log.warning("oidc: fetching keys from %s failed: %s", self.options.issuer_url, e)
            return self.keys


def _claim_str(claims: Mapping[str, Any], name: str) -> str:
    if name not in claims:
        raise OIDCError(f"oidc: parse username claims {name!r}: claim not present")
    value = claims[name]
    if not isinstance(value, str):
        raise OIDCError(f"oidc: parse claim {name!r}: not a string")
    return value


def _number(claims: Mapping[str, Any], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise OIDCError(f"oidc: malformed claim {name!r}")
    return float(value)


def check_claims(claims: Mapping[str, Any], options: OIDCOptions, now: float) -> None:
    """go-oidc ``Verify``'s claim checks (issuer, audience, exp, nbf, iat type) at ``now``
    (seconds since the epoch); OIDCError naming the failure."""
    if claims.get("iss") != options.issuer_url:
        raise OIDCError(f"oidc: id token issued by a different provider, got {claims.get('iss')!r}")
    aud = claims.get("aud")
    audiences = [aud] if isinstance(aud, str) else aud if isinstance(aud, list) else []
    if options.client_id not in audiences:
        raise OIDCError(f"oidc: expected audience {options.client_id!r} got {audiences!r}")
    exp = _number(claims, "exp")
    if exp is None or exp < now:
        raise OIDCError("oidc: token is expired")
    nbf = _number(claims, "nbf")
    if nbf is not None and now + NBF_LEEWAY < nbf:
        raise OIDCError("oidc: current time before the nbf (not before) time")
    _number(claims, "iat")


def user_from_claims(claims: Mapping[str, Any], options: OIDCOptions) -> UserInfo:
    """``getUsername``, ``getGroups`` and the required-claims check of oidc.go over verified
    ``claims``; OIDCError for a missing or malformed claim."""
    username = _claim_str(claims, options.username_claim)
    if options.username_claim == "email" and "email_verified" in claims:
        verified = claims["email_verified"]
        if not isinstance(verified, bool):
            raise OIDCError("oidc: parse 'email_verified' claim: not a boolean")
        if not verified:
            raise OIDCError("oidc: email not verified")
    groups: list[str] = []
    if options.groups_claim and options.groups_claim in claims:
        raw = claims[options.groups_claim]
        values = [raw] if isinstance(raw, str) else raw
        if not isinstance(values, list) or not all(isinstance(g, str) for g in values):
            raise OIDCError(f"oidc: parse groups claim {options.groups_claim!r}")
        groups = [options.groups_prefix + g for g in values]
    for key, want in options.required_claims.items():
        if key not in claims:
            raise OIDCError(f"oidc: required claim {key} not present in ID token")
        if claims[key] != want:
            raise OIDCError(f"oidc: required claim {key} value does not match")
    return UserInfo.of(options.effective_username_prefix + username, groups=groups)


class OIDCAuthenticator:
    """The ``oidc`` :class:`handler.auth.authenticator.Authenticator` (module docstring);
    ``min_refresh_interval`` and ``clock`` as :class:`ProviderKeys` (tests set them)."""

    def __init__(
        self,
        options: OIDCOptions,
        min_refresh_interval: float = MIN_REFRESH_INTERVAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.options = options
        self.provider = ProviderKeys(options, min_refresh_interval, clock)

    async def authenticate(self, scope: Mapping[str, Any]) -> UserInfo | None:
        """The token's user; None without a bearer token or for a token of another issuer; 401
        for a token of this issuer that does not validate."""
        token = bearer_token(scope)
        if token is None:
            return None
        try:
            header, claims = _unverified(token)
        except OIDCError:
            return None  # not a JWT: not a token of this kind (hasCorrectIssuer is false)
        if claims.get("iss") != self.options.issuer_url:
            return None
        try:
            verified = await self._verify(token, header)
            check_claims(verified, self.options, time.time())
            return user_from_claims(verified, self.options)
        except OIDCError as e:
            log.info("%s", e)  # never the token itself
            raise unauthorized() from e

    async def _verify(self, token: str, header: Mapping[str, Any]) -> dict[str, Any]:
        alg = header.get("alg")
        if alg not in self.options.signing_algs:
            raise OIDCError(f"oidc: id token signed with unsupported algorithm, got {alg!r}")
        keys = await self.provider.refresh(force=False)
        if keys is None:
            raise OIDCError("oidc: authenticator not initialized")
        claims = _try_keys(token, keys, header.get("kid"), self.options.signing_algs)
        if claims is None:
            fresh = await self.provider.refresh(force=True)
            if fresh is not None and fresh is not keys:
                claims = _try_keys(token, fresh, header.get("kid"), self.options.signing_algs)
        if claims is None:
            raise OIDCError("oidc: failed to verify signature: no key of the issuer verifies it")
        return claims


def _unverified(token: str) -> tuple[dict[str, Any], dict[str, Any]]:
    """The header and payload of compact JWS ``token`` before any check (for routing only)."""
    try:
        obj = jws.extract_compact(token.encode("ascii"))
        payload = json.loads(obj.payload)
    except (JoseError, ValueError, UnicodeError) as e:
        raise OIDCError(f"oidc: malformed jwt: {e}") from e
    if not isinstance(payload, dict):
        raise OIDCError("oidc: malformed jwt: payload is not an object")
    return dict(obj.headers()), payload


def _try_keys(token: str, keys: KeySet, kid: Any, algs: tuple[str, ...]) -> dict[str, Any] | None:
    """The verified claims of ``token`` under the key with ``kid`` (every key when the token has
    none); None when no such key verifies it."""
    candidates = [k for k in keys.keys if kid is None or k.kid == kid]
    for key in candidates:
        try:
            token_obj = jwt.decode(token, key, algorithms=list(algs))
        except (JoseError, ValueError):
            continue
        return dict(token_obj.claims)
    return None

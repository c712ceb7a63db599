"""``--accept-hosts`` (DNS rebinding) and CORS credentials."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st
from litestar.testing import TestClient

from handler import Settings, create_app
from handler.auth.hosts import HostFilter, host_without_port
from handler.factory import cors_config
from handler.settings import SettingsError
from tests.handler.gateway_stub import StubUpstream

RAY = "/apis/ray.io/v1/namespaces/default/rayclusters"

#: DNS names a rebinding attack could use (letters first, so never an IP literal).
names = st.from_regex(r"[a-z][a-z0-9-]{0,20}(\.[a-z][a-z0-9-]{0,10}){0,3}", fullmatch=True).filter(
    lambda n: n != "localhost"
)
ports = st.one_of(st.just(""), st.integers(1, 65535).map(lambda p: f":{p}"))


@pytest.mark.parametrize(
    "host", ["localhost", "localhost:31888", "127.0.0.1", "127.0.0.1:8888", "[::1]", "[::1]:8888", "::1"]
)
def test_default_accepts_loopback_names_with_any_port(host: str) -> None:
    assert HostFilter("", "127.0.0.1").accepts(host)
    assert HostFilter("", "0.0.0.0").accepts(host)


@given(names, ports)
def test_default_refuses_every_dns_name_but_localhost(name: str, port: str) -> None:
    for listen in ("127.0.0.1", "0.0.0.0", "::", "10.1.2.3"):
        assert not HostFilter("", listen).accepts(name + port)


@given(st.ip_addresses(), ports)
def test_a_wildcard_listener_accepts_ip_literals(ip: object, port: str) -> None:
    host = f"[{ip}]" if ":" in str(ip) else str(ip)
    assert HostFilter("", "0.0.0.0").accepts(host + port)
    assert HostFilter("", "::").accepts(host + port)


def test_a_specific_listener_accepts_its_own_address_only() -> None:
    f = HostFilter("", "10.1.2.3")
    assert f.accepts("10.1.2.3:8888") and not f.accepts("10.1.2.4") and not f.accepts("10.1.2.3.evil")


def test_the_pattern_matches_the_whole_name_without_port() -> None:
    f = HostFilter(r"gateway\.example\.com|kuberay-apiserver\.ray-system\.svc", "0.0.0.0")
    assert f.accepts("gateway.example.com:443") and f.accepts("kuberay-apiserver.ray-system.svc")
    assert not f.accepts("gateway.example.com.attacker.example")  # full match, not search
    assert not f.accepts("evil-gateway.example.com")
    assert not f.accepts("10.0.0.1")  # a pattern replaces the default, IP literals included


@given(st.text(max_size=40))
def test_host_without_port_never_fails(host: str) -> None:
    assert isinstance(host_without_port(host), str)


def test_a_refused_host_is_a_403_status_on_every_path(stub: StubUpstream) -> None:
    stub.reset()
    app = create_app(Settings(upstream=stub.url, authentication="none", host="127.0.0.1"))
    with TestClient(app, base_url="http://127.0.0.1:8888") as c:
        assert c.get(RAY).status_code == 200
        r = c.get(RAY, headers={"Host": "rebind.attacker.example:8888"})
        assert r.status_code == 403
        assert r.json()["kind"] == "Status" and r.json()["reason"] == "Forbidden"
    assert len(stub.seen) == 1


def test_an_accept_hosts_that_is_no_regex_is_refused(stub: StubUpstream) -> None:
    with pytest.raises(SettingsError, match="not a regular expression"):
        create_app(Settings(upstream=stub.url, accept_hosts="(", authentication="none"))


def test_cors_credentials_only_for_listed_origins() -> None:
    assert cors_config(()) is None
    listed = cors_config(("https://ui.example",))
    assert listed is not None and listed.allow_credentials
    for wide in (("*",), ("https://ui.example", "*"), ("https://*.example",)):
        config = cors_config(wide)
        assert config is not None and not config.allow_credentials


@pytest.mark.parametrize(
    ("origins", "origin", "allow_origin", "credentials"),
    [
        (("https://ui.example",), "https://ui.example", "https://ui.example", "true"),
        (("https://ui.example",), "https://evil.example", None, None),
        (("*",), "https://evil.example", "*", None),
    ],
)
def test_cors_preflight_answers(
    stub: StubUpstream,
    origins: tuple[str, ...],
    origin: str,
    allow_origin: str | None,
    credentials: str | None,
) -> None:
    app = create_app(
        Settings(upstream=stub.url, authentication="none", accept_hosts=".*", cors_allow_origin=origins)
    )
    with TestClient(app) as c:
        r = c.options(
            RAY,
            headers={
                "Origin": origin,
                "Access-Control-Request-Method": "GET",
                "Access-Control-Request-Headers": "authorization",
            },
        )
    assert r.headers.get("access-control-allow-origin") == allow_origin
    assert r.headers.get("access-control-allow-credentials") == credentials

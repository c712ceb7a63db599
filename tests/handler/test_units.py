"""Unit tests of the gateway's pure parts: routes, retry rule, settings, credentials, headers, discovery."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
import yaml

from handler import GatewayError, retry
from handler import discovery_filter as discovery
from handler._headers import caller_response_headers, upstream_request_headers
from handler.credentials import (
    CredentialsError,
    FileToken,
    explicit,
    from_kubeconfig,
    in_cluster,
    resolve,
)
from handler.routes import match, service_name
from handler.settings import RetrySettings, Settings, SettingsError
from handler.steps import EVENTS_SELECTOR, force_field_selector, is_kuberay_service
from handler.target import RouteFamily
from kubeapi.query import Query

# -- routes -------------------------------------------------------------------------------------------


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


def test_forced_field_selector() -> None:
    from urllib.parse import parse_qsl

    q = force_field_selector(
        Query.parse("labelSelector=a%3Db&fieldSelector=reason%3DX&fieldSelector=type%3DWarning&limit=1"),
        EVENTS_SELECTOR["core"],
    )

    pairs = parse_qsl(q)
    assert ("labelSelector", "a=b") in pairs and ("limit", "1") in pairs
    assert [v for k, v in pairs if k == "fieldSelector"] == [
        "reason=X,type=Warning,involvedObject.apiVersion=ray.io/v1"
    ]
    assert parse_qsl(force_field_selector(Query.parse(""), EVENTS_SELECTOR["events.k8s.io"])) == [
        ("fieldSelector", "regarding.apiVersion=ray.io/v1")
    ]


def test_kuberay_service_label() -> None:
    assert is_kuberay_service({"metadata": {"labels": {"app.kubernetes.io/name": "kuberay"}}})
    assert not is_kuberay_service({"metadata": {"labels": {"app.kubernetes.io/name": "other"}}})
    assert not is_kuberay_service({"metadata": {}})


# -- retry rule ---------------------------------------------------------------------------------------

POLICY = RetrySettings()


@pytest.mark.parametrize("status", [408, 429, 500, 502, 503, 504])
def test_safe_methods_retry_on_every_transient_status(status: int) -> None:
    assert retry.may_retry_status("GET", status, POLICY) and retry.may_retry_status("HEAD", status, POLICY)


@pytest.mark.parametrize("method", ["POST", "PUT", "PATCH", "DELETE"])
def test_writes_retry_only_on_429(method: str) -> None:
    assert retry.may_retry_status(method, 429, POLICY)
    assert not any(retry.may_retry_status(method, s, POLICY) for s in (408, 500, 502, 503, 504))
    assert retry.may_retry_error(method, before_send=True)
    assert not retry.may_retry_error(method, before_send=False)


@pytest.mark.parametrize("status", [200, 201, 400, 401, 403, 404, 409, 410, 422, 501])
def test_no_retry_on_other_statuses(status: int) -> None:
    assert not retry.may_retry_status("GET", status, POLICY)


def test_backoff_is_500ms_doubling_capped_at_10s() -> None:
    assert [retry.backoff(i, POLICY) for i in range(7)] == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


def test_next_delay_respects_count_and_overall_timeout() -> None:
    assert retry.next_delay(0, POLICY, started=100.0, retry_after=None, clock=100.0) == 0.5
    assert retry.next_delay(2, POLICY, started=100.0, retry_after=None, clock=100.0) == 2.0
    assert retry.next_delay(3, POLICY, started=100.0, retry_after=None, clock=100.0) is None  # 3 retries
    assert retry.next_delay(0, POLICY, started=100.0, retry_after=7.0, clock=100.0) == 7.0
    assert retry.next_delay(0, POLICY, started=100.0, retry_after=None, clock=129.8) is None  # past 30 s
    assert retry.next_delay(1, POLICY, started=100.0, retry_after=31.0, clock=100.0) is None


def test_parse_retry_after() -> None:
    assert retry.parse_retry_after("3") == 3.0
    assert retry.parse_retry_after(None) is None
    assert retry.parse_retry_after("soon") is None
    now = 1_700_000_000.0
    date = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(now + 5))
    assert retry.parse_retry_after(date, now=now) == pytest.approx(5.0)
    past = time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(now - 50))
    assert retry.parse_retry_after(past, now=now) == 0.0


# -- settings -----------------------------------------------------------------------------------------


def test_settings_from_env_and_back() -> None:
    env = {
        "KUBERAY_APISERVER_PORT": "9999",
        "KUBERAY_APISERVER_UPSTREAM": "https://k8s:6443",
        "KUBERAY_APISERVER_IN_CLUSTER": "true",
        "KUBERAY_APISERVER_CORS_ALLOW_ORIGIN": "http://a, http://b",
        "KUBERAY_APISERVER_RETRY_RETRIES": "5",
        "KUBERAY_APISERVER_RETRY_STATUSES": "503,429",
        "KUBERAY_APISERVER_RETRY_BASE_DELAY": "0.25",
    }
    s = Settings.from_env(env)
    assert s.port == 9999 and s.upstream == "https://k8s:6443" and s.in_cluster is True
    assert s.cors_allow_origin == ("http://a", "http://b")
    assert s.retry == RetrySettings(retries=5, base_delay=0.25, statuses=frozenset({429, 503}))
    assert Settings.from_env(s.to_env()) == s
    assert Settings.from_env({}) == Settings()


@pytest.mark.parametrize(
    ("var", "value"), [("PORT", "eighty"), ("IN_CLUSTER", "maybe"), ("RETRY_RETRIES", "x")]
)
def test_bad_settings_name_the_variable(var: str, value: str) -> None:
    with pytest.raises(SettingsError, match=f"KUBERAY_APISERVER_{var}"):
        Settings.from_env({f"KUBERAY_APISERVER_{var}": value})


# -- credentials --------------------------------------------------------------------------------------


def test_file_token_is_reread_when_rotated(tmp_path: Path) -> None:
    f = tmp_path / "token"
    f.write_text("one\n")
    token = FileToken(f, check_interval=0)
    assert token.token() == "one"
    f.write_text("two-rotated\n")
    assert token.token() == "two-rotated"
    f.unlink()  # mid-rotation: keep the last token
    assert token.token() == "two-rotated"


def test_explicit_credentials(tmp_path: Path) -> None:
    (tmp_path / "t").write_text("tok")
    (tmp_path / "ca").write_bytes(b"PEM")
    c = explicit("https://k8s:6443/", str(tmp_path / "t"), str(tmp_path / "ca"))
    assert c.url == "https://k8s:6443" and c.token.token() == "tok" and c.ca_pem == b"PEM"
    with pytest.raises(CredentialsError):
        explicit("https://k8s", str(tmp_path / "missing"), None)


def test_in_cluster_credentials(tmp_path: Path) -> None:
    (tmp_path / "token").write_text("sa-token")
    (tmp_path / "ca.crt").write_bytes(b"CA")
    env = {"KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "443"}
    c = in_cluster(env, tmp_path)
    assert c.url == "https://10.0.0.1:443" and c.token.token() == "sa-token" and c.ca_pem == b"CA"
    assert in_cluster({**env, "KUBERNETES_SERVICE_HOST": "fd00::1"}, tmp_path).url == "https://[fd00::1]:443"
    with pytest.raises(CredentialsError, match="KUBERNETES_SERVICE_HOST"):
        in_cluster({}, tmp_path)


def _kubeconfig(tmp_path: Path, user: dict[str, object], cluster: dict[str, object]) -> Path:
    cfg = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "c1", "cluster": {"server": "https://one:6443", **cluster}},
            {"name": "c2", "cluster": {"server": "https://two:6443", "insecure-skip-tls-verify": True}},
        ],
        "users": [{"name": "u1", "user": user}, {"name": "u2", "user": {"token": "second"}}],
        "contexts": [
            {"name": "one", "context": {"cluster": "c1", "user": "u1"}},
            {"name": "two", "context": {"cluster": "c2", "user": "u2"}},
        ],
        "current-context": "one",
    }
    path = tmp_path / "kubeconfig"
    path.write_text(yaml.safe_dump(cfg))
    return path


def test_kubeconfig_token_ca_and_named_context(tmp_path: Path) -> None:
    import base64

    ca = b"-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"
    path = _kubeconfig(
        tmp_path, {"token": "first"}, {"certificate-authority-data": base64.b64encode(ca).decode()}
    )
    c = from_kubeconfig(str(path), None)
    assert c.url == "https://one:6443" and c.token.token() == "first" and c.ca_pem == ca and not c.insecure
    c2 = from_kubeconfig(str(path), "two")
    assert c2.url == "https://two:6443" and c2.token.token() == "second" and c2.insecure
    s = Settings(kubeconfig=str(path), context="two")
    assert resolve(s).url == "https://two:6443"
    assert resolve(Settings(upstream="http://x:1", kubeconfig=str(path))).url == "http://x:1"


def test_kubeconfig_client_certificate(tmp_path: Path) -> None:
    (tmp_path / "crt").write_bytes(b"CERT")
    (tmp_path / "key").write_bytes(b"KEY")
    user = {"client-certificate": str(tmp_path / "crt"), "client-key": str(tmp_path / "key")}
    c = from_kubeconfig(str(_kubeconfig(tmp_path, user, {})), None)
    assert c.identity_pem == b"CERT\nKEY" and c.token.token() is None


def test_bad_kubeconfig_is_a_credentials_error(tmp_path: Path) -> None:
    with pytest.raises(CredentialsError):
        from_kubeconfig(str(tmp_path / "missing"), None)
    with pytest.raises(CredentialsError):
        from_kubeconfig(str(_kubeconfig(tmp_path, {"token": "x"}, {})), "no-such-context")


def test_cold_start_imports_neither_kubernetes_nor_fakekube() -> None:
    """handler.app with an explicit upstream must not import the kubernetes package (~470 ms)."""
    code = (
        "import sys, handler.app; "
        "roots = ('kubernetes', 'fakekube', 'httpx', 'websockets'); "
        "print(json.dumps(sorted(m for m in sys.modules if m.split('.')[0] in roots)))"
    )
    out = subprocess.run(
        [sys.executable, "-c", "import json; " + code],
        env={**os.environ, "KUBERAY_APISERVER_UPSTREAM": "http://127.0.0.1:1"},
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout
    assert json.loads(out) == []


# -- headers, discovery, errors ----------------------------------------------------------------------


def test_request_header_filtering() -> None:
    raw = [
        (b"authorization", b"Bearer x"),
        (b"host", b"gw"),
        (b"connection", b"close, x-hop"),
        (b"x-hop", b"1"),
        (b"transfer-encoding", b"chunked"),
        (b"upgrade", b"h2c"),
        (b"impersonate-group", b"system:masters"),
        (b"accept", b"application/json"),
        (b"content-type", b"application/yaml"),
        (b"content-length", b"3"),
    ]
    assert upstream_request_headers(raw) == [
        ("accept", "application/json"),
        ("content-type", "application/yaml"),
    ]


def test_response_header_filtering_keeps_encoding_and_length() -> None:
    out = caller_response_headers(
        [
            ("Content-Encoding", "gzip"),
            ("Content-Length", "10"),
            ("Transfer-Encoding", "chunked"),
            ("Connection", "keep-alive"),
            ("Keep-Alive", "timeout=5"),
            ("Warning", '299 - "x"'),
        ]
    )
    assert out == [(b"content-encoding", b"gzip"), (b"content-length", b"10"), (b"warning", b'299 - "x"')]


def test_openapi_v3_filter_and_allowed_paths() -> None:
    doc = {
        "paths": {
            k: {"serverRelativeURL": "/openapi/v3/" + k}
            for k in ("api/v1", "apis/ray.io/v1", "apis/apps/v1", "apis/events.k8s.io/v1", "version")
        }
    }
    keep = discovery.filter_for("/openapi/v3")
    assert keep is not None
    assert sorted(keep(doc)["paths"]) == ["api/v1", "apis/events.k8s.io/v1", "apis/ray.io/v1", "version"]
    assert discovery.allowed("/openapi/v3/apis/ray.io/v1") and not discovery.allowed(
        "/openapi/v3/apis/apps/v1"
    )
    assert discovery.filter_for("/apis/ray.io/v1") is None  # passed through unchanged


def test_resolve_order(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """explicit URL, --in-cluster, --kubeconfig, $KUBECONFIG, service account, ~/.kube/config."""
    import handler.credentials as creds

    sa = tmp_path / "sa"
    sa.mkdir()
    (sa / "token").write_text("sa-token")
    monkeypatch.setattr(creds, "SERVICE_ACCOUNT_DIR", sa)
    monkeypatch.setattr(creds.in_cluster, "__defaults__", (None, sa))
    flag = _kubeconfig(
        tmp_path / "flag" if (tmp_path / "flag").mkdir() is None else tmp_path, {"token": "f"}, {}
    )
    home = tmp_path / "home"
    (home / ".kube").mkdir(parents=True)
    (home / ".kube" / "config").write_text(flag.read_text().replace("https://one:6443", "https://home:6443"))
    env_cfg = tmp_path / "envcfg"
    env_cfg.write_text(flag.read_text().replace("https://one:6443", "https://env:6443"))
    pod = {"KUBERNETES_SERVICE_HOST": "10.0.0.1", "KUBERNETES_SERVICE_PORT": "443"}

    assert resolve(Settings(upstream="http://u:1", in_cluster=True), pod, home).url == "http://u:1"
    assert resolve(Settings(in_cluster=True, kubeconfig=str(flag)), pod, home).url == "https://10.0.0.1:443"
    assert (
        resolve(Settings(kubeconfig=str(flag)), {**pod, "KUBECONFIG": str(env_cfg)}, home).url
        == "https://one:6443"
    )
    assert resolve(Settings(), {**pod, "KUBECONFIG": str(env_cfg)}, home).url == "https://env:6443"
    assert resolve(Settings(), pod, home).url == "https://10.0.0.1:443"
    assert resolve(Settings(), {}, home).url == "https://home:6443"
    with pytest.raises(CredentialsError):
        resolve(Settings(), {}, tmp_path / "nobody")

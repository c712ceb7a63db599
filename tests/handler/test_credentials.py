"""``handler.credentials``: where the gateway's upstream URL and credentials come from (explicit flags,
in-cluster service account, kubeconfig) and in which order they are tried; tokens re-read on rotation."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from handler.credentials import (
    CredentialsError,
    FileToken,
    explicit,
    from_kubeconfig,
    in_cluster,
    resolve,
)
from handler.settings import Settings


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

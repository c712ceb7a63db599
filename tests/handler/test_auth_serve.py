"""``kuberay-apiserver serve`` defaults against the attacks of issue 12, and the CLI's identity rules.

The attacks, tried with no credentials through a gateway started with nothing but ``--upstream``
(and a port) in front of fakekube: each was answered 201/200 by the gateway before issue 12 and is
401 now, and the upstream's state shows that nothing happened.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator

import httpx
import pytest

from fakekube.strategies import raycluster
from handler.cli import IDENTITY_OPTIONS, refuse_unauthenticated
from handler.settings import Settings
from tests.procs import BIN, free_port, start_server, stop_server

HOSTILE_CLUSTER = {
    "apiVersion": "ray.io/v1",
    "kind": "RayCluster",
    "metadata": {"name": "pwn"},
    "spec": {
        "headGroupSpec": {
            "rayStartParams": {},
            "template": {
                "spec": {
                    "hostNetwork": True,
                    "hostPID": True,
                    "serviceAccountName": "cluster-admin-sa",
                    "containers": [
                        {
                            "name": "ray-head",
                            "image": "rayproject/ray:2.52.0",
                            "volumeMounts": [{"name": "root", "mountPath": "/host"}],
                        }
                    ],
                    "volumes": [{"name": "root", "hostPath": {"path": "/"}}],
                }
            },
        }
    },
}
AWS_AUTH = {
    "apiVersion": "v1",
    "kind": "ConfigMap",
    "metadata": {
        "name": "aws-auth",
        "labels": {"ray.io/config-type": "compute-template", "ray.io/compute-template": "aws-auth"},
    },
    "data": {
        "name": "aws-auth",
        "namespace": "kube-system",
        "cpu": "1",
        "memory": "1",
        "mapRoles": "- rolearn: arn:aws:iam::1:role/x\n  username: x\n  groups: [system:masters]\n",
    },
}


@pytest.fixture(scope="module")
def default_gateway(fakekube_url: str) -> Iterator[str]:
    """``kuberay-apiserver serve --port P --upstream <fakekube>``: every other setting its default."""
    port = free_port()
    proc = start_server(["kuberay-apiserver", "serve", "--port", str(port), "--upstream", fakekube_url], port)
    yield f"http://127.0.0.1:{port}"
    stop_server(proc)


def assert_unauthorized(r: httpx.Response) -> None:
    assert r.status_code == 401, r.text
    assert r.json()["kind"] == "Status" and r.json()["reason"] == "Unauthorized"


def test_no_credentials_cannot_create_a_host_network_raycluster_in_kube_system(
    default_gateway: str, fakekube_url: str
) -> None:
    path = "/apis/ray.io/v1/namespaces/kube-system/rayclusters"
    assert_unauthorized(httpx.post(default_gateway + path, json=HOSTILE_CLUSTER))
    assert httpx.get(fakekube_url + path + "/pwn").status_code == 404


def test_no_credentials_cannot_delete_a_namespaces_rayclusters(
    default_gateway: str, fakekube_url: str, namespace: str
) -> None:
    path = f"/apis/ray.io/v1/namespaces/{namespace}/rayclusters"
    for name in ("a", "b"):
        httpx.post(fakekube_url + path, json=raycluster(name)).raise_for_status()
    assert_unauthorized(httpx.delete(default_gateway + path))
    assert [i["metadata"]["name"] for i in httpx.get(fakekube_url + path).json()["items"]] == ["a", "b"]


def test_no_credentials_cannot_write_aws_auth_through_either_template_api(
    default_gateway: str, fakekube_url: str
) -> None:
    cms = "/api/v1/namespaces/kube-system/configmaps"
    assert_unauthorized(httpx.post(default_gateway + cms, json=AWS_AUTH))
    assert_unauthorized(httpx.put(default_gateway + cms + "/aws-auth", json=AWS_AUTH))
    v1 = {"name": "aws-auth", "namespace": "kube-system", "cpu": 1, "memory": 1}
    assert_unauthorized(
        httpx.post(default_gateway + "/apis/v1/namespaces/kube-system/compute_templates", json=v1)
    )
    assert httpx.get(fakekube_url + cms + "/aws-auth").status_code == 404


def test_no_credentials_learn_nothing_not_even_which_paths_exist(default_gateway: str) -> None:
    for path in ("/api/v1/secrets", "/apis", "/version", "/apis/ray.io/v1/rayclusters"):
        assert_unauthorized(httpx.get(default_gateway + path))
    assert httpx.get(default_gateway + "/healthz").status_code == 200  # probes stay open


def test_a_dns_rebinding_host_is_refused(default_gateway: str) -> None:
    r = httpx.get(default_gateway + "/apis/ray.io/v1/rayclusters", headers={"Host": "attacker.example:8888"})
    assert r.status_code == 403 and r.json()["reason"] == "Forbidden"
    assert "attacker.example" in r.json()["message"]


def test_serve_refuses_none_on_a_non_loopback_address_in_one_line() -> None:
    out = subprocess.run(
        [
            str(BIN / "kuberay-apiserver"),
            "serve",
            "--authentication",
            "none",
            "--upstream",
            "http://127.0.0.1:9",
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode == 2
    assert out.stderr.count("\n") == 1 and "--allow-unauthenticated" in out.stderr
    assert "0.0.0.0" in out.stderr


def test_refusal_rules() -> None:
    assert refuse_unauthenticated(Settings(authentication="none", host="10.0.0.5")) is not None
    assert refuse_unauthenticated(Settings(authentication="none", host="::")) is not None
    assert refuse_unauthenticated(Settings(authentication="none", host="127.0.0.1")) is None
    assert refuse_unauthenticated(Settings(authentication="none", host="::1")) is None
    assert refuse_unauthenticated(Settings(authentication="none", host="localhost")) is None
    assert refuse_unauthenticated(Settings(authentication="none", allow_unauthenticated=True)) is None
    assert refuse_unauthenticated(Settings(authentication="passthrough", host="0.0.0.0")) is None


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--authentication", "basic"], "'basic' is not a mode"),
        (["--accept-hosts", "("], "is not a regular expression"),
    ],
)
def test_bad_identity_settings_stop_the_start(args: list[str], message: str) -> None:
    out = subprocess.run(
        [str(BIN / "kuberay-apiserver"), "serve", "--upstream", "http://127.0.0.1:9", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert out.returncode != 0 and message in out.stderr


def test_every_identity_setting_has_a_flag_and_a_variable() -> None:
    out = subprocess.run(
        [str(BIN / "kuberay-apiserver"), "serve", "--help"], capture_output=True, text=True, timeout=60
    )
    for name in IDENTITY_OPTIONS:
        assert "--" + name.replace("_", "-") in out.stdout
        assert hasattr(Settings(), name)
    env = Settings.from_env(
        {"KUBERAY_APISERVER_AUTHENTICATION": "token-review", "KUBERAY_APISERVER_TOKEN_AUDIENCE": "gw"}
    )
    assert (env.authentication, env.token_audience) == ("token-review", "gw")

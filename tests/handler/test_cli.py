"""``kuberay-apiserver serve``: credentials from a kubeconfig or the environment, JSON logs, bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import httpx
import yaml

from tests.handler.gateway_stub import StubUpstream
from tests.procs import free_port, start_server, stop_server

BIN = Path(sys.executable).parent
LIST = "/apis/ray.io/v1/namespaces/default/rayclusters"


def test_kubeconfig_context_credentials_end_to_end(stub: StubUpstream, tmp_path: Path) -> None:
    kubeconfig = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [
            {"name": "stub", "cluster": {"server": stub.url}},
            {"name": "elsewhere", "cluster": {"server": "http://127.0.0.1:1"}},
        ],
        "users": [{"name": "dev", "user": {"token": "kubeconfig-token"}}],
        "contexts": [
            {"name": "stub-ctx", "context": {"cluster": "stub", "user": "dev"}},
            {"name": "other", "context": {"cluster": "elsewhere", "user": "dev"}},
        ],
        "current-context": "other",
    }
    path = tmp_path / "config"
    path.write_text(yaml.safe_dump(kubeconfig))
    port = free_port()
    proc = start_server(
        [
            "kuberay-apiserver",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--kubeconfig",
            str(path),
            "--context",
            "stub-ctx",
            "--authentication",
            "none",
        ],
        port,
    )
    try:
        stub.reset()
        r = httpx.get(f"http://127.0.0.1:{port}{LIST}", headers={"Authorization": "Bearer caller"})
        assert r.status_code == 200
        assert stub.seen[-1].headers["authorization"] == "Bearer kubeconfig-token"
    finally:
        stop_server(proc)


def test_settings_from_environment_and_json_logs(stub: StubUpstream) -> None:
    port = free_port()
    env = {
        "KUBERAY_APISERVER_UPSTREAM": stub.url,
        "KUBERAY_APISERVER_HOST": "127.0.0.1",
        "KUBERAY_APISERVER_PORT": str(port),
        "KUBERAY_APISERVER_LOG_JSON": "true",
        "KUBERAY_APISERVER_RETRY_BASE_DELAY": "0.01",
        "KUBERAY_APISERVER_AUTHENTICATION": "none",
    }
    proc = start_server(["kuberay-apiserver", "serve"], port, env=env)
    try:
        stub.reset()
        assert httpx.get(f"http://127.0.0.1:{port}{LIST}").status_code == 200
        assert stub.seen[-1].method == "GET"
    finally:
        stop_server(proc)
    assert proc.stdout is not None
    lines = [line for line in proc.stdout.read().decode().splitlines() if line.strip()]
    records = [json.loads(line) for line in lines]
    assert records and all({"time", "level", "logger", "message"} <= set(r) for r in records)


def test_unreadable_credentials_stop_the_server_with_a_message(tmp_path: Path) -> None:
    out = subprocess.run(
        [
            str(BIN / "kuberay-apiserver"),
            "serve",
            "--upstream",
            "https://k8s:6443",
            "--token-file",
            str(tmp_path / "missing"),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert out.returncode != 0
    assert "cannot read token file" in out.stderr


def test_bad_environment_value_is_reported() -> None:
    out = subprocess.run(
        [str(BIN / "kuberay-apiserver"), "serve"],
        capture_output=True,
        text=True,
        timeout=30,
        env={"KUBERAY_APISERVER_PORT": "eighty", "PATH": "/usr/bin:/bin"},
    )
    assert out.returncode != 0 and "KUBERAY_APISERVER_PORT" in out.stderr


def test_metrics_are_summed_over_workers(stub: StubUpstream) -> None:
    port = free_port()
    proc = start_server(
        [
            "kuberay-apiserver",
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--workers",
            "2",
            "--upstream",
            stub.url,
            "--authentication",
            "none",
        ],
        port,
    )
    try:
        base = f"http://127.0.0.1:{port}"
        for _ in range(20):
            with httpx.Client() as c:  # a new connection each time, so both workers get some
                assert c.get(base + LIST).status_code == 200
        line = 'kuberay_apiserver_requests_total{code="200",method="GET",route="ray"}'
        for _ in range(4):
            with httpx.Client() as c:
                text = c.get(base + "/metrics").text
            values = [float(x.split()[-1]) for x in text.splitlines() if x.startswith(line)]
            assert values == [20.0]
    finally:
        stop_server(proc)

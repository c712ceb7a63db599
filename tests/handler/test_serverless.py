"""Serverless entry points (handler/serverless.py, infra/cloudrun/functions, infra/lambda).

functions-framework (Cloud Run functions) is run for real in its ASGI mode (``--asgi``) with the
gateway as the HTTP function, in front of fakekube: a create, a list, and a watch that streams its
event and ends cleanly at ``--max-watch-seconds``. The Lambda Web Adapter is a binary that cannot
run here: the SAM template's environment is parsed as the gateway would parse it, and the gateway
is served with exactly that environment (what the adapter starts and relays to), its readiness path
answered and a watch streamed in chunks.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
import yaml

from handler.settings import Settings
from tests.procs import BIN, free_port, stop_server, wait_healthy

ROOT = Path(__file__).resolve().parents[2]
CLUSTER = {
    "apiVersion": "ray.io/v1",
    "kind": "RayCluster",
    "metadata": {"name": "fn"},
    "spec": {
        "headGroupSpec": {
            "rayStartParams": {},
            "template": {"spec": {"containers": [{"name": "ray-head", "image": "rayproject/ray:2.52.0"}]}},
        }
    },
}


def _watch_ends_with_event(url: str) -> None:
    t0 = time.monotonic()
    with httpx.stream("GET", url + "?watch=1", timeout=30) as r:
        assert r.status_code == 200
        lines = [json.loads(x) for x in r.iter_lines() if x]  # raises on a cut chunked body
    assert [e["type"] for e in lines] == ["ADDED"] and lines[0]["object"]["metadata"]["name"] == "fn"
    assert 0.8 < time.monotonic() - t0 < 15


def test_functions_framework_asgi_mode(fakekube_url: str, namespace: str) -> None:
    """functions-framework --asgi --target gateway serves the gateway: create 201, list 200, watch
    streamed and ended by the cap."""
    port = free_port()
    proc = subprocess.Popen(
        [
            str(BIN / "functions-framework"),
            "--asgi",
            "--signature-type",
            "http",
            "--source",
            str(ROOT / "infra/cloudrun/functions/main.py"),
            "--target",
            "gateway",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={
            **os.environ,
            "KUBERAY_APISERVER_UPSTREAM": fakekube_url,
            "KUBERAY_APISERVER_AUTHENTICATION": "none",
            "KUBERAY_APISERVER_HOST": "127.0.0.1",
            "KUBERAY_APISERVER_MAX_WATCH_SECONDS": "1",
        },
    )
    try:
        wait_healthy(f"http://127.0.0.1:{port}", proc, timeout=60)
        api = f"http://127.0.0.1:{port}/apis/ray.io/v1/namespaces/{namespace}/rayclusters"
        assert httpx.post(api, json=CLUSTER, timeout=30).status_code == 201
        listed = httpx.get(api, timeout=30)
        assert listed.status_code == 200 and [i["metadata"]["name"] for i in listed.json()["items"]] == ["fn"]
        _watch_ends_with_event(api)
    finally:
        stop_server(proc)


def _lambda_env() -> dict[str, Any]:
    doc = yaml.load((ROOT / "infra/lambda/template.yaml").read_text(), Loader=yaml.BaseLoader)
    return dict(doc["Resources"]["Gateway"]["Properties"]["Environment"]["Variables"])


def test_lambda_template_is_consistent() -> None:
    """The adapter's port is the gateway's, readiness is /livez (no upstream call), response
    streaming is on, and watches end before the function Timeout."""
    doc = yaml.load((ROOT / "infra/lambda/template.yaml").read_text(), Loader=yaml.BaseLoader)
    props = doc["Resources"]["Gateway"]["Properties"]
    env = _lambda_env()
    s = Settings.from_env(env)
    assert env["AWS_LWA_PORT"] == str(s.port)
    assert (
        env["AWS_LWA_INVOKE_MODE"] == "response_stream"
        and props["FunctionUrlConfig"]["InvokeMode"] == "RESPONSE_STREAM"
    )
    assert 0 < s.max_watch_seconds < int(props["Timeout"]) <= 900
    assert env["AWS_LWA_READINESS_CHECK_PATH"] == "/livez"


def test_gateway_under_the_lambda_environment(fakekube_url: str, namespace: str) -> None:
    """``kuberay-apiserver serve`` with the template's environment (upstream pointed at fakekube,
    passthrough kept: fakekube accepts any token here), as the adapter would start it: the
    readiness path answers and a watch arrives in chunks and ends at the cap."""
    port = free_port()
    env = {
        **_lambda_env(),
        "KUBERAY_APISERVER_UPSTREAM": fakekube_url,
        "KUBERAY_APISERVER_CA_FILE": "",
        "KUBERAY_APISERVER_PORT": str(port),
        "AWS_LWA_PORT": str(port),
        "KUBERAY_APISERVER_MAX_WATCH_SECONDS": "1",
        "KUBERAY_APISERVER_HOST": "127.0.0.1",
        "KUBERAY_APISERVER_ACCEPT_HOSTS": "",
        "KUBERAY_APISERVER_AUTHENTICATION": "none",
    }
    proc = subprocess.Popen(
        [str(BIN / "kuberay-apiserver"), "serve"],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        env={**os.environ, **env},
    )
    try:
        wait_healthy(f"http://127.0.0.1:{port}", proc, timeout=60)
        url = f"http://127.0.0.1:{port}"
        assert httpx.get(url + env["AWS_LWA_READINESS_CHECK_PATH"], timeout=10).status_code == 200
        api = f"{url}/apis/ray.io/v1/namespaces/{namespace}/rayclusters"
        assert httpx.post(api, json=CLUSTER, timeout=30).status_code == 201
        _watch_ends_with_event(api)
    finally:
        stop_server(proc)

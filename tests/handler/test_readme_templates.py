"""The README's compute template, default values, field selector and object hook examples, run as written
(only the gateway URL and the namespace are substituted)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

from litestar.testing import TestClient

from tests.handler.gateway_stub import StubUpstream
from tests.procs import free_port, start_server, stop_server

REPO = Path(__file__).resolve().parents[2]
README = REPO / "README.md"


def section_blocks(heading: str, lang: str) -> list[str]:
    """Every fenced ``lang`` block in the README section ``## heading`` (up to the next ``## ``)."""
    text = README.read_text()
    start = text.index(f"## {heading}\n")
    end = text.find("\n## ", start + 1)
    return re.findall(rf"```{lang}\n(.*?)```", text[start : end if end > 0 else None], re.S)


def run_sh(script: str, gateway: str, namespace: str) -> list[Any]:
    """Run a README shell block against ``gateway`` in ``namespace``; the JSON documents it printed."""
    script = script.replace("GW=http://127.0.0.1:31888", f"GW={gateway}").replace(
        "NS=default", f"NS={namespace}"
    )
    out = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script], capture_output=True, text=True, timeout=60, cwd=REPO
    )
    assert out.returncode == 0, out.stderr
    decoder = json.JSONDecoder()
    docs: list[Any] = []
    text, i = out.stdout, 0
    while True:
        while i < len(text) and text[i].isspace():
            i += 1
        if i >= len(text):
            return docs
        doc, i = decoder.raw_decode(text, i)
        docs.append(doc)


def test_readme_compute_templates_and_selectors(gateway_url: str, namespace: str) -> None:
    (script,) = section_blocks("Compute templates", "sh")
    docs = run_sh(script, gateway_url, namespace)
    cm, v1, cluster, unknown, v1_list, cm_list, patched, ready, failed, *rest = docs
    watch_events, deletes = rest[:-3], rest[-3:]
    assert cm["kind"] == "ConfigMap" and cm["metadata"]["name"] == "gpu-small"
    assert v1 == {"name": "cpu-small", "namespace": namespace, "cpu": 2, "memory": 4, "memoryUnit": "Gi"}
    head = cluster["spec"]["headGroupSpec"]
    worker = cluster["spec"]["workerGroupSpecs"][0]
    assert head["template"]["spec"]["containers"][0]["resources"]["limits"] == {"cpu": "2", "memory": "4Gi"}
    assert worker["template"]["spec"]["containers"][0]["resources"]["limits"] == {
        "cpu": "4",
        "memory": "16Gi",
        "nvidia.com/gpu": "1",
    }
    assert worker["template"]["spec"]["tolerations"][0]["key"] == "nvidia.com/gpu"
    assert "computeTemplate" not in head and "computeTemplate" not in worker
    assert unknown["kind"] == "Status" and unknown["code"] == 422 and '"huge"' in unknown["message"]
    assert "head group" in unknown["message"]
    assert sorted(t["name"] for t in v1_list["computeTemplates"]) == ["cpu-small", "gpu-small"]
    assert sorted(i["metadata"]["name"] for i in cm_list["items"]) == ["cpu-small", "gpu-small"]
    assert patched["status"]["state"] == "ready"
    assert [i["metadata"]["name"] for i in ready["items"]] == ["templated"]
    assert failed["items"] == []
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in watch_events] == [("ADDED", "templated")]
    assert deletes[1] == {}


def test_readme_default_values() -> None:
    command, script = section_blocks("Default values", "sh")
    argv = command.split()
    assert argv[:2] == [".venv/bin/kuberay-apiserver", "dev"] and argv[-2:] == [
        "--defaults",
        "examples/defaults.yaml",
    ]
    port = free_port()
    # The documented command itself (a fresh fakekube inside), with an absolute path and a free port.
    proc = start_server(
        ["kuberay-apiserver", "dev", "--port", str(port), "--defaults", str(REPO / argv[-1])], port
    )
    try:
        created, _deleted = run_sh(script, f"http://127.0.0.1:{port}", "default")
    finally:
        stop_server(proc)
    assert created["metadata"]["labels"] == {"example.com/managed-by": "kuberay-apiserver"}
    spec = created["spec"]
    assert spec["rayVersion"] == "2.52.0" and spec["enableInTreeAutoscaling"] is True
    head = spec["headGroupSpec"]["template"]["spec"]["containers"][0]
    worker = spec["workerGroupSpecs"][0]["template"]["spec"]["containers"][0]
    assert head["image"] == "rayproject/ray:2.52.0" and head["resources"]["requests"] == {
        "cpu": "1",
        "memory": "2Gi",
    }
    assert worker["image"] == "my-registry/ray:custom"  # the caller's value wins
    assert worker["resources"]["requests"] == {"cpu": "1", "memory": "1Gi"}


def test_readme_object_hook_example(stub: StubUpstream) -> None:
    (code,) = section_blocks("Object hooks", "python")
    code = code.replace(
        'Settings(upstream="https://my-apiserver:6443", token_file="/run/token")',
        f'Settings(authentication="none", accept_hosts=".*", upstream="{stub.url}")',
    )
    namespace: dict[str, Any] = {}
    exec(compile(code, "README.md", "exec"), namespace)
    stub.reset()
    base = "/apis/ray.io/v1/namespaces/default/rayclusters"
    with TestClient(namespace["app"]) as c:
        r = c.post(base, json={"metadata": {"name": "x"}, "spec": {}})
        assert r.status_code == 422 and r.json()["details"]["causes"][0]["field"] == "spec.rayVersion"
        assert (
            c.post(base, json={"metadata": {"name": "y"}, "spec": {"rayVersion": "2.52.0"}}).status_code
            == 200
        )
    assert [s.method for s in stub.seen] == ["POST"]

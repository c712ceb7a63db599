"""refkube's own contract: the kubeconfig it writes works with real clients, the CRDs it was
given are Established, and it reports the Kubernetes release it was built from."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from kubernetes import client, config

from tests.contract.client import RefKube

KUBECTL = Path(sys.executable).parent / "kubectl"


def test_kubectl_with_refkube_kubeconfig(refkube: RefKube) -> None:
    run = [str(KUBECTL), "--kubeconfig", str(refkube.kubeconfig)]
    out = subprocess.run([*run, "get", "crd", "-o", "name"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert sorted(out.stdout.split()) == [
        f"customresourcedefinition.apiextensions.k8s.io/{p}.ray.io"
        for p in ("rayclusters", "raycronjobs", "rayjobs", "rayservices")
    ]
    version = subprocess.run([*run, "version", "-o", "json"], capture_output=True, text=True, timeout=60)
    assert version.returncode == 0, version.stderr
    assert json.loads(version.stdout)["serverVersion"]["gitVersion"] == "v1.37.2"


def test_python_client_sees_established_crds(refkube: RefKube) -> None:
    api = config.new_client_from_config(str(refkube.kubeconfig))  # type: ignore[no-untyped-call]
    crds = client.ApiextensionsV1Api(api).list_custom_resource_definition().to_dict()["items"]
    established = {
        crd["metadata"]["name"]
        for crd in crds
        if any(c["type"] == "Established" and c["status"] == "True" for c in crd["status"]["conditions"])
    }
    assert established == {f"{p}.ray.io" for p in ("rayclusters", "raycronjobs", "rayjobs", "rayservices")}

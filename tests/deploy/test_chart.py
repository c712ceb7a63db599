"""The Helm chart (infra/helm/kuberay-apiserver), linted and rendered by Helm v4 itself.

Checked here without a cluster: ``helm lint``, ``helm template`` for every authentication mode
(cluster-wide and single-namespace), the generated RBAC against :mod:`tests.deploy.needs` (rules
read as k8s.io/apiserver's RBAC ``RuleAllows`` reads them: plugin/pkg/auth/authorizer/rbac/rbac.go),
every setting of handler/settings.py present in values.yaml and in values.schema.json and the
container environment parsed back by ``Settings.from_env``, the schema refusing bad values, and the
Knative variant's timeout consistency. The same manifests go to refkube in
tests/contract/test_deploy_refkube.py.
"""

from __future__ import annotations

import json
import re
from dataclasses import fields
from typing import Any

import pytest
import yaml

from handler.settings import RetrySettings, Settings
from tests.deploy.helm import CHART, HELM_DIR, MODES, HelmError, by_kind, helm, mode_values, render
from tests.deploy.needs import Access, must_not, needs

SETTING_NAMES = {f.name for f in fields(Settings)} - {"retry", "host", "port", "in_cluster"}
SETTING_NAMES |= {"retry_" + f.name for f in fields(RetrySettings)}


def allows(rules: list[dict[str, Any]], a: Access) -> bool:
    """Whether RBAC ``rules`` allow ``a`` (rbac.go RuleAllows: group, resource[/subresource], verb;
    ``*`` matches anything)."""
    resource = f"{a.resource}/{a.subresource}" if a.subresource else a.resource
    for r in rules:
        groups, resources, verbs = r.get("apiGroups", []), r.get("resources", []), r.get("verbs", [])
        if (
            ("*" in groups or a.group in groups)
            and ("*" in resources or resource in resources)
            and ("*" in verbs or a.verb in verbs)
        ):
            return True
    return False


def granted(docs: list[dict[str, Any]], a: Access) -> bool:
    """Whether the rendered Roles/ClusterRoles bound to the chart's service account allow ``a``."""
    sa = by_kind(docs, "ServiceAccount")[0]["metadata"]
    roles = {
        (d["kind"], d["metadata"].get("namespace", ""), d["metadata"]["name"]): d
        for d in docs
        if d["kind"] in ("Role", "ClusterRole")
    }
    for b in by_kind(docs, "RoleBinding") + by_kind(docs, "ClusterRoleBinding"):
        subjects = b.get("subjects", [])
        if not any(
            s["kind"] == "ServiceAccount" and s["name"] == sa["name"] and s["namespace"] == sa["namespace"]
            for s in subjects
        ):
            continue
        scope = b["metadata"].get("namespace", "") if b["kind"] == "RoleBinding" else ""
        if scope and a.namespace != scope:
            continue
        ref = b["roleRef"]
        role = roles.get((ref["kind"], scope if ref["kind"] == "Role" else "", ref["name"]))
        if role is not None and allows(role.get("rules", []), a):
            return True
    return False


def test_helm_is_v4_from_the_pinned_module() -> None:
    """The helm binary is the Helm v4 release pinned in infra/helmbin/go.mod."""
    pinned = next(
        line.split()[-1]
        for line in (HELM_DIR / "go.mod").read_text().splitlines()
        if "helm.sh/helm/v4 " in line
    )
    assert helm("version", "--template", "{{.Version}}").strip() == pinned


@pytest.mark.parametrize("mode", MODES)
def test_helm_lint(mode: str) -> None:
    """``helm lint --strict`` passes for every mode (schema included)."""
    out = helm(
        "lint",
        "--strict",
        str(CHART),
        *[x for k, v in mode_values(mode).items() for x in ("--set", f"{k}={v}")],
    )
    assert "0 chart(s) failed" in out


@pytest.mark.parametrize("single", [False, True])
@pytest.mark.parametrize("mode", MODES)
def test_rbac_is_exactly_what_the_mode_needs(mode: str, single: bool) -> None:
    """Every right the mode needs is granted and none of the forbidden probes is; a single-namespace
    install (rbac.namespaces) gets Roles only where it serves, and no ClusterRole unless the mode
    impersonates."""
    served = ("team-a", "team-b")
    values = mode_values(mode)
    if single:
        values["rbac.namespaces"] = "{" + ",".join(served) + "}"
    docs = render(values)
    for a in needs(mode, served):
        assert granted(docs, a), (mode, a)
    for a in must_not(mode, served, "other" if single else ""):
        assert not granted(docs, a), (mode, a)
    kinds = {d["kind"] for d in docs}
    if mode == "passthrough":
        assert not kinds & {"Role", "ClusterRole", "RoleBinding", "ClusterRoleBinding"}
    if mode == "none" and single:
        assert "ClusterRole" not in kinds
        assert {d["metadata"]["namespace"] for d in by_kind(docs, "Role")} == set(served)


def _env(container: dict[str, Any]) -> dict[str, str]:
    return {e["name"]: e["value"] for e in container["env"]}


def test_every_setting_has_a_value_and_a_schema_entry() -> None:
    """values.yaml ``settings`` and values.schema.json list exactly the gateway's settings."""
    values = yaml.safe_load((CHART / "values.yaml").read_text())["settings"]
    schema = json.loads((CHART / "values.schema.json").read_text())["properties"]["settings"]["properties"]
    assert set(values) == SETTING_NAMES
    assert set(schema) == SETTING_NAMES


def test_environment_round_trips_to_settings() -> None:
    """The Deployment's env, read by Settings.from_env, is the gateway's defaults except what the
    chart sets on purpose (host, in-cluster credentials, JSON logs, the accepted Host names)."""
    docs = render()
    container = by_kind(docs, "Deployment")[0]["spec"]["template"]["spec"]["containers"][0]
    env = _env(container)
    settings = Settings.from_env(env)
    expected = Settings(
        host="0.0.0.0", in_cluster=True, log_json=True, accept_hosts=env["KUBERAY_APISERVER_ACCEPT_HOSTS"]
    )
    assert settings == expected
    assert settings.accept_hosts == r"kr-kuberay-apiserver(\.ray-system(\.svc(\.cluster\.local)?)?)?"


def test_settings_override_reaches_the_environment() -> None:
    """A value set under settings becomes its KUBERAY_APISERVER_* variable, lists joined by commas."""
    docs = render(
        {
            "settings.max_watch_seconds": "100",
            "settings.cors_allow_origin": "{https://a.example,https://b.example}",
            "settings.upstream_timeout": "3",
            "settings.watch_buffer_bytes": "16777216",
        }
    )
    env = _env(by_kind(docs, "Deployment")[0]["spec"]["template"]["spec"]["containers"][0])
    s = Settings.from_env(env)
    assert (s.max_watch_seconds, s.cors_allow_origin, s.upstream_timeout, s.watch_buffer_bytes) == (
        100,
        ("https://a.example", "https://b.example"),
        3.0,
        16777216,
    )


def test_deployment_shape() -> None:
    """Probes on /livez and /readyz, port 8888, non-root, read-only root filesystem with a /tmp
    emptyDir, spread constraints selecting the pods, a grace period covering preStop + drain."""
    docs = render()
    dep = by_kind(docs, "Deployment")[0]
    pod = dep["spec"]["template"]["spec"]
    c = pod["containers"][0]
    assert c["livenessProbe"]["httpGet"]["path"] == "/livez"
    assert c["readinessProbe"]["httpGet"]["path"] == "/readyz"
    assert c["ports"] == [{"name": "http", "containerPort": 8888, "protocol": "TCP"}]
    assert c["securityContext"]["readOnlyRootFilesystem"] is True
    assert c["securityContext"]["allowPrivilegeEscalation"] is False
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert {"name": "tmp", "mountPath": "/tmp"} in c["volumeMounts"]
    labels = dep["spec"]["selector"]["matchLabels"]
    assert all(t["labelSelector"]["matchLabels"] == labels for t in pod["topologySpreadConstraints"])
    svc = by_kind(docs, "Service")[0]
    assert svc["spec"]["type"] == "ClusterIP" and svc["spec"]["ports"][0]["port"] == 8888
    grace = float(_env(c)["KUBERAY_APISERVER_SHUTDOWN_GRACE_SECONDS"])
    # The image holds Python and nothing else (no /bin/sleep, no shell): preStop sleeps with it.
    argv = c["lifecycle"]["preStop"]["exec"]["command"]
    assert argv[:2] == ["/usr/bin/python3", "-Ic"]
    sleep = re.fullmatch(r"import time; time\.sleep\((\d+)\)", argv[2])
    assert sleep is not None, argv
    assert pod["terminationGracePeriodSeconds"] >= int(sleep[1]) + grace


def test_optional_ingress_and_service_monitor() -> None:
    """Ingress and ServiceMonitor appear only when enabled; an Ingress host is an accepted Host."""
    assert not by_kind(render(), "Ingress") and not by_kind(render(), "ServiceMonitor")
    docs = render(
        {"ingress.enabled": "true", "ingress.hosts[0]": "ray.example.com", "serviceMonitor.enabled": "true"}
    )
    ing = by_kind(docs, "Ingress")[0]
    assert ing["spec"]["rules"][0]["host"] == "ray.example.com"
    assert by_kind(docs, "ServiceMonitor")[0]["spec"]["endpoints"][0]["path"] == "/metrics"
    env = _env(by_kind(docs, "Deployment")[0]["spec"]["template"]["spec"]["containers"][0])
    assert env["KUBERAY_APISERVER_ACCEPT_HOSTS"].endswith(r"|ray\.example\.com")


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"settings.authentication": "bogus"}, "authentication"),
        ({"settings.no_such_setting": "1"}, "no_such_setting"),
        ({"settings.http1_buffer_bytes": "100"}, "http1_buffer_bytes"),
        ({"kind": "lambda"}, "kind"),
        ({"settings.authentication": "none"}, "allow_unauthenticated"),
        ({"kind": "knative", "settings.max_watch_seconds": "300"}, "max_watch_seconds"),
        ({"kind": "knative", "settings.max_watch_seconds": "0"}, "max_watch_seconds"),
        ({"terminationGracePeriodSeconds": "10"}, "terminationGracePeriodSeconds"),
    ],
)
def test_bad_values_are_refused(values: dict[str, str], message: str) -> None:
    """values.schema.json and the chart's own checks refuse what would not work, naming the value."""
    with pytest.raises(HelmError, match=message):
        render(values)


def test_knative_variant_is_consistent() -> None:
    """kind=knative renders one Knative Service (no Deployment/Service) whose watch cap is below
    its request timeout, with containerConcurrency set."""
    docs = render({"kind": "knative"})
    assert not by_kind(docs, "Deployment")
    ksvc = [d for d in docs if d["apiVersion"] == "serving.knative.dev/v1"]
    assert len(ksvc) == 1
    spec = ksvc[0]["spec"]["template"]["spec"]
    env = _env(spec["containers"][0])
    assert int(env["KUBERAY_APISERVER_MAX_WATCH_SECONDS"]) < spec["timeoutSeconds"] == 300
    assert spec["containerConcurrency"] == 1000


@pytest.mark.parametrize("path", ["infra/knative/service.yaml", "infra/cloudrun/service.yaml"])
def test_standalone_knative_manifests_are_consistent(path: str) -> None:
    """The plain Knative and Cloud Run manifests cap watches below their timeoutSeconds, set
    containerConcurrency, and give a shutdown grace shorter than the platform's kill delay
    (Cloud Run: 10 s after SIGTERM; Knative: the pod's 30 s default)."""
    doc = yaml.safe_load((CHART.parents[2] / path).read_text())
    spec = doc["spec"]["template"]["spec"]
    env = {e["name"]: e["value"] for e in spec["containers"][0]["env"]}
    settings = Settings.from_env(env)
    assert 0 < settings.max_watch_seconds < spec["timeoutSeconds"]
    assert spec["containerConcurrency"] > 0
    assert settings.shutdown_grace_seconds < (10 if "cloudrun" in path else 30)

"""``--pod-security``: each PodSecurity check on its own with the plugin's texts, the level order
properties over generated pods, hostile input, and the pod templates found in each Ray kind."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from handler import pod_security
from handler.pod_security import check_pod, evaluate, forbidden_detail, pod_templates
from tests.handler.pss_cases import CASES, GOOD_POD, changed, valid_pods


@pytest.mark.parametrize("level", ["privileged", "baseline", "restricted"])
def test_the_good_pod_is_admitted_at_every_level(level: str) -> None:
    assert check_pod(level, {}, copy.deepcopy(GOOD_POD)) == []


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_check_alone(name: str) -> None:
    meta, spec = changed(name)
    _, first_level, reason, detail = CASES[name]
    found = check_pod(first_level, meta, spec)
    assert [(v.reason, v.detail) for v in found] == [(reason, detail)]
    assert check_pod("privileged", meta, spec) == []
    if first_level == "restricted":
        assert check_pod("baseline", meta, spec) == []
    else:
        # Restricted refuses it too (under its own check where one overrides the baseline one).
        assert check_pod("restricted", meta, spec)


def test_restricted_overrides_are_worded_as_the_restricted_checks() -> None:
    meta, spec = changed("hostPath")
    assert forbidden_detail(check_pod("restricted", meta, spec)) == (
        'restricted volume types (volume "root" uses restricted volume type "hostPath")'
    )
    meta, spec = changed("capabilities")
    assert forbidden_detail(check_pod("restricted", meta, spec)) == (
        'unrestricted capabilities (container "ray-head" must not include "CHOWN", "SYS_ADMIN" '
        "in securityContext.capabilities.add)"
    )


def test_the_issue_pod_under_baseline() -> None:
    """hostNetwork, hostPID and a hostPath ``/`` volume: the plugin's aggregate, checks in order."""
    spec = {
        "hostNetwork": True,
        "hostPID": True,
        "serviceAccountName": "cluster-admin-sa",
        "containers": [{"name": "ray-head", "image": "rayproject/ray:2.52.0"}],
        "volumes": [{"name": "root", "hostPath": {"path": "/"}}],
    }
    assert forbidden_detail(check_pod("baseline", {}, spec)) == (
        'host namespaces (hostNetwork=true, hostPID=true), hostPath volumes (volume "root")'
    )


def test_several_containers_and_plurals() -> None:
    spec: dict[str, Any] = {
        "initContainers": [{"name": "init", "securityContext": {"privileged": True}}],
        "containers": [
            {
                "name": "a",
                "securityContext": {"privileged": True},
                "ports": [{"hostPort": 80}, {"hostPort": 443}],
            },
            {"name": "b", "ports": [{"hostPort": 8080}]},
        ],
        "volumes": [{"name": "x", "hostPath": {}}, {"name": "y", "hostPath": {}}],
    }
    assert forbidden_detail(check_pod("baseline", {}, spec)) == (
        'hostPath volumes (volumes "x", "y"), '
        'hostPort (containers "a", "b" use hostPorts 443, 80, 8080), '
        'privileged (containers "init", "a" must not set securityContext.privileged=true)'
    )


@settings(max_examples=300, deadline=None)
@given(valid_pods())
def test_levels_are_ordered(pod: tuple[dict[str, Any], dict[str, Any]]) -> None:
    """privileged admits everything; whatever restricted admits, baseline admits."""
    meta, spec = pod
    assert check_pod("privileged", meta, spec) == []
    if not check_pod("restricted", meta, spec):
        assert not check_pod("baseline", meta, spec)


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=5),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=20,
)
_fields = st.sampled_from(
    [
        "containers",
        "initContainers",
        "volumes",
        "securityContext",
        "hostNetwork",
        "hostUsers",
        "os",
        "ports",
        "capabilities",
        "name",
    ]
)


@settings(max_examples=300, deadline=None)
@given(
    st.dictionaries(
        _fields, _json | st.lists(st.dictionaries(_fields, _json, max_size=4), max_size=3), max_size=6
    ),
    st.dictionaries(st.sampled_from(["annotations", "labels"]), _json, max_size=2),
)
def test_hostile_pod_specs_never_crash(spec: dict[str, Any], meta: dict[str, Any]) -> None:
    for level in ("baseline", "restricted"):
        for v in check_pod(level, meta, spec):
            assert v.reason and isinstance(v.detail, str)


def _template(spec: dict[str, Any]) -> dict[str, Any]:
    return {"spec": copy.deepcopy(spec)}


def test_pod_templates_of_each_kind() -> None:
    bad = {"hostNetwork": True, "containers": [{"name": "c"}]}
    cluster = {
        "headGroupSpec": {"template": _template(bad)},
        "workerGroupSpecs": [{"groupName": "w", "template": _template(bad)}, {"groupName": "v"}],
    }
    assert [p for p, _, _ in pod_templates({"spec": cluster}, "rayclusters")] == [
        "spec.headGroupSpec.template",
        "spec.workerGroupSpecs[0].template",
    ]
    job = {"spec": {"rayClusterSpec": cluster, "submitterPodTemplate": _template(bad)}}
    assert [p for p, _, _ in pod_templates(job, "rayjobs")] == [
        "spec.rayClusterSpec.headGroupSpec.template",
        "spec.rayClusterSpec.workerGroupSpecs[0].template",
        "spec.submitterPodTemplate",
    ]
    service = {"spec": {"rayClusterConfig": cluster}}
    assert len(list(pod_templates(service, "rayservices"))) == 2
    cron = {"spec": {"jobTemplate": job["spec"]}}
    assert [p for p, _, _ in pod_templates(cron, "raycronjobs")][
        -1
    ] == "spec.jobTemplate.submitterPodTemplate"
    assert len(evaluate("baseline", cron, "raycronjobs")) == 3


def test_the_autoscaler_container_is_checked_when_autoscaling_is_on() -> None:
    head = {"template": _template(GOOD_POD)}
    spec = {
        "enableInTreeAutoscaling": True,
        "autoscalerOptions": {"securityContext": {"privileged": True}},
        "headGroupSpec": head,
    }
    found = evaluate("baseline", {"spec": spec}, "rayclusters")
    assert found and forbidden_detail(found[0][1]) == (
        'privileged (container "autoscaler" must not set securityContext.privileged=true)'
    )
    spec["enableInTreeAutoscaling"] = False
    assert evaluate("baseline", {"spec": spec}, "rayclusters") == []


def test_refusal_is_the_plugins_forbidden_status() -> None:
    obj = {"spec": {"headGroupSpec": {"template": _template({"hostPID": True, "containers": []})}}}
    error = pod_security.refusal("baseline", "rayclusters", "rc", evaluate("baseline", obj, "rayclusters"))
    status = error.status()
    assert status["code"] == 403 and status["reason"] == "Forbidden"
    assert status["message"] == (
        'rayclusters.ray.io "rc" is forbidden: violates PodSecurity "baseline:latest": '
        "spec.headGroupSpec.template: host namespaces (hostPID=true)"
    )
    assert status["details"]["causes"] == [
        {
            "reason": "FieldValueForbidden",
            "message": "host namespaces (hostPID=true)",
            "field": "spec.headGroupSpec.template",
        }
    ]


def test_an_unknown_level_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown pod security level"):
        pod_security.EnforcePodSecurity("strict")


def test_the_level_comes_from_the_flag_or_the_environment() -> None:
    from handler.cli import _parser
    from handler.settings import Settings, SettingsError

    env = Settings.from_env({"KUBERAY_APISERVER_POD_SECURITY": "restricted"})
    assert env.pod_security == "restricted"
    assert Settings.from_env({}).pod_security == "privileged"
    assert env.to_env()["KUBERAY_APISERVER_POD_SECURITY"] == "restricted"
    with pytest.raises(SettingsError, match="pod security level 'strict'"):
        Settings.from_env({"KUBERAY_APISERVER_POD_SECURITY": "strict"})
    args = _parser(Settings()).parse_args(["serve", "--pod-security", "baseline"])
    assert args.pod_security == "baseline"
    args = _parser(env).parse_args(["dev"])
    assert args.pod_security == "restricted"
    with pytest.raises(SystemExit):
        _parser(Settings()).parse_args(["serve", "--pod-security", "strict"])

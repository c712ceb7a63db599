"""Issue 12: what a compute-template ConfigMap write through the gateway may carry, and what reads
and deletes reach, over fakekube. The attack from the issue (``kube-system/aws-auth`` with a
``mapRoles`` entry for ``system:masters``, created 201 and replaced 200 with its extra keys kept)
is refused 422 for any caller: this is a rule about the object, not about who sends it."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.handler.gateway_stub import Reply
from tests.handler.test_readme_templates import section_blocks
from tests.handler.test_templates import SMALL_TEMPLATE, template_configmap

MAP_ROLES = json.dumps(
    [{"rolearn": "arn:aws:iam::111122223333:role/attacker", "username": "x", "groups": ["system:masters"]}]
)


def aws_auth(labels: dict[str, str] | None) -> dict[str, Any]:
    """The ConfigMap from the issue's attack: EKS's ``aws-auth`` mapping a role to system:masters,
    dressed (when ``labels``) as a compute template with valid template data."""
    meta: dict[str, Any] = {"name": "aws-auth", "namespace": "kube-system"}
    if labels is not None:
        meta["labels"] = labels
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": meta,
        "data": {**SMALL_TEMPLATE, "mapRoles": MAP_ROLES},
    }


def causes(r: httpx.Response) -> list[tuple[str, str, str]]:
    """``(reason, field, message)`` of each cause of a 422 Status."""
    assert r.status_code == 422, r.text
    status = r.json()
    assert status["kind"] == "Status" and status["reason"] == "Invalid" and status["code"] == 422
    return [(c["reason"], c["field"], c["message"]) for c in status["details"]["causes"]]


@pytest.mark.parametrize(
    "labels",
    [
        None,
        {"ray.io/config-type": "compute-template"},
        {"ray.io/config-type": "compute-template", "ray.io/compute-template": "aws-auth"},
    ],
)
def test_aws_auth_attack_is_refused(
    gateway_url: str, fakekube_url: str, http: httpx.Client, labels: dict[str, str] | None
) -> None:
    cms = f"{gateway_url}/api/v1/namespaces/kube-system/configmaps"
    r = http.post(cms, json=aws_auth(labels))
    found = causes(r)
    assert ("FieldValueForbidden", "data[mapRoles]") in [(c[0], c[1]) for c in found]
    assert r.json()["message"].startswith('ConfigMap "aws-auth" is invalid: ')
    assert "data[mapRoles]: Forbidden: not a compute-template key" in r.json()["message"]
    # Nothing reached the cluster.
    assert http.get(f"{fakekube_url}/api/v1/namespaces/kube-system/configmaps/aws-auth").status_code == 404


def test_replace_with_extra_keys_is_refused(gateway_url: str, namespace: str, http: httpx.Client) -> None:
    cms = f"{gateway_url}/api/v1/namespaces/{namespace}/configmaps"
    assert http.post(cms, json=template_configmap("t", **SMALL_TEMPLATE)).status_code == 201
    stored = http.get(f"{cms}/t").json()
    stored["data"]["mapRoles"] = MAP_ROLES
    r = http.put(f"{cms}/t", json=stored)
    assert [c[:2] for c in causes(r)] == [("FieldValueForbidden", "data[mapRoles]")]
    assert "mapRoles" not in http.get(f"{cms}/t").json()["data"]


def test_patch_is_not_served_on_template_configmaps(
    gateway_url: str, namespace: str, http: httpx.Client
) -> None:
    """PATCH could add keys the gateway never sees whole: the route does not serve it (405)."""
    cms = f"{gateway_url}/api/v1/namespaces/{namespace}/configmaps"
    assert http.post(cms, json=template_configmap("p", **SMALL_TEMPLATE)).status_code == 201
    r = http.patch(
        f"{cms}/p",
        content=json.dumps({"data": {"mapRoles": MAP_ROLES}}),
        headers={"content-type": "application/merge-patch+json"},
    )
    assert r.status_code == 405


@pytest.mark.parametrize(
    ("change", "want"),
    [
        (
            lambda cm: cm.update(binaryData={"blob": "AAAA"}),
            (
                "FieldValueForbidden",
                "binaryData",
                "Forbidden: a compute-template ConfigMap holds only text data",
            ),
        ),
        (
            lambda cm: cm["metadata"]["labels"].update({"team": "a"}),
            (
                "FieldValueForbidden",
                "metadata.labels[team]",
                "Forbidden: a compute-template ConfigMap carries only the labels "
                "ray.io/config-type, ray.io/compute-template",
            ),
        ),
        (
            lambda cm: cm["metadata"]["labels"].update({"ray.io/config-type": "cluster-runtime"}),
            (
                "FieldValueNotSupported",
                "metadata.labels[ray.io/config-type]",
                'Unsupported value: "cluster-runtime": supported values: "compute-template"',
            ),
        ),
        (
            lambda cm: cm["metadata"]["labels"].pop("ray.io/config-type"),
            (
                "FieldValueRequired",
                "metadata.labels[ray.io/config-type]",
                "Required value: the gateway writes only ConfigMaps labelled "
                "ray.io/config-type=compute-template",
            ),
        ),
        (
            lambda cm: cm["metadata"]["labels"].update({"ray.io/compute-template": "other"}),
            (
                "FieldValueInvalid",
                "metadata.labels[ray.io/compute-template]",
                "Invalid value: \"other\": must equal the name 'c'",
            ),
        ),
        (
            lambda cm: cm["data"].update(namespace="kube-system"),
            ("FieldValueInvalid", "data[namespace]", None),
        ),
        (lambda cm: cm["data"].update(cpu="-1"), ("FieldValueInvalid", "data[cpu]", None)),
        (lambda cm: cm["data"].update(cpu="1KiB"), ("FieldValueInvalid", "data[cpu]", None)),
        (lambda cm: cm["data"].pop("cpu"), ("FieldValueRequired", "data[cpu]", "Required value")),
        (lambda cm: cm["data"].update(memory="4Gi"), ("FieldValueInvalid", "data[memory]", None)),
        (
            lambda cm: cm["data"].update(memory_unit="GB"),
            ("FieldValueNotSupported", "data[memory_unit]", None),
        ),
        (lambda cm: cm["data"].update(gpu="1.5"), ("FieldValueInvalid", "data[gpu]", None)),
        (
            lambda cm: cm["data"].update(extended_resources='{"vpc.amazonaws.com/efa": "0.5"}'),
            ("FieldValueInvalid", "data[extended_resources]", None),
        ),
        (
            lambda cm: cm["data"].update(extended_resources='["efa"]'),
            ("FieldValueInvalid", "data[extended_resources]", None),
        ),
        (
            lambda cm: cm["data"].update(tolerations='[{"key": "a", "operator": "Exists", "value": "b"}]'),
            ("FieldValueInvalid", "data[tolerations]", None),
        ),
        (
            lambda cm: cm["data"].update(tolerations='[{"key": "a", "tolerationSeconds": 5}]'),
            ("FieldValueInvalid", "data[tolerations]", None),
        ),
        (
            lambda cm: cm["data"].update(tolerations='[{"operator": "Equal", "value": "x"}]'),
            ("FieldValueInvalid", "data[tolerations]", None),
        ),
        (
            lambda cm: cm["data"].update(tolerations='[{"key": "a", "nodeName": "n1"}]'),
            ("FieldValueInvalid", "data[tolerations]", None),
        ),
    ],
)
def test_each_template_rule_is_a_422_naming_the_field(
    gateway_url: str, namespace: str, http: httpx.Client, change: Any, want: tuple[str, str, str | None]
) -> None:
    cm = template_configmap("c", **SMALL_TEMPLATE)
    change(cm)
    r = http.post(f"{gateway_url}/api/v1/namespaces/{namespace}/configmaps", json=cm)
    found = causes(r)
    assert len(found) == 1, found
    reason, field, message = found[0]
    assert (reason, field) == want[:2]
    if want[2] is not None:
        assert message == want[2]
    assert r.json()["message"] == f'ConfigMap "c" is invalid: {field}: {message}'


def test_valid_values_are_accepted_and_applied(
    gateway_url: str, fakekube_url: str, namespace: str, http: httpx.Client
) -> None:
    """Quantities in every grammar form, a NoExecute toleration with tolerationSeconds, quantity
    strings for extended resources: accepted, and applied to a RayCluster as written."""
    cms = f"{gateway_url}/api/v1/namespaces/{namespace}/configmaps"
    tolerations = [{"key": "spot", "operator": "Exists", "effect": "NoExecute", "tolerationSeconds": 30}]
    cm = template_configmap(
        "q",
        cpu="1.5",
        memory="0.5",
        memory_unit="Ti",
        extended_resources=json.dumps({"example.com/fpga": "2", "example.com/ports": 1}),
        tolerations=json.dumps(tolerations),
    )
    cm["data"]["name"], cm["data"]["namespace"] = "q", namespace
    assert http.post(cms, json=cm).status_code == 201
    head = {
        "computeTemplate": "q",
        "rayStartParams": {},
        "template": {"spec": {"containers": [{"name": "ray-head", "image": "rayproject/ray:2.52.0"}]}},
    }
    obj = {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {"name": "rc"},
        "spec": {"headGroupSpec": head},
    }
    r = http.post(f"{gateway_url}/apis/ray.io/v1/namespaces/{namespace}/rayclusters", json=obj)
    assert r.status_code == 201, r.text
    pod = r.json()["spec"]["headGroupSpec"]["template"]["spec"]
    assert pod["tolerations"] == tolerations
    limits = pod["containers"][0]["resources"]["limits"]
    assert limits["cpu"] == "1.5" and limits["memory"] == "0.5Ti" and limits["example.com/fpga"] == "2"


def test_reads_and_deletes_reach_only_template_configmaps(
    gateway_url: str, fakekube_url: str, namespace: str, http: httpx.Client
) -> None:
    """An unlabelled ConfigMap is answered 404 exactly as an absent one (same Status), never
    deleted; a list or watch never shows it, whatever selector the caller sends."""
    other = {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "secretish"}, "data": {"k": "v"}}
    assert (
        http.post(f"{fakekube_url}/api/v1/namespaces/{namespace}/configmaps", json=other).status_code == 201
    )
    cms = f"{gateway_url}/api/v1/namespaces/{namespace}/configmaps"
    for method in ("GET", "DELETE"):
        present = http.request(method, f"{cms}/secretish")
        absent = http.request(method, f"{cms}/secretixh")
        assert present.status_code == absent.status_code == 404, method
        assert present.json() == {
            **absent.json(),
            "message": absent.json()["message"].replace("secretixh", "secretish"),
            "details": {**absent.json()["details"], "name": "secretish"},
        }
    assert http.get(f"{fakekube_url}/api/v1/namespaces/{namespace}/configmaps/secretish").status_code == 200
    for selector in ("", "ray.io/config-type!=compute-template", "!ray.io/config-type"):
        r = http.get(cms, params={"labelSelector": selector} if selector else None)
        assert [i["metadata"]["name"] for i in r.json()["items"]] == []
    with http.stream("GET", cms, params={"watch": "1", "timeoutSeconds": "1"}) as w:
        lines = [json.loads(line) for line in w.iter_lines() if line.strip()]
    assert [e for e in lines if e.get("object", {}).get("metadata", {}).get("name") == "secretish"] == []


def test_the_readme_shows_the_refusal_as_the_gateway_words_it(gateway_url: str, http: httpx.Client) -> None:
    """README, "Policy on Ray objects and compute templates": the aws-auth refusal, verbatim."""
    shown = section_blocks("Policy on Ray objects and compute templates", "")[0].strip()
    labels = {"ray.io/config-type": "compute-template", "ray.io/compute-template": "aws-auth"}
    r = http.post(f"{gateway_url}/api/v1/namespaces/kube-system/configmaps", json=aws_auth(labels))
    assert r.json()["message"] == shown


@pytest.mark.parametrize(
    ("body", "field", "reason"),
    [
        ({"name": "v", "cpu": "1KiB", "memory": 1}, "cpu", "FieldValueInvalid"),
        ({"name": "v", "cpu": -1, "memory": 1}, "cpu", "FieldValueInvalid"),
        ({"name": "v", "memory": 1}, "cpu", "FieldValueRequired"),
        ({"name": "v", "cpu": 1, "memory": "4Gi"}, "memory", "FieldValueInvalid"),
        ({"name": "v", "cpu": 1, "memory": 4, "memoryUnit": "GB"}, "memoryUnit", "FieldValueNotSupported"),
        ({"name": "v", "cpu": 1, "memory": 4, "gpu": 1.5}, "gpu", "FieldValueInvalid"),
        (
            {"name": "v", "cpu": 1, "memory": 4, "extendedResources": {"x.io/y": "0.5"}},
            "extendedResources",
            None,
        ),
        (
            {"name": "v", "cpu": 1, "memory": 4, "tolerations": [{"key": "a", "effect": "Sometimes"}]},
            "tolerations",
            None,
        ),
        ({"name": "v", "cpu": 1, "memory": 4, "tolerations": [{"operator": "Equal"}]}, "tolerations", None),
    ],
)
def test_v1_compute_templates_get_the_same_value_checks(
    gateway_url: str, namespace: str, http: httpx.Client, body: dict[str, Any], field: str, reason: str | None
) -> None:
    r = http.post(f"{gateway_url}/apis/v1/namespaces/{namespace}/compute_templates", json=body)
    found = causes(r)
    assert [c[1] for c in found] == [field]
    assert found[0][0] == (reason or "FieldValueInvalid")
    assert r.json()["message"].startswith('ComputeTemplate "v" is invalid: ')
    assert http.get(f"{gateway_url}/api/v1/namespaces/{namespace}/configmaps/v").status_code == 404


def test_replace_and_delete_are_pinned_to_the_checked_configmap(gateway_factory: Any, stub: Any) -> None:
    """What reaches the upstream: a PUT carrying the checked ConfigMap's resourceVersion, a DELETE
    with preconditions on its uid and resourceVersion, so a ConfigMap relabelled or replaced after
    the label check is left alone (the API server answers 409)."""
    url = gateway_factory(stub.url)
    stored = template_configmap("t", **SMALL_TEMPLATE)
    stored["metadata"].update(namespace="ns", uid="u-1", resourceVersion="7")
    reply = Reply(body=json.dumps(stored).encode())
    stub.reset()
    stub.script(reply, reply, reply, reply)
    body = template_configmap("t", **SMALL_TEMPLATE)
    assert httpx.put(f"{url}/api/v1/namespaces/ns/configmaps/t", json=body).status_code == 200
    assert httpx.delete(f"{url}/api/v1/namespaces/ns/configmaps/t").status_code == 200
    put = next(s for s in stub.seen if s.method == "PUT")
    assert json.loads(put.body)["metadata"]["resourceVersion"] == "7"
    delete = next(s for s in stub.seen if s.method == "DELETE")
    assert json.loads(delete.body)["preconditions"] == {"uid": "u-1", "resourceVersion": "7"}

"""``batch/v1`` Jobs in fakekube (the simulated operator's submitter Jobs): served and discovered,
defaulted and validated as pkg/registry/batch/job/strategy.go does."""

from __future__ import annotations

from fakekube.testing import Client
from kubeapi.types import JSON

JOBS_PATH = "/apis/batch/v1/namespaces/default/jobs"


def job(name: str = "submit", restart: str | None = "Never") -> JSON:
    pod: JSON = {"containers": [{"name": "c", "image": "busybox"}]}
    if restart is not None:
        pod["restartPolicy"] = restart
    return {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": {"name": name},
        "spec": {"template": {"spec": pod}},
    }


def test_create_defaults_and_generated_selector(client: Client) -> None:
    made = client.send("POST", JOBS_PATH, job()).json()
    spec, uid = made["spec"], made["metadata"]["uid"]
    assert (spec["completions"], spec["parallelism"], spec["backoffLimit"]) == (1, 1, 6)
    assert spec["completionMode"] == "NonIndexed" and spec["suspend"] is False
    assert spec["podReplacementPolicy"] == "TerminatingOrFailed"
    assert spec["selector"] == {"matchLabels": {"batch.kubernetes.io/controller-uid": uid}}
    assert spec["template"]["metadata"]["labels"] == {
        "batch.kubernetes.io/controller-uid": uid,
        "batch.kubernetes.io/job-name": "submit",
        "controller-uid": uid,
        "job-name": "submit",
    }
    assert (
        made["metadata"]["labels"] == spec["template"]["metadata"]["labels"]
        and spec["manualSelector"] is False
    )
    assert made["metadata"]["generation"] == 1 and made["status"] == {}


def test_restart_policy_required_and_template_immutable(client: Client) -> None:
    r = client.send("POST", JOBS_PATH, job("bad", restart=None))
    assert r.status == 422
    assert r.json()["details"]["causes"][0]["field"] == "spec.template.spec.restartPolicy"
    r = client.send("POST", JOBS_PATH, job("always", restart="Always"))
    assert r.status == 422 and r.json()["details"]["causes"][0]["reason"] == "FieldValueRequired"
    made = client.send("POST", JOBS_PATH, job()).json()
    made["spec"]["template"]["spec"]["containers"][0]["image"] = "other"
    r = client.send("PUT", f"{JOBS_PATH}/submit", made)
    assert r.status == 422 and r.json()["details"]["causes"][0]["field"] == "spec.template"


def test_status_subresource_and_discovery(client: Client) -> None:
    made = client.send("POST", JOBS_PATH, job()).json()
    made["status"] = {"succeeded": 1}
    assert client.send("PUT", f"{JOBS_PATH}/submit/status", made).json()["status"] == {"succeeded": 1}
    res = client.send("GET", "/apis/batch/v1").json()["resources"]
    assert {r["name"] for r in res} == {"jobs", "jobs/status"}
    groups = {g["name"] for g in client.send("GET", "/apis").json()["groups"]}
    assert "batch" in groups

"""Writes admitted by the CRD schemas: unknown fields pruned (Warn) or refused (Strict), defaults,
validation errors that change nothing; ``create_app(schemas=False)`` turns schemas off."""

from __future__ import annotations

from collections.abc import Callable

from fakekube import FakeKube, create_app
from fakekube.testing import Client
from tests.fakekube.objects import RC_PATH, raycluster


def test_crd_schema_prunes_defaults_and_validates(client: Client, app: FakeKube) -> None:
    body = raycluster("sch")
    body["spec"]["bogusField"] = 1
    r = client.send("POST", RC_PATH, body, query={"fieldValidation": "Strict"})
    assert r.status == 400 and 'strict decoding error: unknown field "spec.bogusField"' in r.json()["message"]
    r = client.send("POST", RC_PATH, body)  # default Warn: pruned, with a Warning header
    assert r.status == 201 and "bogusField" not in r.json()["spec"]
    assert r.headers["warning"] == '299 - "unknown field \\"spec.bogusField\\""'
    bad = raycluster("Bad_Name")
    bad["spec"]["headGroupSpec"]["rayStartParams"] = "not-a-map"
    before = app.store.rv
    r = client.send("POST", RC_PATH, bad)
    fields = [c["field"] for c in r.json()["details"]["causes"]]
    assert r.status == 422 and fields[0] == "metadata.name" and "spec.headGroupSpec.rayStartParams" in fields
    assert app.store.rv == before


def test_schemas_can_be_turned_off(connect: Callable[[FakeKube], Client]) -> None:
    c = connect(create_app(schemas=False))
    r = c.send(
        "POST",
        RC_PATH,
        {"apiVersion": "ray.io/v1", "kind": "RayCluster", "metadata": {"name": "x"}, "spec": {}},
    )
    assert r.status == 201 and r.json()["spec"] == {}

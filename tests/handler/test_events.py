"""The events routes (core v1 and events.k8s.io), end to end through the gateway over fakekube:
only events about Ray objects come back, whatever selectors the caller adds."""

from __future__ import annotations

import httpx
import pytest

RAY_REF = {"apiVersion": "ray.io/v1", "kind": "RayCluster", "name": "raycluster-kuberay"}
POD_REF = {"apiVersion": "v1", "kind": "Pod", "name": "some-pod"}


def _seed_events(fakekube_url: str, namespace: str, http: httpx.Client) -> None:
    """Two Ray events and two Pod events written directly to fakekube, alternating the Event APIs.

    Both APIs are views of the same objects (as in a real cluster), so each list shows all four.
    """
    for i, (ref, reason) in enumerate(
        [(RAY_REF, "Created"), (RAY_REF, "Failed"), (POD_REF, "Created"), (POD_REF, "Pulled")]
    ):
        core = {
            "apiVersion": "v1",
            "kind": "Event",
            "metadata": {"name": f"core-{i}", "labels": {"n": str(i)}},
            "involvedObject": {**ref, "namespace": namespace},
            "reason": reason,
            "message": "m",
            "type": "Normal",
        }
        new = {
            "apiVersion": "events.k8s.io/v1",
            "kind": "Event",
            "metadata": {"name": f"new-{i}", "labels": {"n": str(i)}},
            "regarding": {**ref, "namespace": namespace},
            "reason": reason,
            "note": "m",
            "type": "Normal",
            "action": "a",
            "reportingController": "kuberay",
            "reportingInstance": "kuberay-0",
            "eventTime": "2026-01-01T00:00:00.000000Z",
        }
        if i % 2 == 0:
            r = http.post(f"{fakekube_url}/api/v1/namespaces/{namespace}/events", json=core)
        else:
            r = http.post(f"{fakekube_url}/apis/events.k8s.io/v1/namespaces/{namespace}/events", json=new)
        assert r.status_code == 201, r.text


@pytest.mark.parametrize(
    ("path", "ref_field"),
    [
        ("/apis/events.k8s.io/v1/namespaces/{ns}/events", "regarding"),
        ("/api/v1/namespaces/{ns}/events", "involvedObject"),
    ],
)
@pytest.mark.parametrize(
    ("params", "expected_reasons"),
    [
        ({}, ["Created", "Failed"]),
        ({"fieldSelector": "reason=Created"}, ["Created"]),
        ({"fieldSelector": "REF.apiVersion=v1"}, []),
        ({"fieldSelector": "REF.apiVersion!=ray.io/v1"}, []),
        ({"fieldSelector": "REF.kind=Pod"}, []),
        ({"labelSelector": "n in (1,2,3)"}, ["Failed"]),
    ],
)
def test_events_route_only_returns_ray_events(
    fakekube_url: str,
    gateway_url: str,
    namespace: str,
    http: httpx.Client,
    path: str,
    ref_field: str,
    params: dict[str, str],
    expected_reasons: list[str],
) -> None:
    _seed_events(fakekube_url, namespace, http)
    params = {k: v.replace("REF", ref_field) for k, v in params.items()}
    # Directly on fakekube the Pod events are there...
    direct = http.get(fakekube_url + path.format(ns=namespace)).json()["items"]
    assert {e[ref_field]["apiVersion"] for e in direct} == {"v1", "ray.io/v1"}
    # ...through the gateway only Ray ones, whatever the caller asks.
    r = http.get(gateway_url + path.format(ns=namespace), params=params)
    assert r.status_code == 200, r.text
    items = r.json()["items"]
    assert all(e[ref_field]["apiVersion"] == "ray.io/v1" for e in items)
    assert sorted(e["reason"] for e in items) == expected_reasons

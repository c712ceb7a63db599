"""Requests read with Go's rules (kubeapi.query / kubeapi.requestinfo): the ``watch`` parameter,
integer parameters, repeated parameters, Service proxy names."""

from __future__ import annotations

import pytest

from fakekube.testing import Client
from tests.fakekube.objects import RC_PATH, events, raycluster


@pytest.mark.parametrize("value", ["maybe", "TRUE", "yes", ""])
def test_any_watch_value_but_0_or_false_is_a_watch(client: Client, value: str) -> None:
    """kube-apiserver reads ``watch`` with Convert_Slice_string_To_bool: only 0/false are false
    (fakekube answered ``watch=maybe`` with a list before it parsed requests with kubeapi)."""
    client.send("POST", RC_PATH, raycluster("w"))
    r = client.send("GET", RC_PATH, query={"watch": value, "timeoutSeconds": "1"})
    assert r.status == 200
    assert [(e["type"], e["object"]["metadata"]["name"]) for e in events(r.read())] == [("ADDED", "w")]


@pytest.mark.parametrize("value", ["0", "false", "FALSE", "False"])
def test_watch_0_or_false_is_a_list(client: Client, value: str) -> None:
    r = client.send("GET", RC_PATH, query={"watch": value})
    assert r.status == 200 and r.json()["kind"] == "RayClusterList"


def test_integer_parameters_follow_strconv(client: Client) -> None:
    """``limit=`` is ParseInt's error (400), not "no limit"; so are a sign-less space and ``5_0``."""
    for value in ("", " 5", "5_0"):
        r = client.send("GET", RC_PATH, query={"limit": value})
        assert r.status == 400, value
        assert r.json()["message"] == f'strconv.ParseInt: parsing "{value}": invalid syntax'


def test_the_first_of_repeated_parameters_counts(client: Client) -> None:
    """Go's struct conversions read the first value of a repeated parameter."""
    for name in ("a", "b"):
        client.send("POST", RC_PATH, raycluster(name, {"team": name}))
    r = client.bridge.request("GET", RC_PATH, "labelSelector=team%3Da&labelSelector=team%3Db", [], b"")
    assert [i["metadata"]["name"] for i in r.json()["items"]] == ["a"]


def test_service_proxy_names_split_as_go(client: Client) -> None:
    """``services/{id}/proxy``: ``id`` is split by SplitSchemeNamePort (kubeapi.requestinfo); four
    parts are no service request (400), ``http:name`` is name ``http`` with port ``name``."""
    r = client.send("GET", "/api/v1/namespaces/default/services/a:b:c:d/proxy/")
    assert r.status == 400 and r.json()["message"] == 'invalid service request "a:b:c:d"'
    r = client.send("GET", "/api/v1/namespaces/default/services/http:head/proxy/")
    assert r.status == 503 and r.json()["message"] == 'no endpoints available for service "http"'


@pytest.mark.parametrize("value", ["99999999999999999999", "18446744073709551616"])
def test_a_resource_version_beyond_uint64_is_parse_uints_400(client: Client, value: str) -> None:
    """refkube 1.37 answers a list with ``resourceVersion`` above 2^64-1 (also with ``limit=0``) 400
    ``strconv.ParseUint: ... value out of range``; fakekube answered 200 (the contract fuzzer found it)."""
    r = client.send("GET", RC_PATH, query={"limit": "0", "resourceVersion": value})
    assert r.status == 400
    assert r.json()["message"] == (
        f'invalid resource version: resourceVersion: Invalid value: "{value}": '
        f'strconv.ParseUint: parsing "{value}": value out of range'
    )

"""``kubeapi.quantity`` against kube-apiserver's own ``ParseQuantity``: a ResourceQuota whose
``spec.hard.cpu`` is the string is decoded by refkube (a string that is not a quantity: 400
``BadRequest``; a negative one: 422 from validation; else 201), and the verdict must match."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from kubeapi.quantity import FORMAT_WRONG, NUMERIC_WRONG, SUFFIX_WRONG, QuantityError, parse_quantity
from tests.contract.client import RefKube, create_namespace


@pytest.fixture(scope="module")
def quota(refkube: RefKube) -> Iterator[tuple[httpx.Client, str]]:
    """An admin client of refkube and a namespace to create ResourceQuotas in."""
    ns = create_namespace(refkube.target, "quantity")
    with refkube.target.client() as c:
        yield c, ns


_text = st.text(alphabet="0123456789.+-eEinumkKMGTP", min_size=1, max_size=6)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=_text)
def test_quantities_match_kube_apiserver(quota: tuple[httpx.Client, str], text: str) -> None:
    client, ns = quota
    body = {
        "apiVersion": "v1",
        "kind": "ResourceQuota",
        "metadata": {"name": f"q-{uuid.uuid4().hex[:10]}"},
        "spec": {"hard": {"cpu": text}},
    }
    r = client.post(f"/api/v1/namespaces/{ns}/resourcequotas", json=body)
    try:
        value = parse_quantity(text)
    except QuantityError as e:
        assert r.status_code == 400, r.text
        assert str(e) in r.json()["message"] and str(e) in (FORMAT_WRONG, NUMERIC_WRONG, SUFFIX_WRONG)
        return
    assert r.status_code == (422 if value < 0 else 201), r.text

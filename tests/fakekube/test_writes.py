"""Writes beyond plain CRUD: dry run and no-op writes change nothing; generateName retries a
taken name."""

from __future__ import annotations

import pytest

from fakekube import FakeKube
from fakekube.testing import Client
from tests.fakekube.objects import RC_PATH, raycluster


def test_dry_run_and_noop_writes_change_nothing(client: Client, app: FakeKube) -> None:
    rv = app.store.rv
    r = client.send("POST", RC_PATH, raycluster("d"), query={"dryRun": "All"})
    assert r.status == 201 and r.json()["metadata"]["name"] == "d"
    assert app.store.rv == rv and client.send("GET", f"{RC_PATH}/d").status == 404
    made = client.send("POST", RC_PATH, raycluster("d")).json()
    same = client.send("PUT", f"{RC_PATH}/d", made)
    assert same.status == 200 and same.json() == made and app.store.rv == rv + 1


def test_generate_name_retries_a_taken_name(client: Client, monkeypatch: pytest.MonkeyPatch) -> None:
    from fakekube._registry import objects

    draws = iter(["g-aaaaa", "g-aaaaa", "g-bbbbb"])
    monkeypatch.setattr(objects, "generate_name", lambda prefix: next(draws))
    body = raycluster("x") | {"metadata": {"generateName": "g-"}}
    assert client.send("POST", RC_PATH, body).json()["metadata"]["name"] == "g-aaaaa"
    assert client.send("POST", RC_PATH, body).json()["metadata"]["name"] == "g-bbbbb"

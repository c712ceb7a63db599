"""The targets of the contract suite, resolved lazily from session fixtures.

- ``refkube``: the real kube-apiserver (reference), over TLS with a static admin token.
- ``fakekube``: ``fakekube serve`` (the root conftest's ``fakekube_url``).
- ``fakekube-auth`` (:func:`fakekube_auth`): ``fakekube serve`` with authentication and RBAC and
  the identities of ``tests.contract.identities`` (the identity suite's second target).
- ``gateway-refkube`` / ``gateway-fakekube``: ``kuberay-apiserver serve --upstream URL`` in front
  of each; the gateway reaches refkube over TLS with refkube's admin token and CA, as it would a
  real cluster. Namespaces for gateway targets are made on the backend.

A target whose program is not in the tree yet skips outside CI and fails under CI.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.contract.client import RefKube, Target
from tests.contract.identities import apply_rbac, write_token_auth_file
from tests.procs import BIN, free_port, start_server, stop_server

TARGET_NAMES = ["refkube", "fakekube", "gateway-refkube", "gateway-fakekube"]
GATEWAY_TARGETS = frozenset({"gateway-refkube", "gateway-fakekube"})


def get_target(request: pytest.FixtureRequest, name: str) -> Target:
    """Return the running target ``name``, starting its session fixture on first use."""
    if name == "refkube":
        return request.getfixturevalue("refkube").target  # type: ignore[no-any-return]
    if name == "fakekube":
        return request.getfixturevalue("fakekube_target")  # type: ignore[no-any-return]
    if name == "gateway-refkube":
        return request.getfixturevalue("gateway_refkube_target")  # type: ignore[no-any-return]
    if name == "gateway-fakekube":
        return request.getfixturevalue("gateway_fakekube_target")  # type: ignore[no-any-return]
    raise ValueError(name)


@pytest.fixture(scope="session")
def fakekube_target(request: pytest.FixtureRequest) -> Target:
    """fakekube as a target (its server is the root conftest's session ``fakekube_url``)."""
    return Target("fakekube", request.getfixturevalue("fakekube_url"))


def _gateway(
    request: pytest.FixtureRequest, upstream: str, name: str, admin: Target, extra: list[str]
) -> Iterator[Target]:
    port = free_port()
    argv = ["kuberay-apiserver", "serve", "--host", "127.0.0.1", "--port", str(port), "--upstream", upstream]
    argv += ["--authentication", "none"]  # the identity suite passes its own mode in ``extra``
    proc = start_server([*argv, *extra], port)
    try:
        yield Target(name, f"http://127.0.0.1:{port}", admin=admin)
    finally:
        stop_server(proc)


@pytest.fixture(scope="session")
def gateway_fakekube_target(request: pytest.FixtureRequest, fakekube_target: Target) -> Iterator[Target]:
    """The gateway in front of fakekube."""
    yield from _gateway(request, fakekube_target.url, "gateway-fakekube", fakekube_target, [])


@pytest.fixture(scope="session")
def gateway_refkube_target(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Target]:
    """The gateway in front of refkube, over TLS with refkube's admin token and CA."""
    ref = request.getfixturevalue("refkube").target
    token = tmp_path_factory.mktemp("gateway-refkube") / "token"
    token.write_text(ref.token)
    extra = ["--token-file", str(token), "--ca-file", str(ref.verify)]
    yield from _gateway(request, ref.url, "gateway-refkube", ref, extra)


#: Audit log file of a running target, by its URL (refkube's and fakekube-auth's).
AUDIT_LOGS: dict[str, Path] = {}


def audit_events(path: Path, verb: str, resource: str, name: str) -> list[dict[str, Any]]:
    """The ResponseComplete audit events (``audit.k8s.io/v1`` Event JSON lines in ``path``) of
    ``verb`` on ``resource`` named ``name``; waits up to 5 s for one to appear."""
    deadline = time.monotonic() + 5
    while True:
        found = []
        for line in path.read_text().splitlines():
            e = json.loads(line)
            ref = e.get("objectRef") or {}
            same = e.get("verb") == verb and ref.get("resource") == resource and ref.get("name") == name
            if same and e.get("stage") == "ResponseComplete":
                found.append(e)
        if found or time.monotonic() > deadline:
            return found
        time.sleep(0.1)


def _wait_up(url: str, proc: Any, timeout: float = 30.0) -> None:
    """Wait until ``url/healthz`` answers at all (401 counts: anonymous access is off)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"fakekube exited {proc.returncode}: {proc.stdout.read().decode()[-2000:]}")
        try:
            with urllib.request.urlopen(url + "/healthz", timeout=1):
                return
        except urllib.error.HTTPError:
            return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            time.sleep(0.05)
    raise RuntimeError(f"{url} not up after {timeout}s")


def _api_audiences(ref: Target) -> list[str]:
    """refkube's API audiences: what a TokenReview of admin's own token reports."""
    with ref.client() as c:
        r = c.post(
            "/apis/authentication.k8s.io/v1/tokenreviews",
            json={
                "apiVersion": "authentication.k8s.io/v1",
                "kind": "TokenReview",
                "spec": {"token": ref.token},
            },
        )
    assert r.status_code == 201, r.text
    return list(r.json()["status"]["audiences"])


@pytest.fixture(scope="session")
def fakekube_auth(
    refkube: RefKube, kuberay_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Target]:
    """``fakekube serve`` with the identities' token file (plus an admin in system:masters), RBAC,
    the official KubeRay CRDs and refkube's API audiences; namespace team-a and the RBAC objects
    applied through admin. Its audit log is ``AUDIT_LOGS[target.url]``."""
    d = tmp_path_factory.mktemp("fakekube-auth")
    admin_token = uuid.uuid4().hex
    tokens = write_token_auth_file(d / "tokens.csv", admin_token=admin_token)
    port = free_port()
    argv = [
        str(BIN / "fakekube"), "serve", "--host", "127.0.0.1", "--port", str(port),
        "--crd", str(kuberay_dir / "crds"), "--token-auth-file", str(tokens),
        "--authorization-mode", "RBAC", "--api-audiences", ",".join(_api_audiences(refkube.target)),
        "--audit-log-path", str(d / "audit.log"),
    ]  # fmt: skip
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_up(url, proc)
        target = Target("fakekube-auth", url, token=admin_token)
        with target.client() as admin:
            apply_rbac(admin)
        AUDIT_LOGS[url] = d / "audit.log"
        yield target
    finally:
        stop_server(proc)

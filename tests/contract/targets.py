"""The targets of the contract suite, resolved lazily from session fixtures.

- ``refkube``: the real kube-apiserver (reference), over TLS with a static admin token.
- ``fakekube``: ``fakekube serve`` (the root conftest's ``fakekube_url``).
- ``gateway-refkube`` / ``gateway-fakekube``: ``kuberay-apiserver serve --upstream URL`` in front
  of each; the gateway reaches refkube over TLS with refkube's admin token and CA, as it would a
  real cluster. Namespaces for gateway targets are made on the backend.

A target whose program is not in the tree yet skips outside CI and fails under CI.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.contract.client import Target
from tests.procs import free_port, start_server, stop_server

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

"""``fakekube.mock()``: unmodified kubernetes / kr8s / lightkube code routed to an in-process fakekube."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from kubernetes import client, config, watch

import fakekube
from fakekube.mocking import FAKE_SERVER, Mock
from fakekube.strategies import raycluster

GROUP, VERSION, PLURAL = "ray.io", "v1", "rayclusters"
# kr8s warns that it does not know Kubernetes 1.37 (what fakekube reports).
pytestmark = pytest.mark.filterwarnings("ignore:Kubernetes version:UserWarning")


@pytest.fixture(autouse=True)
def no_network_no_kubeconfig(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    """No kubeconfig or service account anywhere, and any TCP/UDP connection attempt fails."""
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.setenv("KUBECONFIG", str(tmp_path / "missing"))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)
    real_connect = socket.socket.connect

    def connect(self: socket.socket, address: Any) -> None:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            raise AssertionError(f"network connection attempted to {address}")
        real_connect(self, address)

    monkeypatch.setattr(socket.socket, "connect", connect)
    yield


def kuberay_style_code() -> dict[str, Any]:
    """What operator-side code does: load config, create, read status, patch, list, delete."""
    config.load_kube_config()
    api = client.CustomObjectsApi()
    api.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, raycluster("rc", {"app": "demo"}))
    api.patch_namespaced_custom_object_status(
        GROUP, VERSION, "default", PLURAL, "rc", {"status": {"state": "ready"}}
    )
    api.patch_namespaced_custom_object(
        GROUP, VERSION, "default", PLURAL, "rc", {"spec": {"rayVersion": "2.10.0"}}
    )
    status = api.get_namespaced_custom_object_status(GROUP, VERSION, "default", PLURAL, "rc")
    listed = api.list_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, label_selector="app=demo")
    return {"status": status, "names": [i["metadata"]["name"] for i in listed["items"]]}


def test_context_manager_routes_the_kubernetes_client_and_state_is_inspectable() -> None:
    with fakekube.mock() as m:
        out = kuberay_style_code()
        assert out["status"]["status"] == {"state": "ready"}
        assert out["names"] == ["rc"]
        stored = m.get("RayCluster", "rc")
        assert stored is not None and stored["spec"]["rayVersion"] == "2.10.0"
        assert [o["metadata"]["name"] for o in m.list("rayclusters")] == ["rc"]
        client.CustomObjectsApi().delete_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "rc")
        assert m.get("RayCluster", "rc") is None
    # Afterwards the real configuration is back.
    assert client.Configuration.get_default_copy().host != FAKE_SERVER


def test_api_errors_are_the_servers_status() -> None:
    with fakekube.mock():
        config.load_incluster_config()
        api = client.CustomObjectsApi()
        with pytest.raises(client.ApiException) as e:
            api.get_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, "missing")
        assert e.value.status == 404 and '"reason":"NotFound"' in e.value.body


def test_code_that_loads_no_config_and_load_config_are_routed() -> None:
    with fakekube.mock() as m:
        m.seed(raycluster("seeded"))
        names = [
            i["metadata"]["name"]
            for i in client.CustomObjectsApi().list_cluster_custom_object(GROUP, VERSION, PLURAL)["items"]
        ]
        assert names == ["seeded"]
        config.load_config()
        api_client = config.new_client_from_config()
        assert api_client.configuration.host == FAKE_SERVER
        contexts, active = config.list_kube_config_contexts()
        assert active["name"] == "fakekube" and len(contexts) == 1


@fakekube.mock
def test_decorator_on_a_sync_function() -> None:
    config.load_kube_config()
    ns = client.CoreV1Api().create_namespace(client.V1Namespace(metadata=client.V1ObjectMeta(name="team")))
    assert ns.metadata.name == "team"


@fakekube.mock
async def test_decorator_on_an_async_function() -> None:
    config.load_kube_config()
    assert {n.metadata.name for n in client.CoreV1Api().list_namespace().items} == {
        "default",
        "kube-public",
        "kube-system",
    }


def test_each_mock_starts_empty_and_reset_forgets() -> None:
    with fakekube.mock() as m:
        m.seed(raycluster("a"))
        m.reset()
        assert m.list("RayCluster") == []
        assert m.get("Namespace", "default", namespace="") is not None
    with fakekube.mock() as m:
        assert m.list("RayCluster") == []


def test_watch_streams_events_as_they_happen() -> None:
    with fakekube.mock():
        config.load_kube_config()
        api = client.CustomObjectsApi()
        api.create_namespaced_custom_object(GROUP, VERSION, "default", PLURAL, raycluster("w"))

        def later() -> None:
            time.sleep(0.3)
            api.patch_namespaced_custom_object(
                GROUP, VERSION, "default", PLURAL, "w", {"metadata": {"labels": {"x": "y"}}}
            )

        threading.Thread(target=later).start()
        start = time.monotonic()
        seen: list[tuple[str, float]] = []
        w = watch.Watch()
        for ev in w.stream(
            api.list_namespaced_custom_object, GROUP, VERSION, "default", PLURAL, timeout_seconds=5
        ):
            seen.append((ev["type"], time.monotonic() - start))
            if ev["type"] == "MODIFIED":
                w.stop()
        assert [t for t, _ in seen] == ["ADDED", "MODIFIED"]
        # Streamed: the MODIFIED event arrives when it happens, not when the 5 s watch ends.
        assert 0.25 < seen[1][1] < 3


def test_fixture(fakekube_mock: Mock) -> None:
    kuberay_style_code()
    assert fakekube_mock.get("RayCluster", "rc")["status"] == {"state": "ready"}  # type: ignore[index]


def test_requests_to_other_hosts_are_not_intercepted() -> None:
    with fakekube.mock():
        cfg = client.Configuration()
        cfg.host = "http://127.0.0.1:9"
        cfg.retries = 0
        with pytest.raises(Exception, match="network connection attempted"):
            client.CoreV1Api(client.ApiClient(cfg)).list_namespace(_request_timeout=1)


def test_kr8s_is_routed() -> None:
    import kr8s

    with fakekube.mock() as m:
        m.seed(raycluster("k"))
        api = kr8s.api()
        names = [o.name for o in api.get("rayclusters.ray.io", namespace="default")]
        assert names == ["k"]
        ns = kr8s.objects.Namespace({"metadata": {"name": "from-kr8s"}})
        ns.create()
        assert m.get("Namespace", "from-kr8s", namespace="") is not None


async def test_kr8s_asyncio_is_routed() -> None:
    import kr8s.asyncio

    with fakekube.mock() as m:
        m.seed(raycluster("ka"))
        api = await kr8s.asyncio.api()
        names = [o.name async for o in api.async_get("rayclusters.ray.io", namespace="default")]
        assert names == ["ka"]


def test_lightkube_is_routed() -> None:
    from lightkube import Client
    from lightkube.generic_resource import create_namespaced_resource
    from lightkube.models.meta_v1 import ObjectMeta
    from lightkube.resources.core_v1 import ConfigMap

    with fakekube.mock() as m:
        m.seed(raycluster("lk"))
        c = Client()
        c.create(ConfigMap(metadata=ObjectMeta(name="cm"), data={"a": "1"}))
        assert m.get("ConfigMap", "cm")["data"] == {"a": "1"}  # type: ignore[index]
        RayCluster = create_namespaced_resource(GROUP, VERSION, "RayCluster", PLURAL)
        assert [o.metadata.name for o in c.list(RayCluster, namespace="default")] == ["lk"]


async def test_lightkube_async_client_is_routed() -> None:
    from lightkube import AsyncClient
    from lightkube.resources.core_v1 import Namespace

    with fakekube.mock():
        c = AsyncClient()
        names = [ns.metadata.name async for ns in c.list(Namespace)]
        assert sorted(names) == ["default", "kube-public", "kube-system"]
        await c.close()


def test_reset_ends_a_watch_open_through_the_mock() -> None:
    with fakekube.mock() as m:
        config.load_kube_config()
        api = client.CustomObjectsApi()
        events: list[str] = []

        def watch_all() -> None:
            for ev in watch.Watch().stream(
                api.list_namespaced_custom_object, GROUP, VERSION, "default", PLURAL, timeout_seconds=30
            ):
                events.append(ev["type"])

        t = threading.Thread(target=watch_all)
        t.start()
        m.seed(raycluster("before-reset"))
        deadline = time.monotonic() + 5
        while not events and time.monotonic() < deadline:
            time.sleep(0.01)
        m.reset()
        t.join(5)
        assert not t.is_alive() and events == ["ADDED"]


async def test_kr8s_watch_streams_through_the_mock() -> None:
    import asyncio

    import kr8s.asyncio

    with fakekube.mock() as m:
        api = await kr8s.asyncio.api()
        seen: list[tuple[str, str]] = []

        async def watch_one() -> None:
            async for event, obj in api.async_watch("configmaps", namespace="default"):
                seen.append((event, obj.name))
                return

        task = asyncio.create_task(watch_one())
        await asyncio.sleep(0.3)
        assert not task.done()  # nothing yet: the watch waits for an event
        await asyncio.to_thread(
            m.seed, {"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "late"}}
        )
        await asyncio.wait_for(task, 5)
        assert seen == [("ADDED", "late")]


def test_mock_with_create_app_options() -> None:
    @fakekube.mock(namespaces=("default", "extra"))
    def code() -> list[str]:
        config.load_kube_config()
        return sorted(n.metadata.name for n in client.CoreV1Api().list_namespace().items)

    assert code() == ["default", "extra"]


@fakekube.mock
def test_decorated_test_still_gets_its_fixtures(tmp_path: Path) -> None:
    config.load_kube_config()
    client.CoreV1Api().create_namespaced_config_map(
        "default", client.V1ConfigMap(metadata=client.V1ObjectMeta(name="cm"), data={"dir": str(tmp_path)})
    )
    got = client.CoreV1Api().read_namespaced_config_map("cm", "default")
    assert got.data == {"dir": str(tmp_path)}

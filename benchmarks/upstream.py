"""The static upstream: nginx serving fixed Kubernetes response bodies, so that the proxy's cost is isolated.

Bodies are generated here (RayCluster objects and RayClusterLists written by the harness, shaped as
the ray.io/v1 API returns them) into a temporary directory, and served with an exact-match
``location`` per Kubernetes path.  nginx ignores query strings for static files, so
``?labelSelector=...`` reaches the same body.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.system import Service, free_port, start_service, wait_ready

GROUP_PATH = "/apis/ray.io/v1"

#: The user every review below describes (the gateway's ``token-review`` and ``passthrough`` modes).
BENCH_USER = {"username": "bench-user", "uid": "bench-uid", "groups": ["bench-team", "system:authenticated"]}

#: The review APIs the gateway asks in its ``token-review`` and ``passthrough`` modes
#: (handler/auth/reviews.py), answered by nginx with a canned 201 whatever the request body says, as
#: kube-apiserver answers a create of these virtual resources: the token is authenticated as
#: :data:`BENCH_USER` (TokenReview, k8s.io/api/authentication/v1 ``TokenReviewStatus``; and
#: SelfSubjectReview ``status.userInfo``), every access is allowed (SubjectAccessReview,
#: k8s.io/api/authorization/v1 ``SubjectAccessReviewStatus``).
REVIEW_ANSWERS: dict[str, dict[str, Any]] = {
    "/apis/authentication.k8s.io/v1/tokenreviews": {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "TokenReview",
        "metadata": {"creationTimestamp": None},
        "spec": {},
        "status": {"authenticated": True, "user": BENCH_USER},
    },
    "/apis/authorization.k8s.io/v1/subjectaccessreviews": {
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SubjectAccessReview",
        "metadata": {"creationTimestamp": None},
        "spec": {},
        "status": {"allowed": True, "reason": "allowed by the benchmark upstream"},
    },
    "/apis/authentication.k8s.io/v1/selfsubjectreviews": {
        "apiVersion": "authentication.k8s.io/v1",
        "kind": "SelfSubjectReview",
        "metadata": {"creationTimestamp": None},
        "status": {"userInfo": BENCH_USER},
    },
}

#: nginx's log of the review requests (only those: every other location logs nothing), one
#: ``METHOD PATH STATUS`` line per request, written unbuffered, under the upstream's work directory.
REVIEW_LOG = "reviews.log"


@dataclass(frozen=True)
class Target:
    """A path the static upstream serves and the size of its body, in bytes (filled once written)."""

    name: str
    path: str
    target_bytes: int


TARGETS = {
    "get": Target("get", f"{GROUP_PATH}/namespaces/bench/rayclusters/one", 0),
    "list-2k": Target("list-2k", f"{GROUP_PATH}/namespaces/bench-2k/rayclusters", 2 * 1024),
    "list-1m": Target("list-1m", f"{GROUP_PATH}/namespaces/bench-1m/rayclusters", 1024**2),
    "list-50m": Target("list-50m", f"{GROUP_PATH}/namespaces/bench-50m/rayclusters", 50 * 1024**2),
}


def raycluster(name: str, namespace: str, index: int) -> dict[str, Any]:
    """A RayCluster as a real API server returns it: metadata, one head group, one worker group, status.

    About 1.6 KB of JSON; ``index`` varies uid, resourceVersion and a label so items differ.
    """
    container = {
        "image": "rayproject/ray:2.46.0",
        "resources": {"limits": {"cpu": "1", "memory": "2Gi"}, "requests": {"cpu": "1", "memory": "2Gi"}},
    }
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {
            "name": name,
            "namespace": namespace,
            "uid": f"00000000-0000-4000-8000-{index:012d}",
            "resourceVersion": str(1000 + index),
            "generation": 1,
            "creationTimestamp": "2026-01-01T00:00:00Z",
            "labels": {"app.kubernetes.io/name": "kuberay", "env": "prod" if index % 10 == 0 else "dev"},
        },
        "spec": {
            "rayVersion": "2.46.0",
            "headGroupSpec": {
                "rayStartParams": {"dashboard-host": "0.0.0.0"},
                "template": {"spec": {"containers": [{"name": "ray-head", **container}]}},
            },
            "workerGroupSpecs": [
                {
                    "groupName": "workergroup",
                    "replicas": 1,
                    "minReplicas": 1,
                    "maxReplicas": 5,
                    "rayStartParams": {},
                    "template": {"spec": {"containers": [{"name": "ray-worker", **container}]}},
                }
            ],
        },
        "status": {
            "state": "ready",
            "availableWorkerReplicas": 1,
            "desiredWorkerReplicas": 1,
            "readyWorkerReplicas": 1,
            "endpoints": {"client": "10001", "dashboard": "8265", "gcs-server": "6379", "metrics": "8080"},
            "head": {"podIP": "10.0.0.1", "serviceIP": "10.96.0.1"},
            "lastUpdateTime": "2026-01-01T00:00:10Z",
        },
    }


def raycluster_list(namespace: str, at_least_bytes: int) -> bytes:
    """A RayClusterList JSON body of at least ``at_least_bytes`` (by less than one item more)."""
    head = (
        b'{"apiVersion":"ray.io/v1","kind":"RayClusterList","metadata":{"resourceVersion":"999999"},"items":['
    )
    tail = b"]}"
    items: list[bytes] = []
    size = len(head) + len(tail)
    while size < at_least_bytes or not items:
        item = json.dumps(raycluster(f"rc-{len(items)}", namespace, len(items)), separators=(",", ":"))
        items.append(item.encode())
        size += len(items[-1]) + (1 if len(items) > 1 else 0)
    return head + b",".join(items) + tail


def _discovery_bodies() -> dict[str, Any]:
    """Discovery documents (APIVersions, APIGroupList, APIResourceList) a client or gateway may ask for."""
    ray_group = {
        "name": "ray.io",
        "versions": [{"groupVersion": "ray.io/v1", "version": "v1"}],
        "preferredVersion": {"groupVersion": "ray.io/v1", "version": "v1"},
    }
    resources = [
        {
            "name": plural,
            "singularName": plural[:-1],
            "namespaced": True,
            "kind": kind,
            "verbs": ["create", "delete", "deletecollection", "get", "list", "patch", "update", "watch"],
        }
        for plural, kind in [
            ("rayclusters", "RayCluster"),
            ("rayjobs", "RayJob"),
            ("rayservices", "RayService"),
        ]
    ]
    return {
        "/version": {"major": "1", "minor": "37", "gitVersion": "v1.37.0", "platform": "linux/amd64"},
        "/api": {"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []},
        "/apis": {"kind": "APIGroupList", "apiVersion": "v1", "groups": [ray_group]},
        "/apis/ray.io": {"kind": "APIGroup", "apiVersion": "v1", **ray_group},
        GROUP_PATH: {
            "kind": "APIResourceList",
            "apiVersion": "v1",
            "groupVersion": "ray.io/v1",
            "resources": resources,
        },
    }


def write_bodies(root: Path, lists: tuple[str, ...] = ("list-2k", "list-1m", "list-50m")) -> dict[str, Path]:
    """Write discovery bodies, the single object and ``lists`` under ``root``; returns {URL path: file}."""
    root.mkdir(parents=True, exist_ok=True)
    files: dict[str, Path] = {}

    def put(path: str, body: bytes) -> None:
        file = root / (path.strip("/").replace("/", "_") or "root")
        file.write_bytes(body)
        files[path] = file

    for path, doc in _discovery_bodies().items():
        put(path, json.dumps(doc).encode())
    for probe in ("/healthz", "/readyz", "/livez"):
        put(probe, b"ok")
    put(TARGETS["get"].path, json.dumps(raycluster("one", "bench", 1)).encode())
    for name in lists:
        target = TARGETS[name]
        namespace = target.path.split("/")[5]
        put(target.path, raycluster_list(namespace, target.target_bytes))
    return files


def nginx_config(files: dict[str, Path], port: int, workdir: Path) -> str:
    """An nginx.conf serving each file at its exact path as application/json, keep-alive unbounded.

    One worker process; no gzip (both proxies must carry the same bytes); no access log except
    :data:`REVIEW_LOG` for the review APIs (:data:`REVIEW_ANSWERS`, answered 201 to any method).
    """
    user = "user root;\n" if os.geteuid() == 0 else ""
    locations = "\n".join(
        f"        location = {path} {{ alias {file}; }}" for path, file in sorted(files.items())
    )
    for path, answer in REVIEW_ANSWERS.items():
        body = json.dumps(answer, separators=(",", ":"))
        locations += (
            f"\n        location = {path} {{ access_log {workdir}/{REVIEW_LOG} reviews; "
            f"return 201 '{body}'; }}"
        )
    not_found = '{"kind":"Status","apiVersion":"v1","status":"Failure","reason":"NotFound","code":404}'
    return f"""{user}worker_processes 1;
daemon off;
pid {workdir}/nginx.pid;
error_log {workdir}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    log_format reviews '$request_method $uri $status';
    default_type application/json;
    types {{ }}
    sendfile on;
    tcp_nopush on;
    tcp_nodelay on;
    gzip off;
    etag off;
    keepalive_requests 100000000;
    keepalive_timeout 300s;
    client_body_temp_path {workdir}/nginx-body;
    proxy_temp_path {workdir}/nginx-proxy;
    fastcgi_temp_path {workdir}/nginx-fastcgi;
    uwsgi_temp_path {workdir}/nginx-uwsgi;
    scgi_temp_path {workdir}/nginx-scgi;
    server {{
        listen 127.0.0.1:{port};
{locations}
        location / {{ return 404 '{not_found}'; }}
    }}
}}
"""


def start_nginx(nginx: str, workdir: Path, cpus: str) -> tuple[Service, dict[str, int]]:
    """Generate the bodies and config under ``workdir`` and start nginx pinned to ``cpus``.

    Returns the running service and {target name: body size in bytes}.  Raises RuntimeError when
    nginx does not come up.
    """
    files = write_bodies(workdir / "bodies")
    port = free_port()
    conf = workdir / "nginx.conf"
    conf.write_text(nginx_config(files, port, workdir))
    service = start_service("nginx", [nginx, "-p", str(workdir), "-c", str(conf)], port, workdir, cpus)
    try:
        wait_ready(service, "/version", timeout=10)
    except RuntimeError:
        service.stop()
        raise
    sizes = {name: files[target.path].stat().st_size for name, target in TARGETS.items()}
    return service, sizes


def review_counts(log_text: str) -> dict[str, int]:
    """{review path: requests} read from :data:`REVIEW_LOG`'s text (lines ``METHOD PATH STATUS``);
    every path of :data:`REVIEW_ANSWERS` is present (0 when never asked). A line of another shape
    (e.g. the last one half-written) is not counted."""
    counts = dict.fromkeys(REVIEW_ANSWERS, 0)
    for line in log_text.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in counts:
            counts[parts[1]] += 1
    return counts

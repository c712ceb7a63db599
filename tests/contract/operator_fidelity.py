"""Record what a KubeRay operator does with one RayCluster or RayJob, as comparable fields.

One *run* creates one sample object in a fresh namespace of a target (refkube with the real
KubeRay operator from ``infra/kuberay-operator``, or fakekube with ``--simulate-operator``),
watches ``rayclusters`` and ``rayjobs`` in that namespace until the run's end condition holds,
then reads the objects the operator created. :func:`observe` returns the run flattened to
``{field path: normalised value}``; :func:`compare` lists the paths whose values differ.

Recorded (ray-operator/apis/ray/v1/raycluster_types.go, rayjob_types.go):

- ``<kind>.transitions``: the sequence of distinct status projections the watch saw — for a
  RayCluster ``state`` and each condition's ``type=status/reason`` (sorted by type), for a RayJob
  ``jobDeploymentStatus/jobStatus`` — without the states that only races produce
  (:func:`without_races`);
- ``<kind>.status.<field>``: the final status, every field, normalised;
- ``pods[<node-type>/<group>].{name,labels,annotationKeys,ownerReferences,containers.<name>.*}`` (Ray
  Pods only: refkube runs no Job controller, so a submitter Job never has a Pod there);
- ``services[<name>].{labels,selector,ports,type,clusterIP}``;
- ``jobs[<name>].{labels,ownerReferences,backoffLimit,containers}`` (the submitter Job).

Normalised (values the API or the operator leaves to chance): the namespace; random name suffixes
(``generateName``'s 5 characters; the RayCluster a RayJob creates, ``<rayjob>-<5 chars>``,
ray-operator/controllers/ray/utils/util.go GenerateRayClusterName); IPs; timestamps; uids; the
Ray job id (``<rayjob>-<random>``, utils.GenerateRayJobId); resource versions.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.contract.client import RAY, Target, create_namespace

Json = Any
Fields = dict[str, Json]

_TS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
_IP = re.compile(r"^\d{1,3}(\.\d{1,3}){3}$")
_UID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


@dataclass
class Recorder:
    """Watches one namespaced resource on a thread and keeps every event's object."""

    target: Target
    path: str
    objects: list[Json] = field(default_factory=list)
    error: list[BaseException] = field(default_factory=list)
    _client: httpx.Client | None = None
    _thread: threading.Thread | None = None

    def start(self) -> None:
        """Open the watch (``?watch=1``); returns once the response headers arrived."""
        self._client = self.target.client(timeout=300.0)
        opened = threading.Event()

        def read() -> None:
            assert self._client is not None
            try:
                with self._client.stream("GET", f"{self.path}?watch=1&timeoutSeconds=290") as r:
                    opened.set()
                    for line in r.iter_lines():
                        if line.strip():
                            ev = json.loads(line)
                            if ev.get("type") in ("ADDED", "MODIFIED", "DELETED"):
                                self.objects.append(ev["object"])
            except (httpx.HTTPError, RuntimeError) as e:  # closed by stop()
                self.error.append(e)
            finally:
                opened.set()

        self._thread = threading.Thread(target=read, daemon=True)
        self._thread.start()
        opened.wait(30)
        time.sleep(0.2)  # let the server register the watcher

    def stop(self) -> None:
        """Close the watch."""
        if self._client is not None:
            self._client.close()
        if self._thread is not None:
            self._thread.join(5)


def _names(ns: str, rayjob: str | None, job_id: str | None, cluster: str | None) -> Callable[[str], str]:
    """A function that replaces the run's volatile names inside a string by placeholders."""
    subs: list[tuple[str, str]] = []
    if job_id:
        subs.append((job_id, "<jobId>"))
    if cluster and rayjob and cluster != rayjob:
        subs.append((cluster, "<rayjob>-<rand>"))
    subs.append((ns, "<ns>"))

    def norm(s: str) -> str:
        for old, new in subs:
            s = s.replace(old, new)
        # generateName's suffix: 5 characters from k8s.io/apiserver/pkg/storage/names (no vowels)
        return re.sub(r"-[bcdfghjklmnpqrstvwxz2456789]{5}$", "-<rand5>", s)

    return norm


def normalise(value: Json, norm: Callable[[str], str]) -> Json:
    """``value`` with timestamps, IPs and uids replaced by ``<ts>``, ``<ip>``, ``<uid>`` and names by
    ``norm``; dict keys are kept (label keys are part of the contract)."""
    if isinstance(value, dict):
        return {k: normalise(v, norm) for k, v in value.items()}
    if isinstance(value, list):
        return [normalise(v, norm) for v in value]
    if isinstance(value, str):
        if _TS.match(value):
            return "<ts>"
        if _IP.match(value):
            return "<ip>"
        if _UID.match(value):
            return "<uid>"
        return norm(value)
    return value


def cluster_projection(obj: Json) -> str:
    """A RayCluster status as one transition: ``state | Type=Status/Reason, ...``."""
    st = obj.get("status") or {}
    conds = sorted(st.get("conditions") or [], key=lambda c: c.get("type", ""))
    cs = ", ".join(f"{c.get('type')}={c.get('status')}/{c.get('reason')}" for c in conds)
    return f"{st.get('state')} | {cs}"


def job_projection(obj: Json) -> str:
    """A RayJob status as one transition: ``jobDeploymentStatus/jobStatus``."""
    st = obj.get("status") or {}
    return f"{st.get('jobDeploymentStatus')}/{st.get('jobStatus')}"


def transitions(objects: list[Json], name: str | None, projection: Callable[[Json], str]) -> list[str]:
    """Distinct consecutive projections of the watched objects named ``name`` (None: any)."""
    out: list[str] = []
    for o in objects:
        if name is not None and o["metadata"]["name"] != name:
            continue
        p = projection(o)
        if not out or out[-1] != p:
            out.append(p)
    return out


def without_races(states: list[str]) -> list[str]:
    """``states`` without the transient states whose appearance depends on a race between
    independent actors (the kubelet, the Ray job, the operator's requeue timer), not on what the
    operator decides; each is a state the operator writes only when one event happens to fall
    between two others:

    - RayCluster ``None | HeadPodReady=True/...``: the head Pod became Ready before the workers
      (the kubelet reports each Pod on its own);
    - RayCluster ``None | HeadPodReady=False/Unknown, ...`` directly followed by another
      ``HeadPodReady=False`` state: the operator wrote its first status before the kubelet's first
      Pod status (``Unknown`` is FindHeadPodReadyCondition's reason for a Pod without one);
    - RayJob ``Running/SUCCEEDED`` (or ``/FAILED``) directly before ``Complete``/``Failed``: a
      dashboard poll (every 3 s, RayJobDefaultRequeueDuration) fell between the Ray job's end and
      the submitter Job's exit.
    """
    out = []
    for i, s in enumerate(states):
        nxt = states[i + 1] if i + 1 < len(states) else ""
        if s.startswith("None | HeadPodReady=True/"):
            continue
        if s.startswith("None | HeadPodReady=False/Unknown,") and nxt.startswith(
            "None | HeadPodReady=False/"
        ):
            continue
        if re.fullmatch(r"Running/(SUCCEEDED|FAILED|STOPPED)", s) and nxt.startswith(
            ("Complete/", "Failed/")
        ):
            continue
        out.append(s)
    return out


def flatten(prefix: str, value: Json, out: Fields) -> None:
    """Flatten dicts into ``prefix.key`` paths (lists stay whole values)."""
    if isinstance(value, dict) and value:
        for k, v in sorted(value.items()):
            flatten(f"{prefix}.{k}", v, out)
    else:
        out[prefix] = value


def _containers(spec: Json) -> Json:
    """Each container's ports, command, args and env variable names, keyed by container name."""
    return {
        c.get("name"): {
            "ports": sorted(c.get("ports") or [], key=lambda p: p.get("containerPort", 0)),
            "command": c.get("command"),
            "args": c.get("args"),
            "env": sorted(e["name"] for e in c.get("env") or []),
        }
        for c in spec.get("containers") or []
    }


def _get(c: httpx.Client, path: str) -> Json:
    r = c.get(path)
    r.raise_for_status()
    return r.json()


def _objects(c: httpx.Client, ns: str, out: Fields, norm: Callable[[str], str]) -> None:
    """Add the pods, services and batch Jobs in ``ns`` to ``out``."""
    for pod in _get(c, f"/api/v1/namespaces/{ns}/pods")["items"]:
        lab = pod["metadata"].get("labels") or {}
        if "ray.io/node-type" not in lab:  # the submitter Job's Pod: refkube runs no Job controller
            continue
        key = f"pods[{lab.get('ray.io/node-type')}/{lab.get('ray.io/group')}]"
        if f"{key}.name" in out:  # several replicas: the first one stands for the group
            continue
        body = {
            "name": pod["metadata"]["name"],
            "generateName": pod["metadata"].get("generateName"),
            "labels": lab,
            "annotationKeys": sorted(pod["metadata"].get("annotations") or {}),
            "ownerReferences": pod["metadata"].get("ownerReferences"),
            "containers": _containers(pod["spec"]),
            "phase": pod.get("status", {}).get("phase"),
        }
        flatten(key, normalise(body, norm), out)
    for svc in _get(c, f"/api/v1/namespaces/{ns}/services")["items"]:
        key = f"services[{norm(svc['metadata']['name'])}]"
        spec = svc["spec"]
        body = {
            "labels": svc["metadata"].get("labels"),
            "ownerReferences": svc["metadata"].get("ownerReferences"),
            "selector": spec.get("selector"),
            "ports": spec.get("ports"),
            "type": spec.get("type"),
            "clusterIP": spec.get("clusterIP"),
            "publishNotReadyAddresses": spec.get("publishNotReadyAddresses"),
        }
        flatten(key, normalise(body, norm), out)
    for job in _get(c, f"/apis/batch/v1/namespaces/{ns}/jobs")["items"]:
        key = f"jobs[{norm(job['metadata']['name'])}]"
        body = {
            "labels": job["metadata"].get("labels"),
            "ownerReferences": job["metadata"].get("ownerReferences"),
            "backoffLimit": job["spec"].get("backoffLimit"),
            "podLabels": job["spec"]["template"].get("metadata", {}).get("labels"),
            "restartPolicy": job["spec"]["template"]["spec"].get("restartPolicy"),
            "containers": _containers(job["spec"]["template"]["spec"]),
            "conditions": [
                f"{x['type']}={x['status']}/{x.get('reason')}"
                for x in job.get("status", {}).get("conditions") or []
            ],
        }
        flatten(key, normalise(body, norm), out)


def observe(target: Target, manifest: Json, timeout: float = 120.0) -> Fields:
    """Create ``manifest`` (a RayCluster or RayJob) in a fresh namespace of ``target``; wait until
    the RayCluster is ``ready`` with all Pods Running (a RayCluster) or the RayJob's
    ``jobDeploymentStatus`` is Complete or Failed (a RayJob); return the run's fields.

    Raises TimeoutError (with the transitions seen so far) when the end is not reached in
    ``timeout`` seconds, and httpx.HTTPStatusError when a request fails.
    """
    ns = create_namespace(target, prefix="opfid")
    kind = manifest["kind"]
    name = manifest["metadata"]["name"]
    clusters = Recorder(target, f"{RAY}/namespaces/{ns}/rayclusters")
    rayjobs = Recorder(target, f"{RAY}/namespaces/{ns}/rayjobs")
    clusters.start()
    rayjobs.start()
    plural = "rayclusters" if kind == "RayCluster" else "rayjobs"
    try:
        with target.client() as c:
            r = c.post(f"{RAY}/namespaces/{ns}/{plural}", json=manifest)
            r.raise_for_status()
            deadline = time.monotonic() + timeout
            while True:
                obj = _get(c, f"{RAY}/namespaces/{ns}/{plural}/{name}")
                st = obj.get("status") or {}
                if kind == "RayCluster":
                    pods = _get(c, f"/api/v1/namespaces/{ns}/pods")["items"]
                    running = all(p["status"].get("phase") == "Running" for p in pods)
                    workers = (st.get("readyWorkerReplicas") or 0) >= (st.get("desiredWorkerReplicas") or 0)
                    done = st.get("state") == "ready" and running and workers
                else:
                    done = st.get("jobDeploymentStatus") in ("Complete", "Failed")
                if done:
                    break
                if time.monotonic() > deadline:
                    raise TimeoutError(
                        f"{target.name}: {kind} {name} did not finish in {timeout}s; clusters: "
                        f"{transitions(clusters.objects, None, cluster_projection)}; jobs: "
                        f"{transitions(rayjobs.objects, None, job_projection)}"
                    )
                time.sleep(0.2)
            time.sleep(1.0)  # the last watch events, and nothing else should change
            final = _get(c, f"{RAY}/namespaces/{ns}/{plural}/{name}")
            rayjob = final if kind == "RayJob" else None
            cluster_name = rayjob["status"].get("rayClusterName") if rayjob else name
            job_id = rayjob["status"].get("jobId") if rayjob else None
            norm = _names(ns, name if rayjob else None, job_id, cluster_name)
            out: Fields = {}
            out["raycluster.transitions"] = without_races(
                transitions(clusters.objects, cluster_name, cluster_projection)
            )
            cluster = _get(c, f"{RAY}/namespaces/{ns}/rayclusters/{cluster_name}")
            flatten("raycluster.status", normalise(cluster.get("status") or {}, norm), out)
            meta = cluster["metadata"]
            flatten("raycluster.metadata.labels", normalise(meta.get("labels") or {}, norm), out)
            out["raycluster.metadata.ownerReferences"] = normalise(meta.get("ownerReferences"), norm)
            if rayjob is not None:
                out["rayjob.transitions"] = without_races(transitions(rayjobs.objects, name, job_projection))
                flatten("rayjob.status", normalise(rayjob.get("status") or {}, norm), out)
            _objects(c, ns, out, norm)
            return out
    finally:
        clusters.stop()
        rayjobs.stop()


def compare(real: Fields, simulated: Fields) -> tuple[list[str], int]:
    """The differing fields as ``path: real <value> vs simulated <value>`` lines, and how many
    fields were compared (the union of both runs' paths)."""
    paths = sorted(set(real) | set(simulated))
    diffs = []
    missing = object()
    for p in paths:
        a, b = real.get(p, missing), simulated.get(p, missing)
        if a != b:
            ra = "<absent>" if a is missing else json.dumps(a)
            rb = "<absent>" if b is missing else json.dumps(b)
            diffs.append(f"{p}: real {ra} vs simulated {rb}")
    return diffs, len(paths)

"""Generate the bundled Ray CRDs: ``python -m fakekube.crd.builtin.generate [--check]``.

The Ray-level schema comes from :mod:`fakekube.crd.builtin.ray_types`; every ``{"$k8s": NAME}``
placeholder is replaced by the Kubernetes OpenAPI definition ``NAME`` from the
``kubernetes-validate`` package (its ``v1.37.0-local/_definitions.json``, JSON Schema
converted from the Kubernetes OpenAPI), turned into a structural CRD schema the way
controller-gen renders Kubernetes types:

- ``$ref`` inlined; ``type: [T, "null"]`` becomes ``type: T``; ``additionalProperties: false``
  dropped (unknown fields are pruned instead); keywords that CRDs do not accept
  (``x-kubernetes-patch-*``, ``x-kubernetes-group-version-kind``, ``x-kubernetes-unions``),
  the enums of Kubernetes string types (controller-gen does not emit them) and the
  descriptions of Kubernetes types dropped (Ray-level fields keep ours);
- ``IntOrString`` becomes ``anyOf: [integer, string]`` + ``x-kubernetes-int-or-string``;
  ``Quantity`` the same plus the quantity ``pattern`` of
  ``k8s.io/apimachinery/pkg/api/resource/quantity.go`` (as ``+kubebuilder`` renders it);
- ``ObjectMeta`` inside a template is reduced to name, namespace, labels, annotations and
  finalizers (controller-gen's embedded ObjectMeta);
- a ``x-kubernetes-list-map-keys`` key that is not required gets its API default (``protocol:
  TCP``, ``name: ""``, from ``k8s.io/api/core/v1/types.go``), as a structural schema requires.

``--check`` exits 1 when the files on disk differ from what would be generated.
"""

from __future__ import annotations

import argparse
import json
import sys
from importlib import resources
from pathlib import Path
from typing import Any

from fakekube.crd.builtin import ray_types as R
from kubeapi.types import JSON

HERE = Path(__file__).resolve().parent
# The Kubernetes API level of the pod/service schemas: KubeRay's published CRDs are generated from
# k8s.io/api v0.36 (same PodSpec fields), so ours use 1.36 too and prune exactly what theirs prune.
K8S_VERSION = "v1.36.0"
GROUP = "ray.io"
_DECIMAL = r"(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))"
QUANTITY_PATTERN = rf"^(\+|-)?{_DECIMAL}(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?{_DECIMAL}))?$"
_KEEP = {
    "description",
    "type",
    "format",
    "required",
    "properties",
    "items",
    "additionalProperties",
    "x-kubernetes-list-type",
    "x-kubernetes-list-map-keys",
    "x-kubernetes-map-type",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "pattern",
    "default",
    "enum",
    "nullable",
    "anyOf",
    "x-kubernetes-int-or-string",
    "x-kubernetes-validations",
}
# API defaults of list-map keys that are optional in the Kubernetes types (core/v1 types.go:
# `+default="TCP"` on protocols, `+default=""` on LocalObjectReference.name).
_MAP_KEY_DEFAULTS = {"protocol": "TCP", "name": ""}
# Validation markers that exist only as `+kubebuilder:validation` comments in the Go types, not in
# the published OpenAPI: meta/v1 Condition (k8s.io/apimachinery/pkg/apis/meta/v1/types.go) and
# core/v1 PortStatus.error (k8s.io/api/core/v1/types.go, `+kubebuilder:validation:Required`).
_CONDITION_REASON = "^[A-Za-z]([A-Za-z0-9_,:]*[A-Za-z0-9_])?$"
_CONDITION_TYPE = (
    r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$"
)
_MARKERS: dict[str, dict[str, JSON]] = {
    "io.k8s.apimachinery.pkg.apis.meta.v1.Condition": {
        "type": {"pattern": _CONDITION_TYPE, "maxLength": 316},
        "status": {"enum": ["True", "False", "Unknown"]},
        "observedGeneration": {"minimum": 0},
        "reason": {"pattern": _CONDITION_REASON, "minLength": 1, "maxLength": 1024},
        "message": {"maxLength": 32768},
    },
    "io.k8s.api.core.v1.PortStatus": {"error": {"pattern": _CONDITION_TYPE, "maxLength": 316}},
}
_MARKED_REQUIRED = {"io.k8s.api.core.v1.PortStatus": ["error"]}
_EMBEDDED_META = {
    "type": "object",
    "properties": {
        "name": {"type": "string"},
        "namespace": {"type": "string"},
        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        "annotations": {"type": "object", "additionalProperties": {"type": "string"}},
        "finalizers": {"type": "array", "items": {"type": "string"}},
    },
}


def load_definitions() -> dict[str, JSON]:
    """The Kubernetes definitions (name -> JSON Schema) shipped by ``kubernetes-validate``."""
    root = resources.files("kubernetes_validate") / "kubernetes-json-schema" / f"{K8S_VERSION}-local"
    data: JSON = json.loads((root / "_definitions.json").read_text())
    defs: dict[str, JSON] = data["$defs"]
    return defs


class Expander:
    """Turns ``$k8s`` placeholders and ``$ref`` into structural CRD schema (see module doc)."""

    def __init__(self, defs: dict[str, JSON]) -> None:
        self.defs = defs

    def named(self, name: str, description: str | None = None) -> JSON:
        """The structural schema of definition ``name`` (with ``description`` when given)."""
        if name.endswith(".IntOrString") or name.endswith(".Quantity"):
            out: JSON = {
                "anyOf": [{"type": "integer"}, {"type": "string"}],
                "x-kubernetes-int-or-string": True,
            }
            if name.endswith(".Quantity"):
                out["pattern"] = QUANTITY_PATTERN
        elif name.endswith("meta.v1.ObjectMeta"):
            out = json.loads(json.dumps(_EMBEDDED_META))
        else:
            out = self.convert(self.defs[name])
            for prop, extra in _MARKERS.get(name, {}).items():
                out["properties"][prop].update(extra)
            if name in _MARKED_REQUIRED:
                out["required"] = sorted({*out.get("required", ()), *_MARKED_REQUIRED[name]})
        if description:
            out = {"description": description, **{k: v for k, v in out.items() if k != "description"}}
        return out

    def convert(self, s: JSON) -> JSON:
        """Convert one JSON Schema node (resolving ``$ref``)."""
        if "$ref" in s:
            return self.named(s["$ref"].rsplit("/", 1)[-1], s.get("description"))
        if "$k8s" in s:
            return self.named(s["$k8s"], s.get("description"))
        out: JSON = {}
        for k, v in s.items():
            if k not in _KEEP:
                continue
            if k == "type":
                types = [t for t in (v if isinstance(v, list) else [v]) if t != "null"]
                if len(types) == 1:
                    out["type"] = types[0]
            elif k == "properties":
                out[k] = {name: self.convert(sub) for name, sub in v.items()}
            elif k == "items":
                out[k] = self.convert(v)
            elif k == "additionalProperties":
                if isinstance(v, dict):
                    out[k] = self.convert(v)
            else:
                out[k] = v
        self._default_map_keys(out)
        return out

    def _default_map_keys(self, out: JSON) -> None:
        keys = out.get("x-kubernetes-list-map-keys")
        items = out.get("items")
        if not keys or not isinstance(items, dict):
            return
        required = set(items.get("required") or ())
        for key in keys:
            prop = items.get("properties", {}).get(key)
            if key in required or prop is None or "default" in prop:
                continue
            if key not in _MAP_KEY_DEFAULTS:
                raise ValueError(f"list-map key {key!r} is optional and has no known default")
            prop["default"] = _MAP_KEY_DEFAULTS[key]


def _strip_k8s_docs(defs: dict[str, JSON]) -> dict[str, JSON]:
    """The Kubernetes definitions without ``enum`` (controller-gen emits none for them) and
    without ``description`` (like KubeRay's CRDs; keeps each file ~300 KB instead of ~3 MB)."""

    def walk(x: Any) -> Any:
        if isinstance(x, dict):
            return {k: walk(v) for k, v in x.items() if k not in ("enum", "description")}
        if isinstance(x, list):
            return [walk(v) for v in x]
        return x

    return {k: walk(v) for k, v in defs.items()}


def _version(name: str, schema: JSON, storage: bool, kind: str, columns: list[JSON]) -> JSON:
    doc: JSON = {"name": name, "served": True, "storage": storage}
    if not storage:
        doc["deprecated"] = True
        doc["deprecationWarning"] = f"ray.io/{name} {kind} is deprecated; use ray.io/v1 {kind}"
    if columns:
        doc["additionalPrinterColumns"] = columns
    doc["schema"] = {"openAPIV3Schema": schema}
    doc["subresources"] = {"status": {}}
    return doc


def _col(name: str, path: str, type_: str = "string", priority: int = 0) -> JSON:
    c: JSON = {"name": name, "type": type_, "jsonPath": path}
    if priority:
        c["priority"] = priority
    return c


AGE = _col("age", ".metadata.creationTimestamp", "date")


def _columns(spec: dict[str, Any], version: str) -> list[JSON]:
    """A version's printer columns: the official CRDs give RayJob's and RayService's v1alpha1 none."""
    return [] if spec.get("v1_only_columns") and version != "v1" else list(spec["columns"])
KINDS: list[dict[str, Any]] = [
    {
        "kind": "RayCluster",
        "versions": {
            "v1": (R.ray_cluster_spec(), R.ray_cluster_status()),
            "v1alpha1": (R.ray_cluster_spec(alpha=True), R.ray_cluster_status(alpha=True)),
        },
        "columns": [
            _col("desired workers", ".status.desiredWorkerReplicas", "integer"),
            _col("available workers", ".status.availableWorkerReplicas", "integer"),
            _col("cpus", ".status.desiredCPU"),
            _col("memory", ".status.desiredMemory"),
            _col("gpus", ".status.desiredGPU"),
            _col("tpus", ".status.desiredTPU", priority=1),
            _col("status", ".status.state"),
            AGE,
            _col("head pod IP", ".status.head.podIP", priority=1),
            _col("head service IP", ".status.head.serviceIP", priority=1),
        ],
    },
    {
        "kind": "RayJob",
        "versions": {
            "v1": (R.ray_job_spec(), R.ray_job_status()),
            "v1alpha1": (R.ray_job_spec(alpha=True), R.ray_job_status(alpha=True)),
        },
        "columns": [
            _col("job status", ".status.jobStatus"),
            _col("deployment status", ".status.jobDeploymentStatus"),
            _col("ray cluster name", ".status.rayClusterName"),
            _col("start time", ".status.startTime"),
            _col("end time", ".status.endTime"),
            AGE,
        ],
        "v1_only_columns": True,
    },
    {
        "kind": "RayService",
        "versions": {
            "v1": (R.ray_service_spec(), R.ray_service_status()),
            "v1alpha1": (R.ray_service_spec(alpha=True), R.ray_service_status(alpha=True)),
        },
        "columns": [
            _col("service status", ".status.serviceStatus"),
            _col("num serve endpoints", ".status.numServeEndpoints"),
        ],
        "v1_only_columns": True,
    },
    {
        "kind": "RayCronJob",
        "versions": {"v1": (R.ray_cron_job_spec(), R.ray_cron_job_status())},
        "columns": [
            _col("schedule", ".spec.schedule"),
            _col("timezone", ".spec.timeZone"),
            _col("last schedule", ".status.lastScheduleTime", "date"),
            AGE,
            _col("suspend", ".spec.suspend", "boolean"),
        ],
    },
]


def build_crds(defs: dict[str, JSON] | None = None) -> list[JSON]:
    """The four CRD documents (dicts), in ``KINDS`` order."""
    expander = Expander(_strip_k8s_docs(defs if defs is not None else load_definitions()))
    out = []
    for spec in KINDS:
        kind: str = spec["kind"]
        plural = kind.lower() + "s"
        versions = [
            _version(name, expander.convert(R.root(kind, s, st)), name == "v1", kind, _columns(spec, name))
            for name, (s, st) in spec["versions"].items()
        ]
        out.append(
            {
                "apiVersion": "apiextensions.k8s.io/v1",
                "kind": "CustomResourceDefinition",
                "metadata": {
                    "name": f"{plural}.{GROUP}",
                    "annotations": {
                        "fakekube.io/generated-by": "python -m fakekube.crd.builtin.generate (do not edit)"
                    },
                },
                "spec": {
                    "group": GROUP,
                    "names": {
                        "kind": kind,
                        "listKind": kind + "List",
                        "plural": plural,
                        "singular": kind.lower(),
                        "categories": ["all"],
                    },
                    "scope": "Namespaced",
                    "versions": versions,
                },
            }
        )
    return out


def render(doc: JSON) -> str:
    """JSON text of one generated CRD (JSON, not YAML: it loads in ~10 ms instead of ~300 ms)."""
    return json.dumps(doc, indent=1, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write (or with ``--check`` compare) ``ray.io_<plural>.json`` beside this module."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--check", action="store_true", help="fail when the files are out of date")
    args = ap.parse_args(argv)
    stale = []
    for doc in build_crds():
        path = HERE / f"ray.io_{doc['spec']['names']['plural']}.json"
        text = render(doc)
        if args.check:
            if not path.exists() or path.read_text() != text:
                stale.append(path.name)
        else:
            path.write_text(text)
    if stale:
        print("out of date:", ", ".join(stale), file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

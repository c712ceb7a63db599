"""A deterministic corpus of mutated KubeRay samples: wrong types, missing fields, bad values, unknown fields.

Every Ray object of the official samples yields a few mutants of each family, at paths chosen
by a seeded RNG over all of the object's paths (Ray-level and pod-template level alike):

- ``type``: a leaf or container replaced by a value of another JSON type;
- ``missing``: a key deleted (required or not: both CRDs must agree either way);
- ``value``: a string replaced by a value no enum, pattern or format would accept;
- ``unknown``: an unknown key added to an object.
"""

from __future__ import annotations

import copy
import random
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

RAY_KINDS = {"RayCluster", "RayJob", "RayService", "RayCronJob"}
Path_ = tuple[str | int, ...]


@dataclass(frozen=True)
class Mutant:
    """One mutated object: ``label`` says which sample, family and path."""

    label: str
    kind: str
    version: str
    obj: dict[str, Any]


def ray_samples(samples_dir: Path) -> list[tuple[str, dict[str, Any]]]:
    """``(file:index, object)`` for every Ray object in ``samples_dir/*.yaml``."""
    out = []
    for f in sorted(samples_dir.glob("*.yaml")):
        for i, doc in enumerate(yaml.safe_load_all(f.read_text())):
            if isinstance(doc, dict) and doc.get("kind") in RAY_KINDS:
                out.append((f"{f.name}:{i}", doc))
    return out


def _paths(x: Any, prefix: Path_ = ()) -> Iterator[tuple[Path_, Any]]:
    if isinstance(x, dict):
        for k, v in x.items():
            yield (*prefix, k), v
            yield from _paths(v, (*prefix, k))
    elif isinstance(x, list):
        for i, v in enumerate(x):
            yield (*prefix, i), v
            yield from _paths(v, (*prefix, i))


def _parent(obj: Any, path: Path_) -> Any:
    for p in path[:-1]:
        obj = obj[p]
    return obj


def _fmt(path: Path_) -> str:
    out = ""
    for p in path:
        out += f"[{p}]" if isinstance(p, int) else (f".{p}" if out else p)
    return out


def _other_type(v: Any) -> Any:
    if isinstance(v, bool):
        return "yes"
    if isinstance(v, int | float):
        return "not-a-number"
    if isinstance(v, str):
        return {"unexpected": "object"}
    if isinstance(v, list):
        return "not-a-list"
    if isinstance(v, dict):
        return ["not", "an", "object"]
    return 1


def _variants(samples_dir: Path, per_family: int) -> Iterator[tuple[str, dict[str, Any], int]]:
    """Each sample as is, and (except RayCronJob, served as v1 only) as ``ray.io/v1alpha1``."""
    for label, doc in ray_samples(samples_dir):
        yield label, doc, per_family
        if doc["kind"] != "RayCronJob":
            alpha = {**doc, "apiVersion": "ray.io/v1alpha1"}
            yield f"{label}@v1alpha1", alpha, max(1, per_family // 3)


FAMILIES = ("type", "missing", "value", "unknown")


def mutate(doc: dict[str, Any], family: str, rng: random.Random) -> tuple[str, dict[str, Any]] | None:
    """One mutant of ``doc`` in ``family`` at a path chosen by ``rng``: (path, object), or None
    when ``doc`` has no path the family applies to."""
    under_spec = [(p, v) for p, v in _paths(doc) if p[0] == "spec"]
    if family == "value":
        picks = [(p, v) for p, v in under_spec if isinstance(v, str) and not isinstance(p[-1], int)]
    elif family == "unknown":
        picks = [(("spec",), doc["spec"])] + [(p, v) for p, v in under_spec if isinstance(v, dict)]
    else:
        picks = [(p, v) for p, v in under_spec if not isinstance(p[-1], int)]
    if not picks:
        return None
    path, value = rng.choice(picks)
    m = copy.deepcopy(doc)
    parent = _parent(m, path)
    if family == "type":
        parent[path[-1]] = _other_type(value)
    elif family == "missing":
        del parent[path[-1]]
    elif family == "value":
        parent[path[-1]] = "Not_A valid/VALUE!"
    else:
        parent[path[-1]]["fakekubeUnknownField"] = 1
    return _fmt(path), m


def mutants(samples_dir: Path, per_family: int = 6, seed: int = 7) -> list[Mutant]:
    """The corpus: ``per_family`` mutants of each family per Ray sample object, fewer for its
    ``v1alpha1`` variant, plus each ``v1alpha1`` variant unmutated (v1-only fields are unknown
    there)."""
    out: list[Mutant] = []
    for label, doc, count in _variants(samples_dir, per_family):
        rng = random.Random(f"{seed}:{label}")
        version = doc["apiVersion"].split("/", 1)[1]
        if version != "v1":
            out.append(Mutant(f"{label} as-is", doc["kind"], version, copy.deepcopy(doc)))
        under_spec = [(p, v) for p, v in _paths(doc) if p[0] == "spec"]
        strings = [(p, v) for p, v in under_spec if isinstance(v, str) and not isinstance(p[-1], int)]
        keyed = [(p, v) for p, v in under_spec if not isinstance(p[-1], int)]
        objects = [(("spec",), doc["spec"])] + [(p, v) for p, v in under_spec if isinstance(v, dict)]
        families: dict[str, list[tuple[Path_, Any]]] = {
            "type": rng.sample(keyed, min(count, len(keyed))),
            "missing": rng.sample(keyed, min(count, len(keyed))),
            "value": rng.sample(strings, min(count, len(strings))),
            "unknown": rng.sample(objects, min(count, len(objects))),
        }
        for family, picks in families.items():
            for path, value in picks:
                m = copy.deepcopy(doc)
                parent = _parent(m, path)
                if family == "type":
                    parent[path[-1]] = _other_type(value)
                elif family == "missing":
                    del parent[path[-1]]
                elif family == "value":
                    parent[path[-1]] = "Not_A valid/VALUE!"
                else:
                    parent[path[-1]]["fakekubeUnknownField"] = 1
                out.append(Mutant(f"{label} {family} {_fmt(path)}", doc["kind"], version, m))
    return out

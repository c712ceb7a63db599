"""Every Ray object in the official KubeRay samples is created, read back, listed and deleted."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import yaml

PLURALS = {
    "RayCluster": "rayclusters",
    "RayJob": "rayjobs",
    "RayService": "rayservices",
    "RayCronJob": "raycronjobs",
}


def ray_documents(samples: Path) -> list[tuple[str, dict[str, Any]]]:
    """(file name, document) for each ray.io document in ``samples/*.yaml`` (other kinds skipped)."""
    out = []
    for f in sorted(samples.glob("*.yaml")):
        for doc in yaml.safe_load_all(f.read_text()):
            if isinstance(doc, dict) and str(doc.get("apiVersion", "")).startswith("ray.io/"):
                out.append((f.name, doc))
    return out


def contains(have: Any, want: Any) -> bool:
    """Whether ``have`` holds everything in ``want`` (maps may have more keys; lists match by position;
    a null in ``want`` may be gone, as the server drops non-nullable nulls)."""
    if isinstance(want, dict):
        return isinstance(have, dict) and all(
            (k in have and contains(have[k], v)) or (v is None and k not in have) for k, v in want.items()
        )
    if isinstance(want, list):
        return isinstance(have, list) and len(have) == len(want) and all(map(contains, have, want))
    return bool(have == want)


def test_every_sample_ray_object_roundtrips(fakekube_url: str, namespace: str, kuberay_dir: Path) -> None:
    docs = ray_documents(kuberay_dir / "samples")
    assert len(docs) >= 50, "expected the KubeRay samples to hold many Ray objects"
    base = f"{fakekube_url}/apis/ray.io/v1/namespaces/{namespace}"
    created: dict[str, list[str]] = {}
    with httpx.Client() as c:
        for i, (fname, doc) in enumerate(docs):
            meta = dict(doc["metadata"])
            meta.pop("namespace", None)
            if "name" in meta:  # unique across files; generateName samples keep their prefix
                meta["name"] = f"s{i}-{meta['name']}"[:63].rstrip("-.")
            doc = {**doc, "metadata": meta}
            plural = PLURALS[doc["kind"]]
            r = c.post(f"{base}/{plural}", json=doc)
            assert r.status_code == 201, (fname, r.text)
            name = r.json()["metadata"]["name"]
            got = c.get(f"{base}/{plural}/{name}").json()
            # the server may add schema defaults; everything the sample says must be kept
            assert contains(got["spec"], doc["spec"]), fname
            assert got["metadata"].get("labels") == doc["metadata"].get("labels"), fname
            created.setdefault(plural, []).append(name)
        for plural, names in created.items():
            listed = c.get(f"{base}/{plural}").json()
            assert sorted(i["metadata"]["name"] for i in listed["items"]) == sorted(names)
            for name in names:
                r = c.delete(f"{base}/{plural}/{name}")
                assert r.status_code == 200 and r.json()["status"] == "Success", r.text
            assert c.get(f"{base}/{plural}").json()["items"] == []
    assert set(created) == set(PLURALS.values())

"""The static upstream's generated bodies are real RayClusterLists of the advertised sizes."""

import json
from pathlib import Path

from benchmarks.upstream import TARGETS, nginx_config, raycluster_list, write_bodies


def test_list_is_at_least_the_target_size_and_within_one_item() -> None:
    body = raycluster_list("bench-1m", 1024**2)
    doc = json.loads(body)
    assert doc["kind"] == "RayClusterList" and doc["apiVersion"] == "ray.io/v1"
    last = len(json.dumps(doc["items"][-1], separators=(",", ":")))
    assert 1024**2 <= len(body) < 1024**2 + last + 1
    assert {i["metadata"]["namespace"] for i in doc["items"]} == {"bench-1m"}
    assert len({i["metadata"]["name"] for i in doc["items"]}) == len(doc["items"])


def test_every_target_path_is_served_by_an_exact_location(tmp_path: Path) -> None:
    files = write_bodies(tmp_path, lists=("list-2k", "list-1m"))
    conf = nginx_config(files, 8080, tmp_path)
    for name in ("get", "list-2k", "list-1m"):
        assert f"location = {TARGETS[name].path} {{ alias {files[TARGETS[name].path]}; }}" in conf
    assert "listen 127.0.0.1:8080;" in conf

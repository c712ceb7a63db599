"""Writes through the gateway into fakekube: creates/s and merge patches/s, against ``kubectl proxy``.

wrk drives both with Lua scripts (``lua/body.lua`` POSTs a RayCluster with ``generateName``;
``lua/merge_patch.lua`` sends RFC 7386 merge patches that each change a label of one object).
One fakekube serves the whole benchmark; both proxies stay up and are measured alternately, so the
store grows equally under each.  Figures are requests/s (only 2xx count: wrk reports others as
errors, listed in the notes).
"""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.context import Context, Outcome
from benchmarks.results import Figure
from benchmarks.servers import start_fakekube, start_gateway, start_kubectl_proxy
from benchmarks.system import http_request, running
from benchmarks.upstream import raycluster
from benchmarks.wrk import WrkResult, run_wrk

TITLE = "Writes through the proxy into fakekube: creates/s and merge patches/s"
LUA = Path(__file__).resolve().parent / "lua"
NAMESPACE = "default"
COLLECTION = f"/apis/ray.io/v1/namespaces/{NAMESPACE}/rayclusters"
CONNECTIONS = 32


def create_body(workdir: Path) -> Path:
    """A RayCluster to POST, named by ``generateName`` so each identical request creates a new object."""
    obj = raycluster("unused", NAMESPACE, 0)
    del obj["status"]
    meta = obj["metadata"]
    for key in ("name", "uid", "resourceVersion", "generation", "creationTimestamp"):
        del meta[key]
    meta["generateName"] = "bench-"
    path = workdir / "create-body.json"
    path.write_text(json.dumps(obj))
    return path


def create_env(body: Path) -> dict[str, str]:
    """Environment for ``lua/body.lua`` to POST ``body`` as JSON."""
    return {"BENCH_BODY_FILE": str(body), "BENCH_METHOD": "POST", "BENCH_CONTENT_TYPE": "application/json"}


def seed_patch_target(port: int, name: str = "patch-target") -> str:
    """Create the RayCluster the merge patches hit; returns its path. Raises RuntimeError if refused."""
    obj = raycluster(name, NAMESPACE, 0)
    del obj["status"]
    for key in ("uid", "resourceVersion", "generation", "creationTimestamp"):
        del obj["metadata"][key]
    status, body = http_request(port, "POST", COLLECTION, json.dumps(obj).encode())
    if status not in (200, 201, 409):
        raise RuntimeError(f"could not create {name}: {status} {body[:300]!r}")
    return f"{COLLECTION}/{name}"


def run(ctx: Context) -> Outcome:
    """Creates then patches, ``ctx.rounds`` quiet alternating rounds each, gateway vs kubectl proxy."""
    body = create_body(ctx.workdir)
    with running(start_fakekube(ctx.workdir, ctx.layout.client)) as fake:
        patch_path = seed_patch_target(fake.port)
        gateway = start_gateway(fake.url, ctx.workdir, ctx.layout.server, ctx.workers, patch_path)
        with (
            running(gateway),
            running(
                start_kubectl_proxy(fake.url, ctx.workdir, ctx.layout.server, ready_path=patch_path)
            ) as kproxy,
        ):
            sides = {"gateway": gateway, "kubectl proxy": kproxy}
            ops: dict[str, tuple[str, Path, dict[str, str]]] = {
                "creates": (COLLECTION, LUA / "body.lua", create_env(body)),
                "merge_patches": (patch_path, LUA / "merge_patch.lua", {}),
            }
            figures: list[Figure] = []
            errors: list[str] = []
            for op, (path, script, env) in ops.items():

                def measure(
                    side: str, path: str = path, script: Path = script, env: dict[str, str] = env
                ) -> WrkResult:
                    return run_wrk(
                        ctx.tools["wrk"],
                        sides[side].url + path,
                        CONNECTIONS,
                        ctx.duration_s,
                        ctx.layout.client,
                        script=script,
                        env=env,
                    )

                rounds = ctx.alternate(op, list(sides), measure)
                samples = rounds.samples
                for side, results in samples.items():
                    errors += [
                        f"{side} {op} round {i}: {r.errors} errors" for i, r in enumerate(results) if r.errors
                    ]
                figures.append(
                    Figure(
                        key=f"writes.{op}.rps",
                        label=f"{op.replace('_', ' ')} per second (c{CONNECTIONS})",
                        unit="req/s",
                        better="higher",
                        subject_raw=[r.rps for r in samples["gateway"]],
                        reference_raw=[r.rps for r in samples["kubectl proxy"]],
                        reference_name="kubectl proxy",
                        rounds=rounds.name,
                    )
                )
                figures.append(
                    Figure(
                        key=f"writes.{op}.p99_ms",
                        label=f"{op.replace('_', ' ')} p99 (c{CONNECTIONS})",
                        unit="ms",
                        better="lower",
                        subject_raw=[r.p99_ms for r in samples["gateway"]],
                        reference_raw=[r.p99_ms for r in samples["kubectl proxy"]],
                        reference_name="kubectl proxy",
                        checked=False,  # tail latency of a shared machine; throughput is checked
                        rounds=rounds.name,
                    )
                )
    notes = [f"fakekube on the load generator's CPU; wrk -t1 -c{CONNECTIONS}, {ctx.duration_s:g} s per run"]
    if errors:
        notes.append("wrk reported errors (non-2xx or socket): " + "; ".join(errors))
    return Outcome(figures, notes)

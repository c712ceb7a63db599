"""``python -m benchmarks.soak``: the gateway under mixed load for a long time, its upstream cut twice.

Issue 13's soak (``make soak``: 30 minutes; ``--duration`` for a shorter proof run). Set-up:

    clients ──► kuberay-apiserver serve ──► cut-able TCP proxy ──► fakekube serve
                                                 (killed and restarted)   ▲
    truth watcher ───────────────────────────────────────────────────────┘ (direct)

The upstream is "killed" by killing the TCP proxy process between the gateway and fakekube (an
in-memory fakekube that restarted would be a new, empty cluster, so resuming from a
resourceVersion could not be judged); it is restarted 5 s later on the same port. Load:

- ``--watches`` (100) informer-style clients: list, then watch from the list's resourceVersion with
  bookmarks and a random ``timeoutSeconds``, re-watching from the last resourceVersion seen (event
  or bookmark) whenever a stream ends or fails, relisting only on 410 ``Expired``;
- ``--writers`` (4) clients creating, patching and deleting their own RayClusters;
- ``--readers`` (2) clients listing and getting.

Judged: errors (transport failures and 5xx answers) outside the restart windows (each from the
kill until 10 s after the proxy is back) must be 0; every informer must have seen every event of
the truth watcher within its window exactly once (lost and duplicated events: 0); RSS and open
file descriptors of the gateway (main process and granian worker) and of fakekube are sampled
every ``--sample`` seconds. The table goes to ``benchmarks/RESULTS.md`` (between the soak markers;
``make bench`` keeps it) and the exit status is 1 when a judged figure is not 0.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from benchmarks.results import RESULTS_MD, SOAK_END, SOAK_START
from tests.procs import free_port, stop_server, wait_healthy

NS = "soak"
RC = f"/apis/ray.io/v1/namespaces/{NS}/rayclusters"
BIN = Path(sys.executable).parent


def raycluster(name: str) -> dict[str, Any]:
    """A small valid RayCluster."""
    container = {"name": "ray-head", "image": "rayproject/ray:2.9.0"}
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {"name": name, "labels": {"soak": "1"}},
        "spec": {"headGroupSpec": {"rayStartParams": {}, "template": {"spec": {"containers": [container]}}}},
    }


@dataclass
class Soak:
    """What the run measured (times are seconds since the start)."""

    t0: float = field(default_factory=time.monotonic)
    windows: list[tuple[float, float]] = field(default_factory=list)
    errors: list[tuple[float, str]] = field(default_factory=list)
    requests: int = 0
    truth: list[tuple[str, str, str]] = field(default_factory=list)
    seen: dict[int, list[tuple[str, str, str]]] = field(default_factory=dict)
    spans: dict[int, list[tuple[int, int]]] = field(default_factory=dict)
    relists: int = 0
    rewatches: int = 0
    samples: list[dict[str, float]] = field(default_factory=list)
    stop: bool = False

    def now(self) -> float:
        return time.monotonic() - self.t0

    def error(self, what: str) -> None:
        self.errors.append((self.now(), what))

    def in_window(self, t: float) -> bool:
        return any(a <= t <= b for a, b in self.windows)


# -- the cut-able upstream --------------------------------------------------------------------------


def proxy_main(listen: int, target: int) -> None:
    """A TCP forwarder ``127.0.0.1:listen`` → ``127.0.0.1:target`` (run as its own process)."""

    async def pipe(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        try:
            while data := await r.read(65536):
                w.write(data)
                await w.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            w.close()

    async def handle(r: asyncio.StreamReader, w: asyncio.StreamWriter) -> None:
        try:
            ur, uw = await asyncio.open_connection("127.0.0.1", target)
        except OSError:
            w.close()
            return
        await asyncio.gather(pipe(r, uw), pipe(ur, w))

    async def main() -> None:
        server = await asyncio.start_server(handle, "127.0.0.1", listen, reuse_address=True, backlog=1024)
        async with server:
            await server.serve_forever()

    asyncio.run(main())


def start_logged(argv: list[str], port: int, log: Path) -> subprocess.Popen[bytes]:
    """Start a console script of this venv with its output in ``log`` (not a pipe nobody reads:
    a full pipe blocks the server's next log line, and with it its event loop) and wait until it
    answers ``/healthz`` on ``port``."""
    with log.open("ab") as out:
        proc = subprocess.Popen([str(BIN / argv[0]), *argv[1:]], stdout=out, stderr=subprocess.STDOUT)
    wait_healthy(f"http://127.0.0.1:{port}", proc)
    return proc


def start_proxy(listen: int, target: int) -> subprocess.Popen[bytes]:
    """Start the forwarder process and wait until it accepts connections."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "benchmarks.soak", "proxy", str(listen), str(target)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            with httpx.Client() as c:
                c.get(f"http://127.0.0.1:{listen}/healthz", timeout=1)
            return proc
        except httpx.HTTPError:
            time.sleep(0.05)
    raise RuntimeError("the soak proxy did not start")


# -- clients -------------------------------------------------------------------------------------------


async def informer(i: int, client: httpx.AsyncClient, s: Soak) -> None:
    """List, then watch from the last resourceVersion seen, forever (see the module docstring)."""
    rv: str | None = None
    seen = s.seen.setdefault(i, [])
    spans = s.spans.setdefault(i, [])
    while not s.stop:
        try:
            if rv is None:
                r = await client.get(RC, timeout=30)
                s.requests += 1
                if r.status_code != 200:
                    s.error(f"informer list {r.status_code}")
                    await asyncio.sleep(0.5)
                    continue
                rv = r.json()["metadata"]["resourceVersion"]
                spans.append((int(rv), int(rv)))
            params = {"watch": "1", "resourceVersion": rv, "allowWatchBookmarks": "true"}
            params["timeoutSeconds"] = str(random.randint(20, 60))
            async with client.stream("GET", RC, params=params) as r:
                s.requests += 1
                if r.status_code != 200:
                    s.error(f"informer watch {r.status_code}")
                    await asyncio.sleep(0.5)
                    continue
                async for line in r.aiter_lines():
                    if not line:
                        continue
                    ev = json.loads(line)
                    if ev["type"] == "ERROR":
                        if ev["object"].get("code") == 410:
                            s.relists += 1
                            rv = None
                        break
                    rv = ev["object"]["metadata"]["resourceVersion"]
                    spans[-1] = (spans[-1][0], int(rv))
                    if ev["type"] != "BOOKMARK":
                        seen.append((ev["type"], ev["object"]["metadata"]["name"], rv))
            s.rewatches += 1
        except (httpx.HTTPError, json.JSONDecodeError, KeyError) as e:
            s.error(f"informer {type(e).__name__}")
            await asyncio.sleep(0.5)


async def truth_watcher(url: str, s: Soak, start_rv: str) -> None:
    """Every event of the namespace, straight from fakekube (the reference for lost/duplicated)."""
    rv = start_rv
    async with httpx.AsyncClient(base_url=url, timeout=None) as c:
        while not s.stop:
            params = {
                "watch": "1",
                "resourceVersion": rv,
                "allowWatchBookmarks": "true",
                "timeoutSeconds": "60",
            }
            async with c.stream("GET", RC, params=params) as r:
                async for line in r.aiter_lines():
                    if line:
                        ev = json.loads(line)
                        rv = ev["object"]["metadata"]["resourceVersion"]
                        if ev["type"] not in ("BOOKMARK", "ERROR"):
                            s.truth.append((ev["type"], ev["object"]["metadata"]["name"], rv))


async def writer(i: int, client: httpx.AsyncClient, s: Soak) -> None:
    """Create, patch and delete its own RayClusters in a loop."""
    k = 0
    while not s.stop:
        name = f"w{i}-{k}"
        k += 1
        for method, path, body, ctype in (
            ("POST", RC, raycluster(name), "application/json"),
            (
                "PATCH",
                f"{RC}/{name}",
                {"metadata": {"labels": {"step": "2"}}},
                "application/merge-patch+json",
            ),
            ("DELETE", f"{RC}/{name}", None, "application/json"),
        ):
            await _call(client, s, method, path, body, ctype)
        await asyncio.sleep(0.05)


async def reader(client: httpx.AsyncClient, s: Soak) -> None:
    """List and get in a loop."""
    while not s.stop:
        await _call(client, s, "GET", RC, None, "")
        await _call(client, s, "GET", f"{RC}/absent", None, "", ok=(404,))
        await asyncio.sleep(0.05)


async def _call(
    client: httpx.AsyncClient,
    s: Soak,
    method: str,
    path: str,
    body: Any,
    ctype: str,
    ok: tuple[int, ...] = (),
) -> None:
    """One request; a transport failure or an unexpected error code is an error at the time it
    was seen (a request in flight when the upstream was cut fails inside the window)."""
    try:
        headers = {"Content-Type": ctype} if body is not None else {}
        content = json.dumps(body).encode() if body is not None else None
        r = await client.request(method, path, content=content, headers=headers, timeout=30)
        s.requests += 1
        if r.status_code >= 500 or (
            r.status_code >= 400 and r.status_code not in ok and r.status_code != 409
        ):
            s.error(f"{method} {r.status_code}")
    except httpx.HTTPError as e:
        s.error(f"{method} {type(e).__name__}")


# -- sampling and the report -----------------------------------------------------------------------------


def _tree(pid: int) -> list[int]:
    out = [pid]
    for task in os.listdir(f"/proc/{pid}/task"):
        try:
            out += [int(c) for c in Path(f"/proc/{pid}/task/{task}/children").read_text().split()]
        except OSError:
            continue
    return out


def _rss_fds(pids: list[int]) -> tuple[float, int]:
    rss, fds = 0.0, 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    rss += int(line.split()[1]) / 1024
            fds += len(os.listdir(f"/proc/{pid}/fd"))
        except OSError:
            continue
    return rss, fds


async def sampler(s: Soak, gateway_pid: int, fakekube_pid: int, every: float) -> None:
    """RSS (MB) and fds of the gateway's processes and of fakekube, every ``every`` seconds."""
    while not s.stop:
        g_rss, g_fds = _rss_fds(_tree(gateway_pid))
        f_rss, f_fds = _rss_fds([fakekube_pid])
        s.samples.append(
            {
                "t": s.now(),
                "gateway_rss": g_rss,
                "gateway_fds": g_fds,
                "fakekube_rss": f_rss,
                "fakekube_fds": f_fds,
                "requests": s.requests,
                "errors": len(s.errors),
            }
        )
        await asyncio.sleep(every)


def judge(s: Soak) -> dict[str, int]:
    """Errors outside restart windows, and events lost or duplicated over all informers."""
    outside = sum(not s.in_window(t) for t, _ in s.errors)
    lost = duplicated = 0
    for i, seen in s.seen.items():
        counts = Counter(seen)
        duplicated += sum(n - 1 for n in counts.values() if n > 1)
        for start, end in s.spans.get(i, []):
            expected = {e for e in s.truth if start < int(e[2]) <= end}
            lost += len(expected - set(seen))
    return {"errors_outside_restarts": outside, "events_lost": lost, "events_duplicated": duplicated}


def report(s: Soak, args: argparse.Namespace, verdict: dict[str, int]) -> str:
    """The markdown section for RESULTS.md."""
    lines = [
        SOAK_START,
        "## Soak (issue 13)",
        "",
        f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}, command: "
        f"`python -m benchmarks.soak --duration {args.duration:g}` ({args.watches} informers, "
        f"{args.writers} writers, {args.readers} readers; upstream cut {len(s.windows)} times)",
        f"- requests: {s.requests}, errors: {len(s.errors)} "
        f"({verdict['errors_outside_restarts']} outside the restart windows), truth events: {len(s.truth)}, "
        f"events seen by informers: {sum(len(v) for v in s.seen.values())}, "
        f"lost: {verdict['events_lost']}, duplicated: {verdict['events_duplicated']}, "
        f"re-watches: {s.rewatches}, relists (410): {s.relists}",
        "- restart windows (s): " + ", ".join(f"{a:.0f}-{b:.0f}" for a, b in s.windows),
        "- errors outside the windows: "
        + (", ".join(f"{t:.1f}s {what}" for t, what in s.errors if not s.in_window(t))[:600] or "none"),
        "",
        "| t (s) | gateway RSS (MB) | gateway fds | fakekube RSS (MB) | fakekube fds | requests | errors |",
        "| --- | --- | --- | --- | --- | --- | --- |",
    ]
    step = max(1, len(s.samples) // 30)
    for smp in s.samples[::step]:
        lines.append(
            f"| {smp['t']:.0f} | {smp['gateway_rss']:.1f} | {smp['gateway_fds']:.0f} "
            f"| {smp['fakekube_rss']:.1f} | {smp['fakekube_fds']:.0f} | {smp['requests']:.0f} "
            f"| {smp['errors']:.0f} |"
        )
    lines += ["", SOAK_END]
    return "\n".join(lines)


def write_report(section: str, path: Path = RESULTS_MD) -> None:
    """Replace (or append) the soak section of RESULTS.md."""
    text = path.read_text() if path.exists() else ""
    if SOAK_START in text and SOAK_END in text:
        head, rest = text.split(SOAK_START, 1)
        tail = rest.split(SOAK_END, 1)[1]
        text = head + section + tail
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text)


async def run(args: argparse.Namespace) -> int:
    """The whole soak; returns the exit status."""
    fk_port, proxy_port, gw_port = free_port(), free_port(), free_port()
    logs = Path(args.logs)
    logs.mkdir(parents=True, exist_ok=True)
    fk = start_logged(["fakekube", "serve", "--port", str(fk_port)], fk_port, logs / "fakekube.log")
    proxy = start_proxy(proxy_port, fk_port)
    gw = start_logged(
        ["kuberay-apiserver", "serve", "--host", "127.0.0.1", "--port", str(gw_port),
         "--upstream", f"http://127.0.0.1:{proxy_port}", "--authentication", "none"],
        gw_port,
        logs / "gateway.log",
    )  # fmt: skip
    fk_url, gw_url = f"http://127.0.0.1:{fk_port}", f"http://127.0.0.1:{gw_port}"
    print(f"soak: fakekube {fk_url}, proxy :{proxy_port}, gateway {gw_url}", flush=True)
    s = Soak()
    try:
        with httpx.Client(base_url=fk_url) as c:
            c.post("/api/v1/namespaces", json={"metadata": {"name": NS}}).raise_for_status()
            start_rv = c.get(RC).json()["metadata"]["resourceVersion"]
        limits = httpx.Limits(max_connections=args.watches + 50, max_keepalive_connections=args.watches + 50)
        async with httpx.AsyncClient(
            base_url=gw_url, timeout=httpx.Timeout(30, read=None), limits=limits
        ) as client:
            tasks = [asyncio.ensure_future(truth_watcher(fk_url, s, start_rv))]
            await asyncio.sleep(0.5)
            tasks += [asyncio.ensure_future(informer(i, client, s)) for i in range(args.watches)]
            tasks += [asyncio.ensure_future(writer(i, client, s)) for i in range(args.writers)]
            tasks += [asyncio.ensure_future(reader(client, s)) for _ in range(args.readers)]
            tasks.append(asyncio.ensure_future(sampler(s, gw.pid, fk.pid, args.sample)))
            cuts = [args.duration * (k + 1) / (args.restarts + 1) for k in range(args.restarts)]
            for cut in cuts:
                await asyncio.sleep(max(0.0, cut - s.now()))
                began = s.now()
                proxy.send_signal(signal.SIGKILL)
                proxy.wait()
                await asyncio.sleep(5)
                proxy = await asyncio.to_thread(start_proxy, proxy_port, fk_port)
                s.windows.append((began, s.now() + 10))
            await asyncio.sleep(max(0.0, args.duration - s.now()))
            s.stop = True
            await asyncio.sleep(1)  # let the last events arrive
            for t in tasks:
                t.cancel()
            await asyncio.gather(*tasks, return_exceptions=True)
    finally:
        stop_server(gw)
        proxy.kill()
        proxy.wait()
        stop_server(fk)
    verdict = judge(s)
    section = report(s, args, verdict)
    print(section)
    if not args.no_write:
        write_report(section)
    return 0 if not any(verdict.values()) else 1


def main(argv: list[str] | None = None) -> int:
    """Entry point (see the module docstring); ``proxy LISTEN TARGET`` runs the forwarder."""
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["proxy"]:
        proxy_main(int(argv[1]), int(argv[2]))
        return 0
    p = argparse.ArgumentParser(prog="python -m benchmarks.soak", description=__doc__.split("\n")[0])
    p.add_argument("--duration", type=float, default=1800.0, help="seconds (default 1800)")
    p.add_argument("--watches", type=int, default=100)
    p.add_argument("--writers", type=int, default=4)
    p.add_argument("--readers", type=int, default=2)
    p.add_argument("--restarts", type=int, default=2, help="upstream cuts (default 2)")
    p.add_argument("--sample", type=float, default=10.0, help="seconds between RSS/fd samples")
    p.add_argument("--no-write", action="store_true", help="print the table, do not touch RESULTS.md")
    p.add_argument(
        "--logs", default="build/soak", help="directory for the servers' logs (default build/soak)"
    )
    return asyncio.run(run(p.parse_args(argv)))


if __name__ == "__main__":
    sys.exit(main())

"""Upstream connections and API-server CPU for N distinct concurrent watches (issue 16: HTTP/2).

``python -m benchmarks.upstream_h2 [--watches 1000] [--hold 20] [--gateway PATH] [--no-kubectl]``
(not in ``make test`` nor ``make bench``): starts refkube (``infra/refkube``, a real
kube-apiserver with etcd, serving TLS), then for each proxy in turn, the gateway
(``kuberay-apiserver serve --no-watch-fanout``: every watch is its own upstream request) and
``kubectl proxy`` (client-go's transport, which speaks HTTP/2 to kube-apiserver), opens
``--watches`` watches on distinct namespaces through it, and reports

- the proxy's ESTABLISHED TCP connections to refkube's port (its process tree's sockets, read
  from ``/proc/PID/net/tcp`` and ``/proc/PID/fd``), once every watch has its response headers;
- refkube's CPU seconds (``utime + stime`` of ``/proc/PID/stat``; its etcd is embedded, so
  included) spent while the watches were opened, and per second while they were held idle for
  ``--hold`` s;
- the proxy's own CPU seconds over the same two windows.

Run it with ``--gateway /work/main/.venv/bin/kuberay-apiserver`` (a checkout from before HTTP/2)
for the HTTP/1.1 figures. CPU seconds and connection counts hold under background load; wall time
does not (the machine is shared).

``python -m benchmarks.upstream_h2 --client-cpu`` measures instead the client-side cost that
decided which requests go through aiohttp rather than pyreqwest (:mod:`handler.upstream_http1`):
CPU seconds of this process per request, 2 KB answers from a local HTTP/1.1 upstream in another
process, 16 concurrent, 4,000 requests, uvloop. Three runs on 2026-12-08 (load 8-12): pyreqwest
24-48 us (median 37), aiohttp 47-114 us (median 69), httpx 860-1,850 us per request.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import os
import selectors
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import yaml

from benchmarks.system import REPO, free_port, process_tree, venv_tool

REFKUBE = REPO / "infra" / "refkube" / "bin" / "refkube"
CRDS = REPO.parent / "shared" / "kuberay" / "crds"


def cpu_seconds(pids: list[int]) -> float:
    """``utime + stime`` of ``pids`` in seconds (fields 14 and 15 of ``/proc/PID/stat``)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0
    for pid in pids:
        try:
            with open(f"/proc/{pid}/stat") as f:
                fields = f.read().rsplit(")", 1)[1].split()
        except OSError:
            continue
        total += int(fields[11]) + int(fields[12])
    return total / tick


def established_to(pids: list[int], port: int) -> int:
    """How many ESTABLISHED TCP connections the processes ``pids`` hold to remote ``port``."""
    inodes: set[str] = set()
    for pid in pids:
        try:
            for fd in os.listdir(f"/proc/{pid}/fd"):
                try:
                    link = os.readlink(f"/proc/{pid}/fd/{fd}")
                except OSError:
                    continue
                if link.startswith("socket:["):
                    inodes.add(link[8:-1])
        except OSError:
            continue
    count = 0
    seen: set[str] = set()
    for pid in pids[:1]:
        for table in ("tcp", "tcp6"):
            try:
                with open(f"/proc/{pid}/net/{table}") as f:
                    next(f)
                    for line in f:
                        parts = line.split()
                        remote, state, inode = parts[2], parts[3], parts[9]
                        if (
                            state == "01"
                            and inode in inodes
                            and inode not in seen
                            and int(remote.rsplit(":", 1)[1], 16) == port
                        ):
                            seen.add(inode)
                            count += 1
            except OSError:
                continue
    return count


@contextmanager
def refkube() -> Iterator[tuple[subprocess.Popen[bytes], str, Path, Path]]:
    """A running refkube: ``(process, URL, CA file, token file)``."""
    d = Path(tempfile.mkdtemp(prefix="upstream-h2-"))
    kubeconfig = d / "kubeconfig"
    proc = subprocess.Popen(
        [
            str(REFKUBE),
            "--crd",
            str(CRDS),
            "--port",
            "0",
            "--proxy-port",
            "0",
            "--kubeconfig",
            str(kubeconfig),
        ],
        stdout=subprocess.PIPE,
        stderr=(d / "refkube.log").open("w"),
        bufsize=0,
    )
    try:
        info = _ready(proc, 180)
        kc = yaml.safe_load(kubeconfig.read_text())
        ca, token = d / "ca.crt", d / "token"
        ca.write_bytes(base64.b64decode(kc["clusters"][0]["cluster"]["certificate-authority-data"]))
        token.write_text(kc["users"][0]["user"]["token"])
        yield proc, info["url"], ca, token
    finally:
        proc.terminate()
        proc.wait(30)


def _ready(proc: subprocess.Popen[bytes], timeout: float) -> dict[str, str]:
    assert proc.stdout is not None
    info: dict[str, str] = {}
    buf = b""
    sel = selectors.DefaultSelector()
    sel.register(proc.stdout.fileno(), selectors.EVENT_READ)
    deadline = time.monotonic() + timeout
    while "url" not in info:
        if time.monotonic() > deadline or proc.poll() is not None:
            raise RuntimeError(f"refkube not ready (exit {proc.poll()})")
        if sel.select(0.5):
            buf += os.read(proc.stdout.fileno(), 4096)
            *lines, buf = buf.split(b"\n")
            for line in lines:
                if line.startswith(b"refkube:"):
                    for kv in line.decode().split()[1:]:
                        key, _, value = kv.partition("=")
                        info[key] = value
    return info


def _wait_http(port: int, timeout: float = 60) -> None:
    import http.client

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            c.request("GET", "/version")
            if c.getresponse().status < 500:
                return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError(f"nothing answers on port {port}")


async def _watch(port: int, namespace: str, opened: list[int]) -> tuple[asyncio.StreamWriter, bool]:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    path = f"/apis/ray.io/v1/namespaces/{namespace}/rayclusters?watch=1"
    writer.write(f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
    head = await asyncio.wait_for(reader.readuntil(b"\r\n\r\n"), 120)
    opened.append(1)
    return writer, head.startswith(b"HTTP/1.1 200")


async def _open_all(port: int, n: int) -> list[tuple[asyncio.StreamWriter, bool]]:
    opened: list[int] = []
    sem = asyncio.Semaphore(100)

    async def one(i: int) -> tuple[asyncio.StreamWriter, bool]:
        async with sem:
            return await _watch(port, f"h2-bench-{i}", opened)

    return await asyncio.gather(*(one(i) for i in range(n)))


def measure(
    name: str,
    cmd: list[str],
    port: int,
    ref: subprocess.Popen[bytes],
    ref_port: int,
    args: argparse.Namespace,
) -> dict[str, float]:
    """Start ``cmd`` (a proxy listening on ``port``), open the watches through it, hold them."""
    proxy = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        _wait_http(port)
        time.sleep(1)
        pids = process_tree(proxy.pid)
        ref0, prx0, t0 = cpu_seconds([ref.pid]), cpu_seconds(pids), time.monotonic()
        loop = asyncio.new_event_loop()
        watches = loop.run_until_complete(_open_all(port, args.watches))
        ok = sum(1 for _, good in watches if good)
        pids = process_tree(proxy.pid)
        ref1, prx1, t1 = cpu_seconds([ref.pid]), cpu_seconds(pids), time.monotonic()
        conns = established_to(pids, ref_port)
        time.sleep(args.hold)
        pids = process_tree(proxy.pid)
        ref2, prx2 = cpu_seconds([ref.pid]), cpu_seconds(pids)
        conns_after = established_to(pids, ref_port)
        for w, _ in watches:
            w.close()
        loop.close()
        return {
            "watches 200": ok,
            "upstream connections": conns,
            f"upstream connections after {args.hold:g} s": conns_after,
            "refkube CPU s opening": round(ref1 - ref0, 2),
            "refkube CPU s/s held": round((ref2 - ref1) / args.hold, 3),
            "proxy CPU s opening": round(prx1 - prx0, 2),
            "proxy CPU s/s held": round((prx2 - prx1) / args.hold, 3),
            "opening wall s": round(t1 - t0, 1),
        }
    finally:
        proxy.terminate()
        try:
            proxy.wait(20)
        except subprocess.TimeoutExpired:
            proxy.kill()


_BODY = b'{"kind":"RayClusterList","items":[' + b",".join([b'{"a":"' + b"x" * 180 + b'"}'] * 10) + b"]}"


async def _static_upstream(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
    """Answer every request on the connection with a 200 ``_BODY`` (keep-alive)."""
    head = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(_BODY)
    try:
        while True:
            await reader.readuntil(b"\r\n\r\n")
            writer.write(head + _BODY)
    except (asyncio.IncompleteReadError, ConnectionError):
        writer.close()


def _serve_static(port: int) -> None:
    """Run :func:`_static_upstream` on ``port`` forever (the child process of ``--client-cpu``)."""

    async def run() -> None:
        server = await asyncio.start_server(_static_upstream, "127.0.0.1", port, backlog=512)
        await server.serve_forever()

    asyncio.run(run())


async def _client_cpu(kind: str, url: str, n: int = 4000, concurrency: int = 16) -> float:
    """CPU microseconds of this process per GET of ``url`` made with ``kind``'s client."""
    import resource

    def cpu() -> float:
        r = resource.getrusage(resource.RUSAGE_SELF)
        return r.ru_utime + r.ru_stime

    if kind == "pyreqwest":
        from pyreqwest.client import ClientBuilder

        pool = ClientBuilder().http2(True).build()

        async def get() -> None:
            ctx = pool.request("GET", url).streamed_read_buffer_limit(0).build_streamed()
            resp = await ctx.__aenter__()
            while (chunk := await resp.body_reader.read_chunk()) is not None:
                bytes(chunk)
            await ctx.__aexit__(None, None, None)
    elif kind == "aiohttp":
        import aiohttp

        session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0), auto_decompress=False)

        async def get() -> None:
            async with session.get(url, allow_redirects=False) as resp:
                async for _ in resp.content.iter_any():
                    pass
    else:
        import httpx

        client = httpx.AsyncClient(limits=httpx.Limits(max_connections=None))

        async def get() -> None:
            async with client.stream("GET", url) as resp:
                async for _ in resp.aiter_raw():
                    pass

    async def worker(count: int) -> None:
        for _ in range(count):
            await get()

    await asyncio.gather(*(worker(n // concurrency // 4) for _ in range(concurrency)))  # warm
    c0 = cpu()
    await asyncio.gather(*(worker(n // concurrency) for _ in range(concurrency)))
    used = (cpu() - c0) / n * 1e6
    if kind == "aiohttp":
        await session.close()
    return used


def client_cpu() -> None:
    """Print the client CPU per request of pyreqwest, aiohttp and httpx (each in a fresh process)."""
    if len(sys.argv) > 2 and sys.argv[1] == "--client-cpu-one":
        import uvloop

        kind, url = sys.argv[2], sys.argv[3]
        print(f"| {kind} | {uvloop.run(_client_cpu(kind, url)):.1f} |")
        return
    import multiprocessing

    port = free_port()
    server = multiprocessing.Process(target=_serve_static, args=(port,), daemon=True)
    server.start()
    time.sleep(1)
    url = f"http://127.0.0.1:{port}/apis/ray.io/v1/namespaces/default/rayclusters"
    print("| client | CPU us per request (2 KB answer, 16 concurrent) |\n| --- | --- |")
    try:
        for kind in ("pyreqwest", "aiohttp", "httpx", "pyreqwest", "aiohttp"):
            subprocess.run(
                [sys.executable, "-m", "benchmarks.upstream_h2", "--client-cpu-one", kind, url], check=True
            )
    finally:
        server.terminate()


def main(argv: list[str] | None = None) -> None:
    """Run the measurement and print a Markdown table."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--watches", type=int, default=1000)
    ap.add_argument("--hold", type=float, default=20.0, help="seconds the watches are held idle")
    ap.add_argument("--gateway", default=venv_tool("kuberay-apiserver"), help="the kuberay-apiserver to run")
    ap.add_argument("--no-kubectl", action="store_true", help="skip kubectl proxy")
    ap.add_argument("--client-cpu", action="store_true", help="measure client CPU per request instead")
    ap.add_argument("--client-cpu-one", nargs=2, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.client_cpu or args.client_cpu_one:
        client_cpu()
        return
    import resource

    _soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    results: dict[str, dict[str, float]] = {}
    with refkube() as (ref, url, ca, token):
        ref_port = int(url.rsplit(":", 1)[1].rstrip("/"))
        port = free_port()
        gateway = [args.gateway, "serve", "--host", "127.0.0.1", "--port", str(port), "--upstream", url]
        gateway += [
            "--authentication",
            "none",
            "--token-file",
            str(token),
            "--ca-file",
            str(ca),
            "--no-watch-fanout",
        ]
        results["gateway"] = measure("gateway", gateway, port, ref, ref_port, args)
        if not args.no_kubectl:
            port = free_port()
            kc = Path(tempfile.mkdtemp()) / "kubeconfig"
            kc.write_text(
                yaml.safe_dump(
                    {
                        "apiVersion": "v1",
                        "kind": "Config",
                        "clusters": [
                            {"name": "r", "cluster": {"server": url, "certificate-authority": str(ca)}}
                        ],
                        "users": [{"name": "r", "user": {"token": token.read_text()}}],
                        "contexts": [{"name": "r", "context": {"cluster": "r", "user": "r"}}],
                        "current-context": "r",
                    }
                )
            )
            kubectl = [venv_tool("kubectl"), "proxy", "--port", str(port), "--kubeconfig", str(kc)]
            results["kubectl proxy"] = measure("kubectl proxy", kubectl, port, ref, ref_port, args)
    names = list(results)
    rows = list(next(iter(results.values())))
    print(f"{args.watches} distinct watches, held {args.hold:g} s; gateway: {args.gateway}")
    print("| figure | " + " | ".join(names) + " |")
    print("| --- |" + " --- |" * len(names))
    for row in rows:
        print(f"| {row} | " + " | ".join(str(results[n][row]) for n in names) + " |")


if __name__ == "__main__":
    main()

"""CPU time per MB relayed: the gateway(s) and ``kubectl proxy`` in front of the same nginx, one run.

Wall-clock throughput is meaningless on a machine shared with other work; the CPU a proxy spends
per MB it relays is not (much): this measures, for each proxy and each case (list size and
connections), the on-CPU time of its whole process tree (``/proc/PID/task/TID/schedstat``, ns,
every thread; and ``utime``/``stime`` of ``/proc/PID/stat``), its minor page faults and context
switches, divided by the MB it served. Sides take turns in a rotating order, ``--rounds`` times;
the median and the range are printed. Then each side relays the 50 MB list three times and its
peak RSS growth is printed (as ``benchmarks/bench_stream.py`` measures it).

Not part of ``benchmarks.run`` (no goal, no RESULTS.md figure): a tool to compare builds, e.g.
the main checkout against a branch::

    .venv/bin/python -m benchmarks.relay_cpu --gateway main=/work/main/.venv/bin/kuberay-apiserver \\
        --gateway branch=.venv/bin/kuberay-apiserver --rounds 5

The load is Python threads, one keep-alive connection each, reading ``Content-Length`` bodies
(the static upstream always sends one) into a reused buffer.
"""

from __future__ import annotations

import argparse
import contextlib
import socket
import tempfile
import threading
import time
from dataclasses import dataclass
from pathlib import Path

from benchmarks.bench_stream import fetch
from benchmarks.servers import gateway_command, start_kubectl_proxy
from benchmarks.system import (
    Service,
    ensure_system_tools,
    free_port,
    process_tree,
    reset_tree_hwm,
    running,
    start_service,
    tree_hwm_kb,
    tree_rss_kb,
    venv_tool,
    wait_ready,
)
from benchmarks.upstream import TARGETS, start_nginx

TICK_S = 0.01  # USER_HZ: /proc/PID/stat counts CPU time in 1/100 s on Linux


@dataclass(frozen=True)
class Usage:
    """What a process tree used so far: on-CPU seconds (schedstat), user and system seconds
    (``/proc/PID/stat``), minor page faults and context switches (voluntary and not)."""

    cpu_s: float
    user_s: float
    sys_s: float
    faults: int
    switches: int

    def __sub__(self, other: Usage) -> Usage:
        return Usage(
            self.cpu_s - other.cpu_s,
            self.user_s - other.user_s,
            self.sys_s - other.sys_s,
            self.faults - other.faults,
            self.switches - other.switches,
        )


def usage(root: int) -> Usage:
    """The :class:`Usage` of ``root`` and its descendants (threads that already ended are not
    counted by schedstat: the servers measured keep theirs)."""
    cpu_ns = user = system = faults = switches = 0
    for pid in process_tree(root):
        with contextlib.suppress(OSError):
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
            faults += int(fields[7])
            user += int(fields[11])
            system += int(fields[12])
            for task in Path(f"/proc/{pid}/task").iterdir():
                cpu_ns += int((task / "schedstat").read_text().split()[0])
                for line in (task / "status").read_text().splitlines():
                    if "ctxt_switches:" in line:
                        switches += int(line.split()[1])
    return Usage(cpu_ns / 1e9, user * TICK_S, system * TICK_S, faults, switches)


def get_many(port: int, path: str, requests: int, served: list[int]) -> None:
    """GET ``path`` ``requests`` times on one keep-alive connection; appends the body bytes read.
    Raises OSError (connection) or ValueError (not a 200 with ``Content-Length``)."""
    request = f"GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAccept: application/json\r\n\r\n".encode()
    buffer = memoryview(bytearray(1 << 20))
    total = 0
    with socket.create_connection(("127.0.0.1", port), timeout=120) as sock:
        for _ in range(requests):
            sock.sendall(request)
            head = b""
            while b"\r\n\r\n" not in head:
                n = sock.recv_into(buffer)
                if not n:
                    raise OSError("connection closed in the response head")
                head += bytes(buffer[:n])
            head, rest = head.split(b"\r\n\r\n", 1)
            lines = head.split(b"\r\n")
            fields = {
                k.strip().lower(): v.strip() for k, _, v in (line.partition(b":") for line in lines[1:])
            }
            if b" 200 " not in lines[0] + b" " or b"content-length" not in fields:
                raise ValueError(f"not a 200 with Content-Length: {lines[0]!r}")
            length = int(fields[b"content-length"])
            left = length - len(rest)
            while left > 0:
                n = sock.recv_into(buffer, min(len(buffer), left))
                if not n:
                    raise OSError("connection closed in the body")
                left -= n
            total += length
    served.append(total)


def relay(service: Service, path: str, connections: int, per_connection: int) -> tuple[Usage, float]:
    """Run the load against ``service``: its tree's :class:`Usage` during it and the MB served."""
    served: list[int] = []
    threads = [
        threading.Thread(target=get_many, args=(service.port, path, per_connection, served))
        for _ in range(connections)
    ]
    before = usage(service.pid)
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    spent = usage(service.pid) - before
    if len(served) != connections:
        raise RuntimeError(f"{service.name}: {connections - len(served)} connections failed")
    return spent, sum(served) / 1e6


def rss_growth_mb(service: Service, path: str) -> float:
    """Peak RSS growth (MB) of ``service``'s tree while it relays ``path`` once."""
    time.sleep(0.3)
    reset_tree_hwm(service.pid)
    before = tree_rss_kb(service.pid)
    fetch(service.port, path)
    return (tree_hwm_kb(service.pid) - before) / 1024


def _spread(values: list[float]) -> str:
    ordered = sorted(values)
    return f"{ordered[len(ordered) // 2]:.3f} [{ordered[0]:.3f}-{ordered[-1]:.3f}]"


def main(argv: list[str] | None = None) -> None:
    """Parse the command line, start nginx, the gateways and ``kubectl proxy``, measure, print."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--gateway",
        action="append",
        default=[],
        metavar="LABEL=EXECUTABLE",
        help="a kuberay-apiserver executable to measure (default: this venv's, as 'gateway')",
    )
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument(
        "--cases",
        default="list-1m:1:200,list-1m:4:50,list-50m:1:6,list-50m:4:2",
        help="TARGET:CONNECTIONS:REQUESTS_PER_CONNECTION,...",
    )
    args = parser.parse_args(argv)
    gateways = [g.split("=", 1) for g in args.gateway] or [["gateway", venv_tool("kuberay-apiserver")]]
    cases: list[tuple[str, int, int]] = []
    for case in args.cases.split(","):
        name, connections, requests = case.split(":")
        cases.append((name, int(connections), int(requests)))
    tools = ensure_system_tools()
    with tempfile.TemporaryDirectory() as tmp, contextlib.ExitStack() as stack:
        work = Path(tmp)
        nginx, _sizes = start_nginx(tools["nginx"], work, "")
        stack.enter_context(running(nginx))
        sides: dict[str, Service] = {}
        for label, executable in gateways:
            port = free_port()
            cmd = gateway_command(nginx.url, port, 1)
            cmd[0] = executable
            service = stack.enter_context(running(start_service(label, cmd, port, work)))
            wait_ready(service, TARGETS["get"].path, timeout=60)
            sides[label] = service
        sides["kubectl proxy"] = stack.enter_context(running(start_kubectl_proxy(nginx.url, work, "")))
        for service in sides.values():  # first use (imports, pools) is not what is measured
            relay(service, TARGETS["list-1m"].path, 1, 5)
            relay(service, TARGETS["list-50m"].path, 1, 1)
        per_mb: dict[tuple[str, int, str], list[tuple[float, float, float, float]]] = {}
        for rnd in range(args.rounds):
            for name, connections, requests in cases:
                order = list(sides)[rnd % len(sides) :] + list(sides)[: rnd % len(sides)]
                for side in order:
                    spent, mb = relay(sides[side], TARGETS[name].path, connections, requests)
                    per_mb.setdefault((name, connections, side), []).append(
                        (
                            spent.cpu_s * 1e3 / mb,
                            spent.sys_s * 1e3 / mb,
                            spent.faults / mb,
                            spent.switches / mb,
                        )
                    )
        print(
            "case              side            CPU ms/MB median [range]   sys ms/MB   faults/MB  switches/MB"
        )
        for (target, conns, side), rows in sorted(per_mb.items()):
            cpu, system, faults, switches = (list(col) for col in zip(*rows, strict=True))
            medians = " ".join(f"{_spread(col).split()[0]:>11s}" for col in (system, faults, switches))
            print(f"{target:9s} c{conns:<6d} {side:15s} {_spread(cpu):26s} {medians}")
        for side, service in sides.items():
            growth = [rss_growth_mb(service, TARGETS["list-50m"].path) for _ in range(3)]
            print(f"50 MB list, peak RSS growth (MB), {side}: " + ", ".join(f"{g:.1f}" for g in growth))


if __name__ == "__main__":
    main()

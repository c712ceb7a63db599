"""The bad-input oracle's measurements: send a case, read the answer's code and reason, and watch
the server (alive, time to answer, RSS of its processes, the namespace's stored objects)."""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.contract.bad_input.corpus import RC, BadInput
from tests.contract.client import Target


@dataclass(frozen=True)
class Answer:
    """What a server answered: HTTP code, the Status ``reason`` ("" when the body has none or is
    not a Status), whether the body is a Status, and the seconds it took."""

    code: int
    reason: str
    is_status: bool
    seconds: float
    message: str = ""


def send(client: httpx.Client, case: BadInput, ns: str) -> Answer:
    """Send ``case`` in namespace ``ns`` with ``client`` (the target's) and read the answer."""
    headers: dict[str, bytes] = {k: v.encode() for k, v in case.headers.items()}
    if case.content_type is not None:
        headers["Content-Type"] = case.content_type.encode()
    t0 = time.monotonic()
    r = client.request(case.method, case.with_ns(ns), content=case.body, headers=headers)
    seconds = time.monotonic() - t0
    try:
        body = r.json()
    except ValueError:
        body = None
    if isinstance(body, dict) and body.get("kind") == "Status":
        return Answer(r.status_code, str(body.get("reason", "")), True, seconds, str(body.get("message", "")))
    return Answer(r.status_code, "", False, seconds, r.text[:200])


def stored(target: Target, ns: str) -> list[tuple[str, str]]:
    """``(name, resourceVersion)`` of every RayCluster in ``ns``, read through ``target.setup``."""
    with target.setup.client() as c:
        items = c.get(RC.format(ns=ns)).json()["items"]
    return sorted((o["metadata"]["name"], o["metadata"]["resourceVersion"]) for o in items)


def alive(target: Target) -> bool:
    """Whether ``target`` still answers ``/healthz`` with 200."""
    with target.client(timeout=5) as c:
        return c.get("/healthz").status_code == 200


def pids_listening(port: int) -> list[int]:
    """The processes holding the listening socket of TCP ``port`` on 127.0.0.1, and their
    children (granian's workers), from ``/proc`` (Linux)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            parts = line.split()
            if parts[3] == "0A" and int(parts[1].rsplit(":", 1)[1], 16) == port:
                inodes.add(parts[9])
    pids = []
    for pid in filter(str.isdigit, os.listdir("/proc")):
        try:
            fds = os.listdir(f"/proc/{pid}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                link = os.readlink(f"/proc/{pid}/fd/{fd}")
            except OSError:
                continue
            if link.startswith("socket:[") and link[8:-1] in inodes:
                pids.append(int(pid))
                break
    return sorted(set(pids))


def rss_mb(pids: list[int]) -> float:
    """Resident set size of ``pids`` together, in MB (``VmRSS``)."""
    total = 0
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total / 1024


def port_of(target: Target) -> int:
    """The TCP port of ``target``'s URL."""
    return int(target.url.rsplit(":", 1)[1].split("/")[0])


def summary(answer: Answer) -> str:
    """``code reason`` as shown in the divergence list."""
    return f"{answer.code} {answer.reason or '-'}{'' if answer.is_status else ' (not a Status)'}"


def dumps(obj: object) -> str:
    """Compact JSON for messages."""
    return json.dumps(obj, separators=(",", ":"))

"""Running wrk (https://github.com/wg/wrk) and reading its report.

wrk is the load generator for every throughput figure: one thread, N keep-alive connections,
``--latency`` for the percentile table.  Its latency percentiles are per completed request.
"""

from __future__ import annotations

import os
import re
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from benchmarks.system import pinned

_TIME_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}
_SIZE_UNITS = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}


class WrkParseError(ValueError):
    """wrk's output lacks a figure the harness needs (it failed, or its format changed)."""


@dataclass(frozen=True)
class WrkResult:
    """One wrk run. Latencies in milliseconds, throughput in requests per second.

    ``errors`` counts socket errors (connect, read, write, timeout) plus non-2xx/3xx responses; a
    run with errors is not a valid measurement of a working server.
    """

    requests: int
    duration_s: float
    rps: float
    p50_ms: float
    p99_ms: float
    transfer_bytes_per_s: float
    errors: int

    def as_dict(self) -> dict[str, float]:
        """Plain numbers for results.json."""
        return {
            "rps": round(self.rps, 2),
            "p50_ms": round(self.p50_ms, 3),
            "p99_ms": round(self.p99_ms, 3),
            "requests": self.requests,
            "errors": self.errors,
            "MB_per_s": round(self.transfer_bytes_per_s / 1024**2, 2),
        }


def parse_duration_ms(text: str) -> float:
    """``"1.09ms"`` / ``"464.00us"`` / ``"2.01s"`` / ``"1.50m"`` → milliseconds."""
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m|h)", text.strip())
    if not match:
        raise WrkParseError(f"not a wrk duration: {text!r}")
    return float(match.group(1)) * _TIME_UNITS[match.group(2)]


def parse_size_bytes(text: str) -> float:
    """``"136.15MB"`` / ``"512.00B"`` → bytes (wrk uses binary multiples)."""
    match = re.fullmatch(r"([\d.]+)(B|KB|MB|GB|TB)", text.strip())
    if not match:
        raise WrkParseError(f"not a wrk size: {text!r}")
    return float(match.group(1)) * _SIZE_UNITS[match.group(2)]


def parse_wrk_output(text: str) -> WrkResult:
    """Read the figures out of ``wrk --latency`` output. Raises WrkParseError when one is missing."""

    def need(pattern: str) -> re.Match[str]:
        match = re.search(pattern, text, re.MULTILINE)
        if not match:
            raise WrkParseError(f"wrk output has no match for {pattern!r}:\n{text}")
        return match

    total = need(r"^\s*(\d+) requests in ([\d.]+\w+), ([\d.]+\w+) read")
    rps = float(need(r"^Requests/sec:\s+([\d.]+)").group(1))
    transfer = parse_size_bytes(need(r"^Transfer/sec:\s+([\d.]+\w+)").group(1))
    p50 = parse_duration_ms(need(r"^\s+50%\s+([\d.]+\w+)").group(1))
    p99 = parse_duration_ms(need(r"^\s+99%\s+([\d.]+\w+)").group(1))
    errors = 0
    socket_errors = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    if socket_errors:
        errors += sum(int(n) for n in socket_errors.groups())
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    if non_2xx:
        errors += int(non_2xx.group(1))
    return WrkResult(
        requests=int(total.group(1)),
        duration_s=parse_duration_ms(total.group(2)) / 1e3,
        rps=rps,
        p50_ms=p50,
        p99_ms=p99,
        transfer_bytes_per_s=transfer,
        errors=errors,
    )


def run_wrk(
    wrk: str,
    url: str,
    connections: int,
    duration_s: float,
    cpus: str,
    script: Path | None = None,
    timeout_s: float = 30.0,
    extra: Sequence[str] = (),
    env: Mapping[str, str] | None = None,
) -> WrkResult:
    """Run ``wrk -t1 -cN -dDs --latency`` pinned to ``cpus``; raises WrkParseError if it failed."""
    cmd = [
        wrk,
        "-t1",
        f"-c{connections}",
        f"-d{duration_s:g}s",
        f"--timeout={timeout_s:g}s",
        "--latency",
        *extra,
    ]
    if script is not None:
        cmd += ["-s", str(script)]
    cmd.append(url)
    out = subprocess.run(
        pinned(cmd, cpus),
        capture_output=True,
        text=True,
        timeout=duration_s + timeout_s + 30,
        env={**os.environ, **(env or {})},
    )
    return parse_wrk_output(out.stdout + out.stderr)

"""The worker's C allocator keeps freed chunk memory for the next chunk (handler/_allocator.py).

Measured in a child process, as a relay allocates: two copies of each chunk (the ``bytes`` copied
out of pyreqwest's buffer, granian's copy of it), freed before the next chunk; chunks of up to
400 KiB as hyper reads them. The page faults of that loop count the memory given back to the
kernel and faulted in again.
"""

from __future__ import annotations

import platform
import subprocess
import sys

import pytest

from handler._allocator import MMAP_THRESHOLD, TRIM_THRESHOLD

LOOP = """
import resource, sys
from handler._allocator import tune_for_relay
if sys.argv[1] == "tuned":
    assert tune_for_relay() and tune_for_relay()  # idempotent
source = memoryview(b"x" * (1 << 20))
def faults():
    return resource.getrusage(resource.RUSAGE_SELF).ru_minflt
for size in (8 << 10, 60 << 10, 400 << 10, 200 << 10, 400 << 10):  # the allocator's first use
    a = bytes(source[:size]); b = bytes(source[:size]); del a, b
start, copied = faults(), 0
for i in range(200):
    size = (400 << 10) if i % 3 else (64 << 10)
    a = bytes(source[:size]); b = bytes(source[:size])
    copied += 2 * size
    del a, b
print(faults() - start, copied)
"""

glibc = sys.platform.startswith("linux") and platform.libc_ver()[0] == "glibc"


def _faults(mode: str) -> tuple[int, int]:
    out = subprocess.run([sys.executable, "-c", LOOP, mode], capture_output=True, text=True, check=True)
    faults, copied = out.stdout.split()
    return int(faults), int(copied)


@pytest.mark.skipif(not glibc, reason="mallopt thresholds are glibc's; other C libraries are left alone")
def test_chunk_memory_is_reused_not_faulted_in_again() -> None:
    tuned, copied = _faults("tuned")
    default, _ = _faults("default")
    pages = copied // 4096
    assert tuned < pages // 100, f"{tuned} page faults for {pages} pages copied"
    assert default > 10 * (tuned + 10), f"glibc's defaults fault {default}, tuned {tuned}: nothing to tune?"


def test_thresholds_cover_hypers_largest_read() -> None:
    """hyper reads at most 408 KiB (8 KiB + 100 x 4 KiB, ``DEFAULT_MAX_BUFFER_SIZE``); two copies
    of such a chunk and a few in flight fit under the thresholds."""
    largest_read = 8192 + 4096 * 100
    assert largest_read < MMAP_THRESHOLD
    assert 4 * 2 * largest_read <= TRIM_THRESHOLD

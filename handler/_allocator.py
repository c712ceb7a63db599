"""The C allocator tuned for relaying large bodies: glibc ``mallopt`` thresholds set once per worker.

Every chunk of a relayed body is allocated twice in the worker's main thread: once as the Python
``bytes`` copied out of pyreqwest's buffer (:meth:`handler._sending.ResponseSender._relay`) and
once as the ``Box<[u8]>`` granian copies it into (granian ``src/asgi/io.rs`` ``adapt_body``).
hyper reads up to 408 KiB at a time (``DEFAULT_MAX_BUFFER_SIZE``), so both are blocks of up to
~400 KiB, freed as soon as the chunk is written.

With glibc's defaults (``mallopt(3)``: ``M_MMAP_THRESHOLD`` 128 KiB, raised dynamically to the
largest freed mmapped block; ``M_TRIM_THRESHOLD`` twice that), such blocks either get an
``mmap``/``munmap`` each, or come from the top of the heap, which ``free`` then gives back with
``brk`` as soon as the free top exceeds ~800 KiB. Either way the next chunk faults its pages in
again (the kernel zeroes each 4 KiB page). A py-spy profile of a worker relaying 1 MB lists
(``py-spy record --native``) had ``brk``/``free``/``malloc`` at ~17 % of the main thread's
samples; relaying 1 MB lists at 4 connections, the worker's minor page faults per MB relayed fell
from ~45 to ~6 with the thresholds below (``/proc/PID/stat``; its CPU time per MB moved by less
than the noise of the shared machine it was measured on), and the loop of
``tests/handler/test_allocator.py`` (two copies of 64-400 KiB chunks, freed each time) faults
~22,000 pages in 200 chunks with glibc's defaults and none tuned.

:func:`tune_for_relay` fixes the thresholds: blocks up to :data:`MMAP_THRESHOLD` come from the
heap, and up to :data:`TRIM_THRESHOLD` of free memory is kept at the heap's top for the next
chunk. The worker holds at most that much more memory per malloc arena than it would otherwise (after
a burst of large bodies; idle RSS before any is unchanged); a 50 MB list is still relayed chunk by
chunk (RSS growth is measured by ``benchmarks/bench_stream.py`` and
``tests/handler/test_streaming.py``).
"""

from __future__ import annotations

import ctypes
import sys

#: ``mallopt`` parameter numbers (glibc ``malloc.h``).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3

#: Blocks up to this many bytes come from the heap, not from their own ``mmap`` (1 MiB: above
#: hyper's largest read, 408 KiB).
MMAP_THRESHOLD = 1 << 20
#: Free memory at the heap's top kept rather than returned to the kernel, in bytes (4 MiB: room
#: for a few chunks in flight).
TRIM_THRESHOLD = 4 << 20

_tuned = False


def tune_for_relay() -> bool:
    """Set glibc's ``M_MMAP_THRESHOLD`` and ``M_TRIM_THRESHOLD`` for this process (see the module
    docstring); True when they were set, False where the C library is not glibc (musl, macOS),
    which is left as it is. Idempotent."""
    global _tuned
    if _tuned:
        return True
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None)
        libc.gnu_get_libc_version  # noqa: B018 (present in glibc only)
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    # mallopt returns 1 on success. Setting either threshold also turns off glibc's dynamic
    # adjustment of both, so both are set.
    _tuned = bool(mallopt(M_MMAP_THRESHOLD, MMAP_THRESHOLD)) and bool(
        mallopt(M_TRIM_THRESHOLD, TRIM_THRESHOLD)
    )
    return _tuned

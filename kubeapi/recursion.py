"""Room on the Python stack for values as deep as kube-apiserver accepts.

Go decodes request bodies nested up to 10,000 levels (:data:`kubeapi.decode.GO_MAX_DEPTH`) and
its pruning, defaulting, validation and encoding handle them. Much of both servers' object code
(pruning, validation, deep copies, ``json.dumps``) recurses once per level, and CPython's default
recursion limit (1,000) makes such a body a 500 ``RecursionError`` instead of kube-apiserver's
answer. :func:`deep_values` raises the interpreter's limit to :data:`DEEP_LIMIT` while a request
is handled (nested uses counted; the previous limit is restored when the last one leaves).

On CPython 3.11 a Python-to-Python call uses no C stack, so the raised limit costs heap frames
only; the C-recursive paths that remain (``json`` encoding, nested ``==``) use about 250 bytes
per level, ~5 MB at 10,000 levels within the 8 MB of the main thread and of threads started by
``threading`` (measured by ``tests/kubeapi/test_recursion.py``, which runs them at 10,000 levels).
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["DEEP_LIMIT", "deep_values"]

#: Frames allowed while a request is handled: four per level of a 10,000-level value (a recursive
#: function plus its comprehension, and the caller's own) and room for the framework beneath.
DEEP_LIMIT = 4 * 10_000 + 2_000

_entered = 0
_previous = 0


@contextmanager
def deep_values() -> Iterator[None]:
    """Run the block with the recursion limit at least :data:`DEEP_LIMIT` (re-entrant)."""
    global _entered, _previous
    if _entered == 0:
        _previous = sys.getrecursionlimit()
        if _previous < DEEP_LIMIT:
            sys.setrecursionlimit(DEEP_LIMIT)
    _entered += 1
    try:
        yield
    finally:
        _entered -= 1
        if _entered == 0 and sys.getrecursionlimit() == DEEP_LIMIT and _previous < DEEP_LIMIT:
            sys.setrecursionlimit(_previous)

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
from contextlib import AbstractContextManager

__all__ = ["DEEP_LIMIT", "deep_values"]

#: Frames allowed while a request is handled: four per level of a 10,000-level value (a recursive
#: function plus its comprehension, and the caller's own) and room for the framework beneath.
DEEP_LIMIT = 4 * 10_000 + 2_000


class _DeepValues:
    """The context manager :func:`deep_values` returns: a plain class rather than a
    ``@contextmanager`` generator, since every request of both servers enters it (a generator
    object per request cost ~1 µs; this costs a method call each way)."""

    __slots__ = ()
    _entered = 0
    _previous = 0

    def __enter__(self) -> None:
        cls = _DeepValues
        if cls._entered == 0:
            cls._previous = sys.getrecursionlimit()
            if cls._previous < DEEP_LIMIT:
                sys.setrecursionlimit(DEEP_LIMIT)
        cls._entered += 1

    def __exit__(self, *exc: object) -> None:
        cls = _DeepValues
        cls._entered -= 1
        if cls._entered == 0 and sys.getrecursionlimit() == DEEP_LIMIT and cls._previous < DEEP_LIMIT:
            sys.setrecursionlimit(cls._previous)


_DEEP_VALUES = _DeepValues()


def deep_values() -> AbstractContextManager[None]:
    """Run the block with the recursion limit at least :data:`DEEP_LIMIT` (re-entrant: nested and
    concurrent uses are counted; the previous limit is restored when the last one leaves)."""
    return _DEEP_VALUES

"""A small time-bounded cache with one computation in flight per key (authentication and
authorization decisions).

As k8s.io/apiserver's ``pkg/authentication/token/cache`` (cached token authenticator: results
kept for a TTL, concurrent requests for one token share one review) and
``plugin/pkg/authorizer/webhook`` (decisions cached, allowed and denied with their own TTL).
Keys are never logged; a key holding a secret should be a digest (:func:`digest`).
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, TypeVar

__all__ = ["TTLCache", "digest"]

_V = TypeVar("_V")


def digest(secret: str) -> bytes:
    """SHA-256 of ``secret``: the key a token is cached under, so the cache holds no token."""
    return hashlib.sha256(secret.encode()).digest()


class TTLCache(Generic[_V]):
    """At most ``max_entries`` values, each kept for the TTL its computation chose (seconds);
    the least recently stored are dropped first. ``clock`` is ``time.monotonic`` unless given."""

    def __init__(self, max_entries: int = 10_000, clock: Callable[[], float] = time.monotonic) -> None:
        self._entries: OrderedDict[Hashable, tuple[float, _V]] = OrderedDict()
        self._inflight: dict[Hashable, asyncio.Future[_V]] = {}
        self._max = max_entries
        self._clock = clock

    def __len__(self) -> int:
        return len(self._entries)

    def peek(self, key: Hashable) -> _V | None:
        """The unexpired value under ``key``, or None (an expired one is dropped)."""
        entry = self._entries.get(key)
        if entry is None:
            return None
        if entry[0] <= self._clock():
            del self._entries[key]
            return None
        return entry[1]

    async def get(
        self, key: Hashable, compute: Callable[[], Awaitable[_V]], ttl_of: Callable[[_V], float]
    ) -> tuple[_V, bool]:
        """``(value, cached)``: the unexpired value under ``key`` (cached True), else the result of
        ``compute()`` stored for ``ttl_of(value)`` seconds (0 or less: not stored). Concurrent
        calls for one key share one computation; its exception reaches each of them and nothing is
        stored."""
        entry = self._entries.get(key)
        if entry is not None:
            if entry[0] > self._clock():
                return entry[1], True
            del self._entries[key]
        pending = self._inflight.get(key)
        if pending is not None:
            return await asyncio.shield(pending), True
        future: asyncio.Future[_V] = asyncio.get_running_loop().create_future()
        self._inflight[key] = future
        try:
            value = await compute()
        except BaseException as e:
            if isinstance(e, asyncio.CancelledError):
                future.cancel()
            elif not future.done():
                future.set_exception(e)
                future.exception()  # retrieved: no "never retrieved" warning when nobody waits
            raise
        else:
            future.set_result(value)
            ttl = ttl_of(value)
            if ttl > 0:
                self._entries[key] = (self._clock() + ttl, value)
                if len(self._entries) > self._max:
                    self._entries.popitem(last=False)
            return value, False
        finally:
            del self._inflight[key]

"""When and how long to wait before replaying a request to the upstream.

The rule (documented in the README): a request is retried only when replaying it cannot change
the outcome.

- ``GET``/``HEAD`` (which includes lists and watches) are retried on a transient status
  (``RetrySettings.statuses``, by default 408, 429, 500, 502, 503, 504) and on any transport
  error that happens before a response arrives;
- ``POST``/``PUT``/``PATCH``/``DELETE`` only when the upstream cannot have acted on them: a
  ``429`` (the API server's max-in-flight / priority-and-fairness rejection happens before the
  handler runs) or a connection that failed before the request was sent;
- never once any byte of the response has been sent to the caller (the caller would see a
  response spliced from two attempts): the proxy decides before it starts the response.

Delays: ``base_delay * 2**i`` capped at ``max_delay`` for retry ``i`` (0-based), or the
``Retry-After`` of the upstream response (RFC 9110 §10.2.3: delay-seconds or an HTTP-date), and
no retry whose wait would end after ``overall_timeout`` from the first attempt.
This mirrors KubeRay APIServer V2's retry defaults (apiserversdk/util/retry.go in the KubeRay
repository) but, unlike it, does not replay writes the upstream may have applied.
"""

from __future__ import annotations

import email.utils
import time

from handler.settings import RetrySettings

#: Methods whose replay cannot change the outcome (RFC 9110 §9.2.2 idempotent and safe here).
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def may_retry_status(method: str, status: int, policy: RetrySettings) -> bool:
    """Whether an upstream answer ``status`` to ``method`` may be replayed (before any byte went out)."""
    if status not in policy.statuses:
        return False
    return method in SAFE_METHODS or status == 429


def may_retry_error(method: str, before_send: bool) -> bool:
    """Whether a transport error may be replayed.

    ``before_send`` is true when the connection failed before the request was written (refused,
    reset while connecting, DNS): the upstream never saw it, so any method may be replayed.
    After the request was sent only safe methods are.
    """
    return before_send or method in SAFE_METHODS


def backoff(attempt: int, policy: RetrySettings) -> float:
    """Seconds to wait before retry number ``attempt`` (0-based): ``base * 2**attempt`` capped."""
    return float(min(policy.max_delay, policy.base_delay * (2**attempt)))


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header value, or None when absent or unparseable.

    Accepts delay-seconds (``"3"``) and an HTTP-date (RFC 9110 §10.2.3); a date in the past is 0.
    ``now`` is a Unix time in seconds (defaults to the current time).
    """
    if value is None:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


def next_delay(
    attempt: int, policy: RetrySettings, started: float, retry_after: float | None, clock: float
) -> float | None:
    """Seconds to wait before retry ``attempt`` (0-based), or None when no retry is left.

    None when ``attempt >= policy.retries`` or when the wait would end after ``overall_timeout``
    seconds counted from ``started``; ``clock`` is the current ``time.monotonic()``.
    ``Retry-After`` (``retry_after`` seconds) replaces the computed backoff when given.
    """
    if attempt >= policy.retries:
        return None
    delay = backoff(attempt, policy) if retry_after is None else retry_after
    if clock + delay - started > policy.overall_timeout:
        return None
    return delay

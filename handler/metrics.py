"""Prometheus metrics of one gateway application (served at ``/metrics``).

Each application has its own ``CollectorRegistry`` so several apps can live in one process (tests).
Label values are low-cardinality: ``route`` is a :class:`handler.routes.Route` name
(``ray``, ``events``, ``service-proxy``, ``discovery``, or ``refused``), never a raw path.

With several granian workers a scrape reaches one of them, so ``kuberay-apiserver serve
--workers N`` (N > 1) sets ``PROMETHEUS_MULTIPROC_DIR`` and every worker renders the sum over all
workers (prometheus-client's multiprocess mode, see its docs "Multiprocess Mode").
"""

from __future__ import annotations

import os

from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)


class Metrics:
    """The gateway's metric families.

    - ``kuberay_apiserver_requests_total{route,method,code}``: requests answered;
    - ``kuberay_apiserver_request_duration_seconds{route,method}``: seconds until the response
      headers were sent (a watch's lifetime is not latency);
    - ``kuberay_apiserver_upstream_retries_total{route,reason}``: retries made, reason is the
      upstream status code or ``connect``/``transport``;
    - ``kuberay_apiserver_inflight_requests``: requests being served now (watches included);
    - ``kuberay_apiserver_shared_watches``: shared upstream watches open (:mod:`handler.watch_fanout`);
    - ``kuberay_apiserver_shared_watch_subscribers``: client watches served from them;
    - ``kuberay_apiserver_authentication_total{mode,result}``: requests authenticated, ``result``
      ``success``, ``failure`` (credentials present but refused) or ``no-credentials``;
    - ``kuberay_apiserver_authorization_total{decision,cached}``: access decisions made for
      requests and their lookups (``allowed`` / ``denied``; ``cached`` ``true`` when reused).
    """

    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "kuberay_apiserver_requests_total",
            "Requests answered by the gateway.",
            ["route", "method", "code"],
            registry=self.registry,
        )
        self.duration = Histogram(
            "kuberay_apiserver_request_duration_seconds",
            "Seconds until the response headers were sent.",
            ["route", "method"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
        )
        self.retries = Counter(
            "kuberay_apiserver_upstream_retries_total",
            "Upstream requests retried.",
            ["route", "reason"],
            registry=self.registry,
        )
        self.inflight = Gauge(
            "kuberay_apiserver_inflight_requests",
            "Requests being served.",
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self.shared_watches = Gauge(
            "kuberay_apiserver_shared_watches",
            "Shared upstream watches open (one per distinct watch request).",
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self.watch_subscribers = Gauge(
            "kuberay_apiserver_shared_watch_subscribers",
            "Client watches served from a shared upstream watch.",
            registry=self.registry,
            multiprocess_mode="livesum",
        )
        self.authentications = Counter(
            "kuberay_apiserver_authentication_total",
            "Requests authenticated, by mode and result (success, failure, no-credentials).",
            ["mode", "result"],
            registry=self.registry,
        )
        self.authorizations = Counter(
            "kuberay_apiserver_authorization_total",
            "Access decisions (SubjectAccessReview) for requests and their lookups.",
            ["decision", "cached"],
            registry=self.registry,
        )
        self._authn_children: dict[tuple[str, str], Counter] = {}
        self._authz_children: dict[tuple[bool, bool], Counter] = {}
        # The labelled children per (route, method, code): ``labels()`` validates and locks on
        # every call (~3 % of a proxied request's CPU); a child lives as long as its family, and
        # this map has exactly the families' label sets, so it grows no faster than they do.
        self._children: dict[tuple[str, str, int], tuple[Counter, Histogram]] = {}

    def observe(self, route: str, method: str, code: int, seconds: float) -> None:
        """Record one answered request: ``code`` its HTTP status, ``seconds`` time to headers."""
        key = (route, method, code)
        children = self._children.get(key)
        if children is None:
            children = (self.requests.labels(route, method, str(code)), self.duration.labels(route, method))
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def authentication(self, mode: str, result: str) -> None:
        """Count one authentication of ``mode`` with ``result`` (``success``, ``failure``,
        ``no-credentials``)."""
        key = (mode, result)
        child = self._authn_children.get(key)
        if child is None:
            child = self._authn_children[key] = self.authentications.labels(mode, result)
        child.inc()

    def authorization(self, allowed: bool, cached: bool) -> None:
        """Count one access decision (``allowed`` or denied; ``cached``: reused, not reviewed)."""
        key = (allowed, cached)
        child = self._authz_children.get(key)
        if child is None:
            labels = ("allowed" if allowed else "denied", "true" if cached else "false")
            child = self._authz_children[key] = self.authorizations.labels(*labels)
        child.inc()

    def render(self) -> bytes:
        """The text exposition format of every metric (summed over workers in multiprocess mode)."""
        if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
            registry = CollectorRegistry()
            multiprocess.MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
            return generate_latest(registry)
        return generate_latest(self.registry)

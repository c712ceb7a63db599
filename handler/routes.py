"""The gateway's route table: every path it serves, the verbs, the steps and the backend, on one screen.

Read it as KubeRay APIServer V2's ``NewMux`` (apiserversdk/proxy.go in the KubeRay repository),
where each ``mux.Handle(pattern, middleware(handler))`` line is one route here. A request runs its
route's steps in order (:mod:`handler.steps`, :class:`handler.template_api.TemplateConfigMapGuard`),
then the backend (:mod:`handler.backends`, :func:`handler.template_api.compute_templates_v1`).
Anything no route matches is a 404 ``Status``; a served path with another verb is a 405. Pattern
syntax: :mod:`handler.routing`. Users change the table through ``create_app(routes=...)``.
"""

from __future__ import annotations

from collections.abc import Sequence

from handler.backends import discovery_documents, upstream_passthrough
from handler.hooks import ObjectHook
from handler.pod_security import EnforcePodSecurity
from handler.raypods import ForceRayNodeSelector, RequireRayPod
from handler.request import RequestRule
from handler.routing import ALL_VERBS, READ_VERBS, Route, RouteTable, path_segments, service_name
from handler.steps import (
    CancelOnDisconnect,
    EvaluateFieldSelectorsLocally,
    ForceEventsSelector,
    ObjectHooks,
    ReadApiBody,
    RequestRules,
    RequireKubeRayService,
    ShareWatches,
    force_field_selector,
    is_kuberay_service,
)
from handler.target import RequestTarget, RouteFamily
from handler.template_api import TemplateConfigMapGuard, TemplateConfigMapWriteCheck, compute_templates_v1
from handler.watch_fanout import WatchCache

__all__ = [
    "force_field_selector",
    "gateway_routes",
    "is_kuberay_service",
    "match",
    "path_segments",
    "service_name",
]

RAY, EVENTS, SERVICE_PROXY = RouteFamily.RAY, RouteFamily.EVENTS, RouteFamily.SERVICE_PROXY
PODS = RouteFamily.RAY_PODS
DISCOVERY, CONFIGMAPS, V1 = (
    RouteFamily.DISCOVERY,
    RouteFamily.TEMPLATE_CONFIGMAPS,
    RouteFamily.COMPUTE_TEMPLATES,
)
ANY, READ = ALL_VERBS, READ_VERBS
CREATE_LIST, ITEM = frozenset({"GET", "HEAD", "POST"}), frozenset({"GET", "HEAD", "PUT", "DELETE"})
V1_COLLECTION, V1_ITEM = frozenset({"GET", "POST"}), frozenset({"GET", "DELETE"})


def gateway_routes(
    rules: Sequence[RequestRule] = (),
    object_hooks: Sequence[ObjectHook] = (),
    watches: WatchCache | None = None,
    field_selector_fields: Sequence[str] = (),
    pod_security: str = "privileged",
) -> RouteTable:
    """The gateway's routes: ``rules`` are the request rules, ``object_hooks`` the object hooks in
    run order (``apply_defaults``, ``apply_compute_templates``, then the caller's), ``watches`` the
    shared-watch cache (None: fan-out off), ``field_selector_fields`` the fields the gateway
    evaluates in ``fieldSelector`` itself, ``pod_security`` the Pod Security Standards level
    checked on Ray objects' pod templates after the object hooks (:mod:`handler.pod_security`)."""
    # The steps, by the names the table uses (each a handler.steps / handler.template_api object).
    read_api_body, request_rules = ReadApiBody(), RequestRules(rules)
    apply_object_hooks = ObjectHooks(object_hooks)  # apply_defaults, apply_compute_templates, the caller's
    enforce_pod_security = EnforcePodSecurity(pod_security)  # on the object as the hooks left it
    share_watches = ShareWatches(watches, field_selector_fields)  # not for locally evaluated selectors
    share_event_watches = ShareWatches(watches)
    # Every route: a caller that leaves cancels its request and the upstream call (issue 13); after
    # share_watches, whose shared watch response waits for the caller's disconnect itself.
    cancel_on_disconnect = CancelOnDisconnect(always=True)
    evaluate_field_selectors_locally = EvaluateFieldSelectorsLocally(field_selector_fields)
    require_kuberay_service, template_configmap_guard = RequireKubeRayService(), TemplateConfigMapGuard()
    template_configmap_write_check = TemplateConfigMapWriteCheck()  # the caller's body, before the hooks
    force_core_events_selector = ForceEventsSelector("core")  # involvedObject.apiVersion=ray.io/v1
    force_events_selector = ForceEventsSelector("events.k8s.io")  # regarding.apiVersion=ray.io/v1
    force_ray_node_selector, require_ray_pod = ForceRayNodeSelector(), RequireRayPod()  # handler.raypods
    passthrough, templates_v1, documents = upstream_passthrough, compute_templates_v1, discovery_documents
    # fmt: off
    return RouteTable([
        Route("/apis/ray.io/v1/{resource...}", ANY, "ray", RAY, group="ray.io",
              steps=(read_api_body, request_rules, apply_object_hooks, enforce_pod_security, share_watches,
                     cancel_on_disconnect, evaluate_field_selectors_locally),
              backend=passthrough),
        Route("/api/v1/namespaces/{namespace}/configmaps", CREATE_LIST, "template-configmaps", CONFIGMAPS,
              group="", resource="configmaps",
              steps=(cancel_on_disconnect, read_api_body, request_rules, template_configmap_write_check,
                     apply_object_hooks, template_configmap_guard),
              backend=passthrough),
        Route("/api/v1/namespaces/{namespace}/configmaps/{name}", ITEM, "template-configmaps", CONFIGMAPS,
              group="", resource="configmaps",
              steps=(cancel_on_disconnect, read_api_body, request_rules, template_configmap_write_check,
                     apply_object_hooks,
                     template_configmap_guard),
              backend=passthrough),
        Route("/apis/v1/namespaces/{namespace}/compute_templates", V1_COLLECTION, "compute-templates", V1,
              group="", resource="compute_templates",
              steps=(cancel_on_disconnect, read_api_body, request_rules), backend=templates_v1),
        Route("/apis/v1/namespaces/{namespace}/compute_templates/{name}", V1_ITEM, "compute-templates", V1,
              group="", resource="compute_templates",
              steps=(cancel_on_disconnect, read_api_body, request_rules), backend=templates_v1),
        Route("/apis/v1/compute_templates", READ, "compute-templates", V1,
              group="", resource="compute_templates",
              steps=(cancel_on_disconnect, read_api_body, request_rules), backend=templates_v1),
        Route("/api/v1/namespaces/{namespace:raw}/services/{service}/proxy/{path...}", None, "service-proxy",
              SERVICE_PROXY,
              steps=(request_rules, require_kuberay_service, cancel_on_disconnect), backend=passthrough,
              websocket=(require_kuberay_service.check,)),
        Route("/api/v1/namespaces/{namespace:raw}/events", READ, "events-core", EVENTS,
              steps=(request_rules, force_core_events_selector, share_event_watches, cancel_on_disconnect),
              backend=passthrough),
        Route("/apis/events.k8s.io/v1/namespaces/{namespace:raw}/events", READ, "events", EVENTS,
              steps=(request_rules, force_events_selector, share_event_watches, cancel_on_disconnect),
              backend=passthrough),
        # Ray pods, read-only: lists and watches with ray.io/is-ray-node=yes forced into the label
        # selector; one pod and its log only when it carries that label (handler.raypods).
        *[Route(path, READ, "pods", PODS, group="", resource="pods",
                steps=(request_rules, force_ray_node_selector, cancel_on_disconnect),
                backend=passthrough)
          for path in ("/api/v1/namespaces/{namespace}/pods", "/api/v1/pods")],
        Route("/api/v1/namespaces/{namespace}/pods/{name}", READ, "pods", PODS, group="", resource="pods",
              steps=(request_rules, force_ray_node_selector, require_ray_pod, cancel_on_disconnect),
              backend=passthrough),
        Route("/api/v1/namespaces/{namespace}/pods/{name}/log", READ, "pods-log", PODS, group="",
              resource="pods", subresource="log",
              steps=(request_rules, require_ray_pod, cancel_on_disconnect), backend=passthrough),
        *[Route(path, READ, "discovery", DISCOVERY, steps=(cancel_on_disconnect,), backend=documents)
          for path in ("/api", "/api/v1", "/apis", "/apis/ray.io", "/apis/ray.io/v1", "/apis/events.k8s.io",
                       "/apis/events.k8s.io/v1", "/version", "/openapi/v2", "/openapi/v3",
                       "/openapi/v3/{path+}")],
    ])
    # fmt: on


_default: RouteTable | None = None


def match(method: str, path: str) -> RequestTarget:
    """What ``method`` on raw ``path`` addresses in the default route table; StatusError 404 (not
    served) or 405 (verb not allowed on a served path)."""
    global _default
    if _default is None:
        _default = gateway_routes()
    return _default.match(method, path)[1]

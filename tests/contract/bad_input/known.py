"""Bad-input divergences from kube-apiserver that are known, each with why it is accepted.

``KNOWN`` maps ``(case, target)`` to the reason; a target of ``"*"`` covers every target. A listed
case that agrees with refkube fails the test, so the list cannot go stale.
"""

from __future__ import annotations

_LIBYAML_DEPTH = (
    "libyaml (PyYAML's C parser, which kubeapi.decode composes on) refuses nesting past 1,000 "
    "levels where go-yaml allows 10,000: such a YAML body is a 400 'exceeded max depth' instead "
    "of being decoded (JSON bodies nest to Go's 10,000; no Kubernetes object comes near either)"
)
_GATEWAY_HEAD = (
    "by design: the gateway's request head is bounded by granian's HTTP/1 buffer "
    "(Settings.http1_buffer_bytes, 8 KiB by default, as nginx's; it keeps each open watch ~9 KB "
    "smaller), and granian's parser answers a longer head 431 with an empty body before the gateway "
    "sees it; kube-apiserver reads heads up to 1 MiB. KUBERAY_APISERVER_HTTP1_BUFFER_BYTES=1100000 "
    "accepts what it accepts"
)
_CONTINUE_HISTORY = (
    "a continue token at resourceVersion 1: refkube's etcd keeps every revision until its first "
    "compaction (5 minutes after start), fakekube keeps only the changes since its own start "
    "(--history-size), so its token is expired (410, as refkube answers once etcd compacted)"
)
KNOWN: dict[tuple[str, str], str] = {
    ("file:deep_flow.yaml", "fakekube"): _LIBYAML_DEPTH,
    ("file:deep_flow.yaml", "gateway-fakekube"): _LIBYAML_DEPTH,
    ("header-20k", "gateway-fakekube"): _GATEWAY_HEAD,
    ("header-20k", "gateway-refkube"): _GATEWAY_HEAD,
    ("list?labelSelector=k0%3Dv%2Ck1%3Dv%2Ck2%3Dv%2", "gateway-fakekube"): _GATEWAY_HEAD,
    ("list?labelSelector=k0%3Dv%2Ck1%3Dv%2Ck2%3Dv%2", "gateway-refkube"): _GATEWAY_HEAD,
    ("list?continue=eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJ", "fakekube"): _CONTINUE_HISTORY,
    ("list?continue=eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJ", "gateway-fakekube"): _CONTINUE_HISTORY,
}


def explain(case: str, target: str) -> str | None:
    """The reason ``case`` may diverge on ``target``, or None when it must agree."""
    return KNOWN.get((case, target)) or KNOWN.get((case, "*"))

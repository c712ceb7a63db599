"""Normalise recorded API responses so two servers' answers can be compared for equality.

A transcript is a list of steps, each ``{"req": "VERB path?query", "code": int, "body": json,
"warning": str | None}`` (or a watch step whose body is the list of events). Two API servers
legitimately differ in values the Kubernetes API leaves to the server, and only in those:

- ``metadata.uid`` (any ``uid``): replaced by ``uid1, uid2, ...`` in order of first appearance,
  so "the same object" stays recognisable (e.g. the delete ``Status`` ``details.uid``).
- timestamps (RFC 3339 strings such as ``creationTimestamp``, ``deletionTimestamp``): ``<ts>``.
- ``resourceVersion`` numbers: only their order is specified (``resourceVersion`` is opaque and
  comparable only for equality, but etcd-backed servers hand out increasing integers; see
  kubernetes.io/docs/reference/using-api/api-concepts/#resource-versions). Every object's
  ``metadata.resourceVersion`` is replaced by its rank among the object resourceVersions of the
  transcript (``rv1 < rv2 < ...``). A list's or bookmark's resourceVersion is a point in time that
  may include unrelated writes (the real apiserver writes leases and events of its own), so it
  becomes ``rvK+``: "at or after the K-th object version, before the next one". The same holds
  for numbers quoted in messages ("the ResourceVersion in record (N)", "too old resource
  version: 1 (N)").
- ``managedFields``: dropped here (timestamps and field sets of server-side apply bookkeeping);
  one scenario records a summary of them instead.
- the per-run namespace name, and names made from ``generateName``: replaced by placeholders.
- ``metadata.continue`` tokens (and ``continue=`` request parameters) are opaque: ``<continue>``.
- uids quoted inside messages get the same placeholders as the ``uid`` fields.
- the order of an ``APIResourceList``'s ``resources``: the apiserver appends CRD resources in its
  informer cache's (map) order, which changes from run to run (``sync`` in
  k8s.io/apiextensions-apiserver/pkg/apiserver/customresource_discovery_controller.go sorts only
  the aggregated document), so they are sorted by name.
"""

from __future__ import annotations

import re
from typing import Any

Json = Any

_TS = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$")
# A request's own resourceVersion parameter (watch/list) is a list-style point in time.
_RV_PARAM = re.compile(r"(resourceVersion=)([^&]+)")
_CONTINUE_PARAM = re.compile(r"(continue=)([^&]+)")
# resourceVersions quoted in messages: precondition failures, and 410 "too old resource version: N (M)"
_RV_IN_TEXT = re.compile(r"(ResourceVersion in record \(|too old resource version: \d+ \()(\d+)(\))")
_UID = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")


def _walk(node: Json, visit_obj: Any) -> None:
    """Call ``visit_obj(d)`` for every dict in ``node`` (depth first)."""
    if isinstance(node, dict):
        visit_obj(node)
        for v in node.values():
            _walk(v, visit_obj)
    elif isinstance(node, list):
        for v in node:
            _walk(v, visit_obj)


def _is_object_meta(d: dict[str, Any]) -> bool:
    """True when ``d`` is an object's ``metadata`` (has a name) rather than a ListMeta."""
    return "name" in d or "generateName" in d


def _rv_int(v: Any) -> int | None:
    try:
        return int(v)
    except (TypeError, ValueError):
        return None


class Normaliser:
    """Normalises one transcript; built once per transcript because ranks are transcript-wide.

    ``namespaces`` are the per-run namespace names to replace with ``<ns>``, ``<ns2>``...
    """

    def __init__(self, transcript: list[dict[str, Any]], namespaces: list[str]) -> None:
        self.namespaces = namespaces
        object_rvs: set[int] = set()
        generated: dict[str, str] = {}

        def collect(d: dict[str, Any]) -> None:
            meta = d.get("metadata")
            if isinstance(meta, dict) and _is_object_meta(meta):
                rv = _rv_int(meta.get("resourceVersion"))
                if rv is not None:
                    object_rvs.add(rv)
                gen, name = meta.get("generateName"), meta.get("name")
                if isinstance(gen, str) and isinstance(name, str) and name.startswith(gen) and name != gen:
                    generated[name] = gen + "<generated>"

        for step in transcript:
            _walk(step.get("body"), collect)
        self.object_rvs = sorted(object_rvs)
        self.rank = {rv: f"rv{i + 1}" for i, rv in enumerate(self.object_rvs)}
        self.generated = generated
        self.uids: dict[str, str] = {}
        # longest first: a second namespace may be named after the first (``ns-2``)
        placeholders = ["<ns>" if i == 0 else f"<ns{i + 1}>" for i in range(len(namespaces))]
        for step in transcript:  # number uids by first appearance, before any message quotes one
            _walk(step.get("body"), lambda d: isinstance(d.get("uid"), str) and self.uid(d["uid"]))
        self.ns_repl = sorted(zip(namespaces, placeholders, strict=True), key=lambda p: -len(p[0]))

    def point(self, value: Any) -> str:
        """Map a list/bookmark/request resourceVersion to ``rvK`` (an object's) or ``rvK+``."""
        rv = _rv_int(value)
        if rv is None:
            return f"<rv {value!r}>"
        return f"rv{sum(r <= rv for r in self.object_rvs)}+"

    def text(self, s: str) -> str:
        """Replace namespaces and generated names inside a string; timestamps become ``<ts>``."""
        if _TS.match(s):
            return "<ts>"
        if _UID.match(s):
            return self.uid(s)
        for name, repl in self.generated.items():
            s = s.replace(name, repl)
        for ns, repl in self.ns_repl:
            s = s.replace(ns, repl)
        for uid, repl in self.uids.items():
            s = s.replace(uid, repl)
        return _RV_IN_TEXT.sub(lambda m: m.group(1) + self.point(m.group(2)) + m.group(3), s)

    def uid(self, value: str) -> str:
        """``uidN``: the placeholder of ``value``, numbered by first appearance."""
        return self.uids.setdefault(value, f"uid{len(self.uids) + 1}")

    def value(self, node: Json, key: str | None = None) -> Json:
        """Return a normalised deep copy of ``node``."""
        if isinstance(node, dict):
            object_meta = key == "metadata" and _is_object_meta(node)
            out: dict[str, Any] = {}
            for k, v in node.items():
                if k == "managedFields":
                    continue
                if k == "uid" and isinstance(v, str):
                    out[k] = self.uid(v)
                elif k == "resourceVersion" and key == "metadata":
                    rv = _rv_int(v)
                    out[k] = self.rank[rv] if object_meta and rv in self.rank else self.point(v)
                elif k == "continue" and key == "metadata" and isinstance(v, str):
                    out[k] = "<continue>" if v else ""
                else:
                    out[k] = self.value(v, k)
            return out
        if isinstance(node, list):
            return [self.value(v, key) for v in node]
        if isinstance(node, str):
            return self.text(node)
        return node

    def request(self, req: str) -> str:
        """Normalise a recorded request line (namespaces, resourceVersion parameters)."""
        req = _RV_PARAM.sub(lambda m: m.group(1) + self.point(m.group(2)), req)
        req = _CONTINUE_PARAM.sub(r"\1<continue>", req)
        return self.text(req)


def _ordered(body: Json) -> Json:
    """``body`` with an ``APIResourceList``'s resources sorted by name (their order is unspecified)."""
    if (
        isinstance(body, dict)
        and body.get("kind") == "APIResourceList"
        and isinstance(body.get("resources"), list)
    ):
        return {**body, "resources": sorted(body["resources"], key=lambda r: str(r.get("name")))}
    return body


def normalise(transcript: list[dict[str, Any]], namespaces: list[str]) -> list[dict[str, Any]]:
    """Return the normalised copy of ``transcript`` (see the module docstring for the rules)."""
    n = Normaliser(transcript, namespaces)
    return [
        {
            "req": n.request(step["req"]),
            "code": step["code"],
            "body": _ordered(n.value(step.get("body"))),
            **({"warning": n.text(step["warning"])} if step.get("warning") else {}),
        }
        for step in transcript
    ]


def diff(a: Json, b: Json, path: str = "") -> list[str]:
    """List the JSON paths where ``a`` and ``b`` differ, as ``path: a != b`` lines."""
    if isinstance(a, dict) and isinstance(b, dict):
        out: list[str] = []
        for k in sorted(set(a) | set(b), key=str):
            p = f"{path}.{k}"
            if k not in a:
                out.append(f"{p}: <absent> != {_short(b[k])}")
            elif k not in b:
                out.append(f"{p}: {_short(a[k])} != <absent>")
            else:
                out.extend(diff(a[k], b[k], p))
        return out
    if isinstance(a, list) and isinstance(b, list):
        if len(a) != len(b):
            return [f"{path}: {len(a)} items != {len(b)} items ({_short(a)} != {_short(b)})"]
        out = []
        for i, (x, y) in enumerate(zip(a, b, strict=True)):
            out.extend(diff(x, y, f"{path}[{i}]"))
        return out
    return [] if a == b else [f"{path}: {_short(a)} != {_short(b)}"]


def _short(v: Json, limit: int = 400) -> str:
    s = repr(v)
    return s if len(s) <= limit else s[:limit] + "..."


def diff_transcripts(got: list[dict[str, Any]], ref: list[dict[str, Any]]) -> list[str]:
    """Differences between two normalised transcripts, step by step (``got`` vs reference)."""
    out: list[str] = []
    for i in range(max(len(got), len(ref))):
        if i >= len(got) or i >= len(ref):
            out.append(f"step {i}: only one side has {(got if i < len(got) else ref)[i]['req']}")
            continue
        g, r = got[i], ref[i]
        label = f"step {i} {r['req']}"
        if g["req"] != r["req"]:
            out.append(f"{label}: different request {g['req']}")
            continue
        out.extend(f"{label}: {d}" for d in diff(g, r) if not d.startswith(".req"))
    return out

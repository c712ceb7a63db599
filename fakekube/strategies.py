"""Hypothesis strategies for testing code against fakekube (needs the ``hypothesis`` package).

- Valid Ray objects per the bundled CRD schemas: :func:`ray_objects` (``RayCluster``, ``RayJob``,
  ``RayService``, ``RayCronJob``), :func:`custom_resources` for any CRD, :func:`from_schema`
  for one schema node, :func:`dns_labels` for object names (from :mod:`fakekube.crd.generators`).
- Label selectors (https://kubernetes.io/docs/concepts/overview/working-with-objects/labels/,
  grammar of ``k8s.io/apimachinery/pkg/labels/selector.go``): :func:`label_requirements` draws
  :class:`Requirement` models that render in every spelling the parser accepts (``=``, ``==``,
  ``!=``, ``in``, ``notin``, existence, ``!key``, ``gt``, ``lt``, optional blanks) and know which
  label sets they match; :func:`label_selectors` draws ``(text, requirements)`` pairs;
  :func:`invalid_label_selectors` draws ``(text, message_prefix)`` pairs the apiserver refuses
  with ``unable to parse requirement: ...``-style messages; :func:`label_sets` draws labels.
- Operation sequences on one namespaced collection: :func:`operations` draws :class:`Operation`
  values (create, label, spec, status, delete) that :meth:`Operation.request` turns into HTTP
  requests for any client.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, NamedTuple

from hypothesis import strategies as st

from fakekube.crd.generators import custom_resources, dns_labels, from_schema, ray_objects

__all__ = [
    "INVALID_LABEL_SELECTORS",
    "LABEL_KEYS",
    "LABEL_VALUES",
    "Operation",
    "Requirement",
    "custom_resources",
    "dns_labels",
    "from_schema",
    "invalid_label_selectors",
    "label_requirements",
    "label_selectors",
    "label_sets",
    "operations",
    "ray_objects",
]

#: Label keys drawn by default: plain, prefixed (``prefix/name``) and with a dash.
LABEL_KEYS = ("a", "b", "app.kubernetes.io/name", "x-1")
#: Label values drawn by default: empty, letters, numbers (for ``gt``/``lt``) and ``_.``.
LABEL_VALUES = ("", "v", "w", "1", "12", "x_y.z")


@dataclass(frozen=True)
class Requirement:
    """One label selector requirement: ``key``, ``op`` (``=``, ``==``, ``!=``, ``in``, ``notin``,
    ``exists``, ``!``, ``gt``, ``lt``) and its ``values``; a model of how the apiserver matches it."""

    key: str
    op: str
    values: tuple[str, ...]

    def render(self, ws: str = "") -> str:
        """The requirement as selector text, with ``ws`` (blanks) around operators and values."""
        if self.op == "exists":
            return self.key
        if self.op == "!":
            return f"!{ws}{self.key}"
        if self.op in ("in", "notin"):
            return f"{self.key} {self.op}{ws}({ws}{(ws + ',' + ws).join(self.values)}{ws})"
        sym = {"gt": ">", "lt": "<"}.get(self.op, self.op)
        return f"{self.key}{ws}{sym}{ws}{self.values[0]}"

    def matches(self, labels: dict[str, str]) -> bool:
        """Whether ``labels`` satisfy the requirement (``labels.Requirement.Matches``: ``!=`` and
        ``notin`` match a missing key; ``gt``/``lt`` need an integer value)."""
        has, v = self.key in labels, labels.get(self.key)
        if self.op in ("=", "==", "in"):
            return has and v in self.values
        if self.op in ("!=", "notin"):
            return not has or v not in self.values
        if self.op == "exists":
            return has
        if self.op == "!":
            return not has
        if not has or not (v or "").lstrip("-").isdigit():
            return False
        return int(v or 0) > int(self.values[0]) if self.op == "gt" else int(v or 0) < int(self.values[0])


def label_requirements(
    keys: tuple[str, ...] = LABEL_KEYS, values: tuple[str, ...] = LABEL_VALUES
) -> st.SearchStrategy[Requirement]:
    """Valid :class:`Requirement` values over ``keys`` and ``values``."""
    key = st.sampled_from(keys)
    nonempty = [v for v in values if v] or ["v"]
    return st.one_of(
        st.builds(Requirement, key, st.sampled_from(["=", "==", "!="]), st.tuples(st.sampled_from(values))),
        st.builds(
            Requirement,
            key,
            st.sampled_from(["in", "notin"]),
            st.lists(st.sampled_from(nonempty), min_size=1, max_size=3, unique=True).map(tuple),
        ),
        st.builds(Requirement, key, st.sampled_from(["exists", "!"]), st.just(())),
        st.builds(
            Requirement, key, st.sampled_from(["gt", "lt"]), st.tuples(st.sampled_from(["0", "5", "11"]))
        ),
    )


def label_selectors(
    max_requirements: int = 4, keys: tuple[str, ...] = LABEL_KEYS, values: tuple[str, ...] = LABEL_VALUES
) -> st.SearchStrategy[tuple[str, list[Requirement]]]:
    """``(selector text, requirements)``: valid selectors (possibly empty = everything); an object
    matches when it matches every requirement."""

    @st.composite
    def build(draw: st.DrawFn) -> tuple[str, list[Requirement]]:
        reqs = draw(st.lists(label_requirements(keys, values), max_size=max_requirements))
        ws = draw(st.sampled_from(["", " ", "  "]))
        return (ws + "," + ws).join(r.render(ws) for r in reqs), reqs

    return build()


def label_sets(
    keys: tuple[str, ...] = LABEL_KEYS, values: tuple[str, ...] = (*LABEL_VALUES, "7", "30")
) -> st.SearchStrategy[dict[str, str]]:
    """``metadata.labels`` maps over ``keys`` and ``values`` (up to 4 labels)."""
    return st.dictionaries(st.sampled_from(keys), st.sampled_from(values), max_size=4)


#: Selector fragments the apiserver refuses, each with the start of its error message
#: (``labels.Parse``; the 400 ``BadRequest`` Status message is ``unable to parse requirement: ...``
#: or ``found '...', expected: ...``). ``(a)`` after a ``,`` is worded
#: ``found '(', expected: identifier after ','`` instead.
INVALID_LABEL_SELECTORS: tuple[tuple[str, str], ...] = (
    ("-bad=v", 'unable to parse requirement: <nil>: Invalid value: "-bad"'),
    ("a=-v", 'unable to parse requirement: values[0][a]: Invalid value: "-v"'),
    ("a in v", "unable to parse requirement: found 'v' expected: '('"),
    ("a in (v w)", "unable to parse requirement: found 'w', expected: ',' or ')'"),
    ("a ~ v", "unable to parse requirement: found '~', expected: in, notin, =, ==, !=, gt, lt"),
    ("a>v", "unable to parse requirement: values[0]: Invalid value: \"v\": for 'Gt', 'Lt' operators"),
    ("a=v=w", "found '=', expected: ',' or 'end of string'"),
    ("(a)", "found '(', expected: !, identifier, or 'end of string'"),
    ("!a=v", "found '=', expected: ',' or 'end of string'"),
    ("a" * 64, "unable to parse requirement: <nil>: Invalid value"),
)


def invalid_label_selectors(max_prefix: int = 2) -> st.SearchStrategy[tuple[str, str]]:
    """``(selector text, expected message prefix)``: up to ``max_prefix`` valid requirements
    followed by one fragment of :data:`INVALID_LABEL_SELECTORS`."""

    @st.composite
    def build(draw: st.DrawFn) -> tuple[str, str]:
        prefix = draw(st.lists(label_requirements(), max_size=max_prefix))
        broken, want = draw(st.sampled_from(INVALID_LABEL_SELECTORS))
        if prefix and broken == "(a)":
            want = "found '(', expected: identifier after ','"
        return ",".join([*(r.render(" ") for r in prefix), broken]), want

    return build()


class Operation(NamedTuple):
    """One write on a RayCluster named ``name``: ``kind`` is ``create`` (``arg``: the ``sel`` label
    value, "" for none), ``label`` (set ``sel`` to ``arg``, "" removes it), ``spec`` (``arg``:
    ``spec.rayVersion``), ``status`` (``arg``: ``status.state``) or ``delete``."""

    kind: str
    name: str
    arg: str

    def request(self, collection: str) -> tuple[str, str, bytes, str]:
        """``(method, path, body, content type)`` of the operation on ``collection`` (the
        collection path, e.g. ``/apis/ray.io/v1/namespaces/default/rayclusters``)."""
        merge = "application/merge-patch+json"
        obj = f"{collection}/{self.name}"
        if self.kind == "create":
            body = raycluster(self.name, {"sel": self.arg} if self.arg else None)
            return "POST", collection, _json(body), "application/json"
        if self.kind == "label":
            return "PATCH", obj, _json({"metadata": {"labels": {"sel": self.arg or None}}}), merge
        if self.kind == "spec":
            return "PATCH", obj, _json({"spec": {"rayVersion": self.arg}}), merge
        if self.kind == "status":
            return "PATCH", f"{obj}/status", _json({"status": {"state": self.arg}}), merge
        return "DELETE", obj, b"", "application/json"


def operations(names: tuple[str, ...] = ("r0", "r1", "r2")) -> st.SearchStrategy[Operation]:
    """:class:`Operation` values on the RayClusters ``names`` (some fail, e.g. a create of an
    existing name: a sequence exercises both outcomes)."""
    name = st.sampled_from(names)
    return st.one_of(
        st.builds(Operation, st.just("create"), name, st.sampled_from(["", "1", "2"])),
        st.builds(Operation, st.just("label"), name, st.sampled_from(["", "1", "2"])),
        st.builds(Operation, st.just("spec"), name, st.sampled_from(["2.9.0", "2.10.0"])),
        st.builds(Operation, st.just("status"), name, st.sampled_from(["ready", "failed"])),
        st.builds(Operation, st.just("delete"), name, st.just("")),
    )


def raycluster(name: str, labels: dict[str, str] | None = None, **spec: Any) -> dict[str, Any]:
    """A small valid RayCluster body (head group only, as the CRD schema requires); ``labels`` become
    ``metadata.labels`` and keyword arguments extra ``spec`` fields (e.g. ``suspend=True``)."""
    return {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {"name": name, **({"labels": labels} if labels else {})},
        "spec": {
            "rayVersion": "2.9.0",
            "headGroupSpec": {
                "rayStartParams": {},
                "template": {"spec": {"containers": [{"name": "ray-head", "image": "rayproject/ray:2.9.0"}]}},
            },
            **spec,
        },
    }


def _json(obj: Any) -> bytes:
    return json.dumps(obj).encode()

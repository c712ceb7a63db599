"""Hypothesis strategies for custom resources that a CRD's schema accepts (Ray objects by default).

``ray_objects("RayCluster")`` draws complete ``ray.io/v1`` objects valid for the bundled Ray
CRDs (pod templates included); :func:`from_schema` does the same for any structural schema node.
Requires the ``hypothesis`` package (a test dependency; this module is only imported by tests).

What is generated, per schema keyword: ``type`` (JSON type), ``enum``, ``pattern`` (regex
strategy), ``minLength``/``maxLength``, ``minimum``/``maximum``, ``minItems``/``maxItems``,
``format: date-time``, ``x-kubernetes-int-or-string`` (integers or strings, honouring the
quantity ``pattern``), ``x-kubernetes-list-type: set/map`` (unique items / unique map keys),
``additionalProperties`` (a few keys), ``required`` (always present). Optional properties are
drawn up to ``max_optional`` per object and only above ``max_depth``, so objects stay small.
Optional properties whose subtree has CEL ``x-kubernetes-validations`` are never drawn
(CEL rules cannot be inverted into a generator); required ones are filtered by validation.
"""

from __future__ import annotations

import string
from datetime import UTC, datetime
from typing import Any

from hypothesis import strategies as st

from fakekube.crd.builtin import builtin_crds
from fakekube.crd.model import CustomResourceDefinition
from fakekube.crd.schema import Node, compiled
from kubeapi.types import JSON

_TEXT = st.text(alphabet=string.ascii_lowercase + string.digits + "-._", min_size=1, max_size=12)
_INT32 = (-(2**31), 2**31 - 1)
_INT64 = (-(2**63), 2**63 - 1)


def dns_labels() -> st.SearchStrategy[str]:
    """RFC 1123 labels (``[a-z0-9]([-a-z0-9]*[a-z0-9])?``, at most 20 chars here): object names."""
    return st.from_regex(r"[a-z]([-a-z0-9]{0,18}[a-z0-9])?", fullmatch=True)


def _string(s: Node) -> st.SearchStrategy[Any]:
    if s.pattern_text is not None:
        strat: st.SearchStrategy[str] = st.from_regex(s.pattern, fullmatch=False) if s.pattern else _TEXT
    elif s.format in ("date-time", "datetime"):
        strat = st.datetimes(min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1)).map(
            lambda d: d.replace(tzinfo=UTC, microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")
        )
    else:
        strat = st.text(
            alphabet=string.ascii_letters + string.digits + "-._/ ",
            min_size=s.min_length or 0,
            max_size=min(s.max_length if s.max_length is not None else 16, 16),
        )
    lo, hi = s.min_length or 0, s.max_length
    if s.pattern_text is not None and (lo or hi is not None):
        strat = strat.filter(lambda v: len(v) >= lo and (hi is None or len(v) <= hi))
    return strat


def _integer(s: Node) -> st.SearchStrategy[int]:
    lo, hi = _INT64 if s.format == "int64" else _INT32
    if s.minimum is not None:
        lo = max(lo, int(s.minimum) + (1 if s.exclusive_minimum else 0))
    if s.maximum is not None:
        hi = min(hi, int(s.maximum) - (1 if s.exclusive_maximum else 0))
    return st.integers(min_value=lo, max_value=hi)


def _number(s: Node) -> st.SearchStrategy[float]:
    return st.floats(
        min_value=s.minimum,
        max_value=s.maximum,
        exclude_min=s.exclusive_minimum,
        exclude_max=s.exclusive_maximum,
        allow_nan=False,
        allow_infinity=False,
    )


def _array(s: Node, depth: int, max_depth: int, max_optional: int) -> st.SearchStrategy[list[Any]]:
    items = s.items
    if items is None:
        return st.just([])
    min_size = s.min_items or 0
    max_size = max(min_size, min(s.max_items if s.max_items is not None else 2, 2))
    if depth >= max_depth:
        max_size = min_size
    element = from_schema(items, depth + 1, max_depth, max_optional)
    if s.list_type == "set":
        return st.lists(element, min_size=min_size, max_size=max_size, unique_by=repr)
    if s.list_type == "map" and s.list_map_keys:
        keys = s.list_map_keys
        defaults = {k: items.properties[k].default for k in keys if k in items.properties}

        def key_of(v: Any) -> str:
            return repr([v.get(k, defaults.get(k)) for k in keys]) if isinstance(v, dict) else repr(v)

        return st.lists(element, min_size=min_size, max_size=max_size, unique_by=key_of)
    return st.lists(element, min_size=min_size, max_size=max_size)


def _object(s: Node, depth: int, max_depth: int, max_optional: int) -> st.SearchStrategy[JSON]:
    props = s.properties
    if not props:
        if s.additional is not None:
            size = 0 if depth >= max_depth else 2
            value = from_schema(s.additional, depth + 1, max_depth, max_optional)
            return st.dictionaries(_TEXT, value, max_size=size)
        return st.just({})
    required = {
        k: from_schema(props[k], depth + 1, max_depth, max_optional) for k in s.required if k in props
    }
    optional = sorted(k for k, p in props.items() if k not in required and not p.subtree_has_rules)
    if depth >= max_depth or not optional:
        return st.fixed_dictionaries(required)

    @st.composite
    def build(draw: st.DrawFn) -> JSON:
        out: JSON = draw(st.fixed_dictionaries(required))
        chosen = draw(st.lists(st.sampled_from(optional), max_size=max_optional, unique=True))
        for k in chosen:
            out[k] = draw(from_schema(props[k], depth + 1, max_depth, max_optional))
        return out

    return build()


def from_schema(s: Node, depth: int = 0, max_depth: int = 8, max_optional: int = 2) -> st.SearchStrategy[Any]:
    """A strategy for values that schema node ``s`` accepts (see the module doc for limits)."""
    if s.enum is not None:
        return st.sampled_from(list(s.enum))
    if s.int_or_string:
        ints = st.integers(min_value=0, max_value=4096)
        if s.pattern is not None:
            return st.one_of(ints, st.from_regex(s.pattern, fullmatch=False))
        return st.one_of(ints, _TEXT)
    if s.type == "string":
        return _string(s)
    if s.type == "integer":
        return _integer(s)
    if s.type == "number":
        return _number(s)
    if s.type == "boolean":
        return st.booleans()
    if s.type == "array":
        return _array(s, depth, max_depth, max_optional)
    if s.type == "object" or s.has_properties or s.additional is not None:
        return _object(s, depth, max_depth, max_optional)
    return st.just({}) if s.preserve_unknown else st.none()


def custom_resources(
    crd: CustomResourceDefinition, version: str | None = None, **limits: int
) -> st.SearchStrategy[JSON]:
    """Objects of ``crd`` (``version`` defaults to the storage version): apiVersion, kind, name, spec.

    ``limits`` are ``max_depth`` / ``max_optional`` of :func:`from_schema`.
    """
    v = version or crd.storage_version.name
    spec_node = compiled(crd, v).properties.get("spec")
    spec = from_schema(spec_node, 1, **limits) if spec_node is not None else st.just({})
    return st.builds(
        lambda name, body: {
            "apiVersion": f"{crd.group}/{v}",
            "kind": crd.names.kind,
            "metadata": {"name": name},
            "spec": body,
        },
        dns_labels(),
        spec,
    )


def ray_objects(kind: str = "RayCluster", version: str = "v1", **limits: int) -> st.SearchStrategy[JSON]:
    """Valid ``ray.io`` objects of ``kind`` (RayCluster, RayJob, RayService, RayCronJob), bundled CRDs.

    Raises ValueError for another kind.
    """
    crd = next((c for c in builtin_crds() if c.names.kind == kind), None)
    if crd is None:
        raise ValueError(f"no bundled Ray CRD for kind {kind!r}")
    return custom_resources(crd, version, **limits)

"""Fast acceptance path of the schema engine: one compiled walk that copies, prunes, defaults and
validates a custom resource that needs no error message.

The reference passes of :func:`fakekube.crd.engine.validate_object` (copy, prune, drop nulls,
default, OpenAPI validation, list-type checks: :mod:`~fakekube.crd.prune`,
:mod:`~fakekube.crd.defaulting`, :mod:`~fakekube.crd.openapi`, :mod:`~fakekube.crd.listtype`)
each walk the whole object and build a field path at every node. Almost every write is valid,
and then all that work yields just the pruned, defaulted copy. This module compiles each schema
node, on first use, into two closures:

- ``valid(v) -> bool``: whether the OpenAPI validator (:class:`fakekube.crd.openapi.Validator`)
  finds no error in ``v``. It is exact (it is also used under ``not`` and ``oneOf``) or raises
  :class:`Slow` where it cannot tell cheaply (a float for an ``integer``, a non-JSON value);
- ``prep(v) -> copy``: the copy of ``v`` that prune, null-pruning and defaulting make (in one
  pass, same key order), after checking that ``v`` has no unknown field, no ``metadata`` decoding
  problem, and no OpenAPI or list-type error. Whatever it does not handle (an unknown field,
  ``x-kubernetes-preserve-unknown-fields``, a type mismatch, any error) raises :class:`Slow`.

:func:`prepare` runs it on a whole object. On :class:`Slow` the engine runs the reference passes,
which word the causes, warnings and ``400`` texts; so the fast path changes how long a write
takes, never its answer (the property test in ``tests/fakekube/crd/test_fastpath.py`` holds it to
that, and ``tests/fakekube/crd`` compares both paths with a real kube-apiserver).
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

from fakekube.crd import formats
from fakekube.crd.defaulting import apply_defaults, deep_copy_json
from fakekube.crd.listtype import canonical
from fakekube.crd.openapi import INT_RANGES, json_equal, number_errors
from fakekube.crd.prune import meta_decode_error
from fakekube.crd.schema import MISSING, Node
from kubeapi.meta import OBJECT_META_FIELDS

Check = Callable[[Any], bool]
Prep = Callable[[Any], Any]


class Slow(Exception):
    """The fast path cannot produce the answer: the reference passes must run."""


# Python types of the JSON values json/yaml decoding yields, per OpenAPI type.
_PY_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "integer": (int,),
    "number": (int, float),
    "boolean": (bool,),
    "array": (list,),
    "object": (dict,),
}
_JSON_PY_TYPES = frozenset({str, int, float, bool, list, dict})


def _slow(_: Any) -> Any:
    raise Slow


def _allowed(node: Node) -> frozenset[type] | None:
    """The Python types that pass ``node``'s type check; None when it has no type.

    Raises Slow for a type name kube-openapi would not know.
    """
    if not node.types:
        return None
    out: set[type] = set()
    for t in node.types:
        if t not in _PY_TYPES:
            raise Slow
        out.update(_PY_TYPES[t])
    return frozenset(out)


def _none_ok(node: Node) -> bool:
    """Whether a ``null`` kept at ``node`` validates (typed nodes need ``nullable``; enums must list null)."""
    if node.types and not node.nullable:
        return False
    return node.enum is None or any(e is None for e in node.enum)


def _gate(node: Node) -> bool:
    raw = node.raw
    return bool(raw.get("allOf") or raw.get("anyOf") or raw.get("oneOf") or raw.get("not"))


def valid_fn(node: Node) -> Check:
    """``node``'s compiled ``valid`` closure (compiled on first use, then cached on the node)."""
    fn: Check | None = node.fast_valid
    if fn is None:
        try:
            fn = _compile_valid(node)
        except Slow:
            fn = _slow
        node.fast_valid = fn
    return fn


def prep_fn(node: Node) -> Prep:
    """``node``'s compiled ``prep`` closure for a non-root value (compiled on first use, cached)."""
    fn: Prep | None = node.fast_prep
    if fn is None:
        try:
            fn = _compile_prep(node, root=False)
        except Slow:
            fn = _slow
        node.fast_prep = fn
    return fn


# -- valid: exact OpenAPI validity --------------------------------------------------------------


def _gate_check(node: Node) -> Check | None:
    """allOf / anyOf / oneOf / not, as ``Validator._schema_props`` decides them (None: no gate)."""
    if not _gate(node):
        return None
    all_of = [valid_fn(n) for n in node.all_of]
    any_of = [valid_fn(n) for n in node.any_of]
    one_of = [valid_fn(n) for n in node.one_of]
    not_ = valid_fn(node.not_) if node.not_ is not None else None

    def gate(v: Any) -> bool:
        for f in all_of:
            if not f(v):
                return False
        if any_of and not any(f(v) for f in any_of):
            return False
        if one_of and sum(1 for f in one_of if f(v)) != 1:
            return False
        return not (not_ is not None and not_(v))

    return gate


def _string_check(node: Node) -> Check | None:
    """maxLength, minLength, pattern and the checked formats (``Validator._string``)."""
    max_len, min_len, pattern = node.max_length, node.min_length, node.pattern
    fmt = formats.CHECKS.get(node.format) if node.format else None
    if max_len is None and min_len is None and pattern is None and fmt is None:
        return None
    search = pattern.search if pattern is not None else None

    def check(v: str) -> bool:
        if max_len is not None and len(v) > max_len:
            return False
        if min_len is not None and len(v) < min_len:
            return False
        if search is not None and search(v) is None:
            return False
        return fmt is None or fmt(v)

    return check


def _number_check(node: Node) -> Check | None:
    int_range = INT_RANGES.get(node.format) if "integer" in node.types else None
    if node.multiple_of is None and node.maximum is None and node.minimum is None:
        if int_range is None:
            return None
        lo, hi = int_range
        return lambda v: lo <= v <= hi  # outside: the reference passes word the format error
    if int_range is None:
        return lambda v: not number_errors(node, v)
    lo, hi = int_range
    return lambda v: lo <= v <= hi and not number_errors(node, v)


def _enum_check(node: Node) -> Check | None:
    enum = node.enum
    if enum is None:
        return None
    strings = frozenset(e for e in enum if type(e) is str)

    def check(v: Any) -> bool:
        if type(v) is str:
            return v in strings
        return any(json_equal(v, e) for e in enum)

    return check


def _compile_valid(node: Node) -> Check:
    allowed = _allowed(node)
    none_ok = _none_ok(node)
    int_only = node.types and "integer" in node.types and "number" not in node.types
    gate = _gate_check(node)
    string = _string_check(node)
    number = _number_check(node)
    enum = _enum_check(node)
    if allowed is not None and gate is None and enum is None:
        kinds = allowed & {str, int, float, bool}
        if kinds == allowed and string is None and number is None and not none_ok and not int_only:
            # a plain typed scalar: the type check is the whole validation
            return lambda v: type(v) in allowed
    min_items, max_items = node.min_items, node.max_items
    min_props, max_props = node.min_properties, node.max_properties
    required = node.required

    def valid(v: Any) -> bool:
        if v is None:
            return none_ok
        t = type(v)
        if t not in _JSON_PY_TYPES or (int_only and t is float):
            raise Slow  # kube-openapi takes an integral float as an integer: left to the reference
        if allowed is not None and t not in allowed:
            return False
        if gate is not None and not gate(v):
            return False
        if t is str:
            if string is not None and not string(v):
                return False
        elif t is int or t is float:
            if number is not None and not number(v):
                return False
        elif t is list:
            items = node.items
            if items is not None:
                f = valid_fn(items)
                for x in v:
                    if not f(x):
                        return False
            n = len(v)
            if (min_items is not None and n < min_items) or (max_items is not None and n > max_items):
                return False
        elif t is dict:
            n = len(v)
            if (max_props is not None and n > max_props) or (min_props is not None and n < min_props):
                return False
            for k in required:
                if k not in v:
                    return False
            props, additional = node.properties, node.additional
            for k, x in v.items():
                child = props.get(k) or additional
                if child is not None and not valid_fn(child)(x):
                    return False
        return enum is None or enum(v)

    return valid


# -- prep: copy + prune + drop nulls + default, then validate -----------------------------------

_DROP, _DEFAULT, _KEEP = "drop", "default", "keep"


def _null_action(node: Node, in_list: bool) -> str:
    """What the reference passes do with a ``null`` at ``node``: a property's non-nullable null
    without default is pruned (``prunenulls.go``), one with a default is defaulted; a list item's
    is defaulted or kept; a kept null must validate."""
    if not node.nullable and node.default is not MISSING:
        return _DEFAULT
    if not node.nullable and not in_list:
        return _DROP
    if not _none_ok(node):
        raise Slow
    return _KEEP


def _defaulted(node: Node) -> Any:
    """A fresh copy of ``node``'s default with the defaults inside it applied; raises Slow when
    the default would not validate or would be changed by pruning (left to the reference)."""
    cached = node.fast_default
    if cached is None:
        value = deep_copy_json(node.default)
        apply_defaults(value, node)
        if value is None:
            ok = _none_ok(node)
        else:
            try:
                ok = json.dumps(prep_fn(node)(deep_copy_json(value))) == json.dumps(value)
            except Slow:
                ok = False
        cached = node.fast_default = (ok, value)
    ok, value = cached
    if not ok:
        raise Slow
    return deep_copy_json(value) if isinstance(value, dict | list) else value


def _null_value(node: Node, in_list: bool) -> Any:
    """The value a ``null`` at ``node`` becomes, or MISSING when it is dropped."""
    action = _null_action(node, in_list)
    if action == _DROP:
        return MISSING
    return _defaulted(node) if action == _DEFAULT else None


def _compile_prep(node: Node, root: bool) -> Prep:
    if node.preserve_unknown:
        raise Slow
    allowed = _allowed(node)
    valid = valid_fn(node)
    takes_dict = allowed is None or dict in allowed
    takes_list = allowed is None or list in allowed
    prep_dict = _compile_dict(node, root) if takes_dict else _slow
    prep_list = _compile_list(node) if takes_list else _slow

    def prep(v: Any) -> Any:
        t = type(v)
        if t is dict:
            return prep_dict(v)
        if t is list:
            return prep_list(v)
        if valid(v):
            return v
        raise Slow

    return prep


def _object_check(node: Node, embedded_check: bool) -> Check | None:
    """What validation asks of the object itself once its children are done: gate, enum,
    min/maxProperties, required; for an embedded resource (not the root) apiVersion and kind."""
    gate, enum = _gate_check(node), _enum_check(node)
    min_props, max_props, required = node.min_properties, node.max_properties, node.required
    nothing = gate is None and enum is None and min_props is None and max_props is None and not required
    if nothing and not embedded_check:
        return None

    def check(out: dict[str, Any]) -> bool:
        n = len(out)
        if (max_props is not None and n > max_props) or (min_props is not None and n < min_props):
            return False
        for k in required:
            if k not in out:
                return False
        if embedded_check:
            api_version = out.get("apiVersion")
            if not api_version or not out.get("kind"):
                return False
            if isinstance(api_version, str) and api_version.count("/") > 1:
                return False
        if gate is not None and not gate(out):
            return False
        return enum is None or enum(out)

    return check


def _embedded_key(node: Node, k: str, v: Any) -> Any:
    """The copy of an embedded resource's ``apiVersion``/``kind`` string or ``metadata``, which
    pruning leaves to ObjectMeta decoding (``objectmeta/coerce.go``) instead of the schema."""
    child = node.child(k)
    if k != "metadata":
        if child is not None and not valid_fn(child)(v):
            raise Slow
        return v
    if type(v) is not dict or meta_decode_error(v) is not None:
        raise Slow
    for mk in v:
        if mk not in OBJECT_META_FIELDS:
            raise Slow  # an unknown metadata field: reported by the reference passes
    meta = deep_copy_json(v)
    # null-pruning and defaulting inside metadata only act through a schema with children
    if child is not None and (
        child.properties or child.additional is not None or child.embedded or not valid_fn(child)(meta)
    ):
        raise Slow
    return meta


def _compile_dict(node: Node, root: bool) -> Callable[[dict[str, Any]], dict[str, Any]]:
    props = node.properties
    get = props.get
    additional = node.additional
    embedded = root or node.embedded
    defaults = [(k, c) for k, c in props.items() if c.default is not MISSING]
    check = _object_check(node, node.embedded and not root)

    def prep_dict(x: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for k, v in x.items():
            if embedded and (k == "metadata" or (type(v) is str and k in ("apiVersion", "kind"))):
                out[k] = _embedded_key(node, k, v)
                continue
            c = get(k) or additional
            if c is None:
                raise Slow  # an unknown field
            if v is None:
                nv = _null_value(c, False)
                if nv is not MISSING:
                    out[k] = nv
                continue
            f = c.fast_prep
            out[k] = (f or prep_fn(c))(v)
        for k, c in defaults:
            if k not in out:
                out[k] = _defaulted(c)
        if check is not None and not check(out):
            raise Slow
        return out

    return prep_dict


def _unique(values: list[Any]) -> bool:
    """Whether no two ``values`` are equal as canonical JSON (``listtype/validation.go``)."""
    if all(type(v) is str for v in values):
        return len(set(values)) == len(values)
    return len({canonical(v) for v in values}) == len(values)


def _unique_map_keys(items: list[Any], keys: tuple[str, ...]) -> bool:
    seen: set[Any] = set()
    n = 0
    for item in items:
        if type(item) is not dict:
            continue
        key: Any = tuple(item.get(k) for k in keys)
        # tuples of strings and nulls are equal exactly when their canonical JSON is
        if not all(type(x) is str or x is None for x in key):
            key = canonical(list(key))
        seen.add(key)
        n += 1
    return len(seen) == n


def _compile_list(node: Node) -> Callable[[list[Any]], list[Any]]:
    items = node.items
    if items is None:
        return _slow
    min_items, max_items = node.min_items, node.max_items
    list_type, map_keys = node.list_type, node.list_map_keys
    gate, enum = _gate_check(node), _enum_check(node)

    def prep_list(x: list[Any]) -> list[Any]:
        f = items.fast_prep or prep_fn(items)
        out = [f(v) if v is not None else _null_value(items, True) for v in x]
        n = len(out)
        if (min_items is not None and n < min_items) or (max_items is not None and n > max_items):
            raise Slow
        if list_type == "set" and not _unique(out):
            raise Slow
        if list_type == "map" and map_keys and not _unique_map_keys(out, map_keys):
            raise Slow
        if (gate is not None and not gate(out)) or (enum is not None and not enum(out)):
            raise Slow
        return out

    return prep_list


def prepare(root: Node, obj: dict[str, Any]) -> dict[str, Any] | None:
    """The pruned, defaulted copy of the object ``obj`` when it has no unknown field and no
    schema error (OpenAPI or list-type; CEL rules are not evaluated here), else None.

    ``obj`` is not modified; the copy shares nothing with it or with the schema's defaults.
    """
    fn = root.fast_root
    if fn is None:
        try:
            fn = _compile_prep(root, root=True)
        except Slow:
            fn = _slow
        root.fast_root = fn
    try:
        out: dict[str, Any] = fn(obj)
    except Slow:
        return None
    return out

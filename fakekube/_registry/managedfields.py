"""``metadata.managedFields``: field sets, their FieldsV1 form, and the Update bookkeeping.

What the apiserver's field manager does (``k8s.io/apiserver/pkg/endpoints/handlers/fieldmanager``
over ``sigs.k8s.io/structured-merge-diff/v4``), reduced to what fakekube serves:

* A field set is a set of paths; a path is a tuple of FieldsV1 path elements: ``f:<field>`` for a
  map member, ``k:{"name":"x"}`` for an item of an ``x-kubernetes-list-type: map`` list (its key
  fields, sorted, compact JSON), ``v:<json>`` for an item of a ``set`` list. Lists without a list
  type are atomic (owned whole), as are ``x-kubernetes-map-type: atomic`` maps. ``i:`` is never
  produced. Serialised as FieldsV1 (``fieldpath/serialize.go``): nested objects keyed by element,
  ``".": {}`` when a path with children is itself a member.
* The schema is the CRD's ``openAPIV3Schema`` for custom resources (``metadata`` as ObjectMeta's:
  ``finalizers`` a set, ``ownerReferences`` a map keyed by ``uid``), a few rules for the core kinds,
  else deduced from the value (maps granular, lists atomic) as SMD's deduced type.
* Update (``operation: Update``; also creates): the manager gains the fields the write added or
  changed (``typed.Compare``: a map absent before counts as added itself) and every manager loses
  the fields removed or changed by it (``merge.Updater.update``/``Update``,
  ``managedfieldsupdater.go``: the entry's ``time`` is set when its fields changed).
* Entries are keyed by (manager, operation, subresource) and, for Update, apiVersion
  (``BuildManagerIdentifier``); an entry left without fields is dropped; the list is sorted as
  ``sortEncodedManagedFields`` does (operation, time, manager, apiVersion, subresource).
* Never owned (``stripmeta.go``): ``apiVersion``, ``kind``, ``metadata`` itself and its
  name/namespace/uid/resourceVersion/generation/creationTimestamp/managedFields (and the
  deletion fields the server sets).

The manager is ``fieldManager``, else the User-Agent up to its first ``/`` (``prefixFromUserAgent``).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable
from typing import Any

from fakekube._resources import ResourceType
from fakekube.crd.schema import MISSING, Node, compiled
from kubeapi.meta import SERVER_SET_FIELDS
from kubeapi.types import JSON

Path = tuple[str, ...]
FieldSet = frozenset[Path]

#: The longest ``fieldManager`` accepted (``FieldManagerMaxLength``); longer User-Agents are cut.
FIELD_MANAGER_MAX = 128

_MISSING: Any = object()
# ``metadata`` itself is never owned, only its members (stripmeta.go).
_META_PATH: Path = ("f:metadata",)

# Metadata the server owns, never recorded in managedFields: the name and namespace that identify
# the object, ``managedFields`` and ``selfLink``, and the server-set fields (stripmeta.go's list,
# with the deletion fields the server also sets).
_SYSTEM_META = frozenset(SERVER_SET_FIELDS) | {"name", "namespace", "managedFields", "selfLink"}

_STR_MAP: JSON = {"type": "object", "additionalProperties": {"type": "string"}}
# ObjectMeta's list semantics (k8s.io/apimachinery/pkg/apis/meta/v1/types.go markers).
_META: JSON = {
    "type": "object",
    "properties": {
        "generateName": {"type": "string"},
        "labels": _STR_MAP,
        "annotations": _STR_MAP,
        "finalizers": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"},
        "ownerReferences": {
            "type": "array",
            "x-kubernetes-list-type": "map",
            "x-kubernetes-list-map-keys": ["uid"],
            "items": {"type": "object", "x-kubernetes-map-type": "atomic"},
        },
    },
}
# The core kinds' list semantics that matter here (k8s.io/api/core/v1 markers).
_CORE: dict[str, JSON] = {
    "services": {
        "spec": {
            "type": "object",
            "properties": {
                "ports": {
                    "type": "array",
                    "x-kubernetes-list-type": "map",
                    "x-kubernetes-list-map-keys": ["port", "protocol"],
                    "items": {
                        "type": "object",
                        "properties": {"protocol": {"type": "string", "default": "TCP"}},
                    },
                },
                "selector": {"type": "object", "x-kubernetes-map-type": "atomic"},
            },
        }
    },
    "configmaps": {"data": _STR_MAP, "binaryData": _STR_MAP},
}

_roots: dict[tuple[str, str, int], Node] = {}


def schema_root(rt: ResourceType, crd: Any | None) -> Node:
    """The schema of a whole ``rt`` object (cached): the CRD version's (``crd`` is a
    :class:`fakekube.crd.CustomResourceDefinition` or None) with ObjectMeta's ``metadata``."""
    key = (rt.storage_key, rt.version, id(crd))
    node = _roots.get(key)
    if node is None:
        props: JSON = dict(_CORE.get(rt.plural, {}))
        if crd is not None:
            with contextlib.suppress(KeyError):
                props.update(compiled(crd, rt.version).raw.get("properties") or {})
        props["metadata"] = _META
        node = _roots[key] = Node({"type": "object", "properties": props})
    return node


def manager_name(field_manager: str | None, user_agent: str) -> str:
    """The manager of a write: ``fieldManager`` or the User-Agent's product name, at most 128 chars."""
    if field_manager:
        return field_manager
    return user_agent.split("/")[0][:FIELD_MANAGER_MAX]


# -- schema reading ------------------------------------------------------------------------------


def _atomic_map(node: Node | None) -> bool:
    return node is not None and node.raw.get("x-kubernetes-map-type") == "atomic"


def _child(node: Node | None, key: str) -> tuple[Node | None, bool]:
    """(schema of member ``key``, whether it is a declared struct field)."""
    if node is None:
        return None, False
    declared = node.properties.get(key)
    if declared is not None:
        return declared, True
    return node.additional, False


def _list_kind(node: Node | None) -> tuple[str, tuple[str, ...]]:
    if node is None or node.list_type not in ("map", "set"):
        return "atomic", ()
    return node.list_type, node.list_map_keys


# One encoder for every key element (json.dumps would build one per call).
_ENCODER = json.JSONEncoder(separators=(",", ":"), sort_keys=True, ensure_ascii=False)


def _compact(v: Any) -> str:
    return _ENCODER.encode(v)


def _key_defaults(node: Node | None) -> dict[str, Any]:
    """Schema defaults of a map list's key fields: an item that leaves one out is keyed by the
    default (structured-merge-diff reads defaulted keys from the schema), cached per schema node."""
    if node is None or node.list_type != "map":
        return {}
    cached = _defaults_cache.get(id(node.raw))
    if cached is None:
        items = node.items
        cached = {}
        for k in node.list_map_keys:
            prop = items.properties.get(k) if items is not None else None
            if prop is not None and prop.default is not MISSING:
                cached[k] = prop.default
        _defaults_cache[id(node.raw)] = cached
    return cached


_defaults_cache: dict[int, dict[str, Any]] = {}


def item_element(kind: str, keys: tuple[str, ...], item: Any, defaults: dict[str, Any] | None = None) -> str:
    """The path element of a list item: ``k:{...}`` (map lists, key fields sorted, a missing key
    field taken from ``defaults``) or ``v:...`` (sets)."""
    if kind == "map" and isinstance(item, dict):
        d = defaults or {}
        return "k:" + _compact(
            {k: item[k] if k in item else d[k] for k in sorted(keys) if k in item or k in d}
        )
    return "v:" + _compact(item)


def _items(node: Node | None, value: list[Any]) -> tuple[str, dict[str, Any], Node | None]:
    kind, keys = _list_kind(node)
    defaults = _key_defaults(node) if kind == "map" else None
    out: dict[str, Any] = {}
    for item in value:
        out.setdefault(item_element(kind, keys, item, defaults), item)
    return kind, out, node.items if node is not None else None


# -- field sets ----------------------------------------------------------------------------------


def _strip(obj: JSON) -> JSON:
    """``obj`` without what no manager owns (stripmeta.go)."""
    out = {k: v for k, v in obj.items() if k not in ("apiVersion", "kind", "metadata")}
    meta = {k: v for k, v in (obj.get("metadata") or {}).items() if k not in _SYSTEM_META}
    if meta:
        out["metadata"] = meta
    return out


def to_field_set(obj: JSON, root: Node) -> FieldSet:
    """The fields an applied configuration sets (``TypedValue.ToFieldSet``): leaves, list items,
    empty/null maps and members of undeclared (``additionalProperties``) maps."""
    out: set[Path] = set()

    def walk(value: Any, node: Node | None, path: Path) -> None:
        if isinstance(value, dict):
            if _atomic_map(node):
                out.add(path)
                return
            for k, v in value.items():
                child, declared = _child(node, k)
                p = (*path, "f:" + k)
                walk(v, child, p)
                if v is None or v == {} or not declared:
                    out.add(p)
        elif isinstance(value, list):
            kind, items, item_node = _items(node, value)
            if kind == "atomic":
                out.add(path)
                return
            for pe, item in items.items():
                p = (*path, pe)
                out.add(p)
                if kind == "map":
                    walk(item, item_node, p)
        elif path:
            out.add(path)

    walk(_strip(obj), root, ())
    out.discard(_META_PATH)
    return frozenset(out)


def compare(old: JSON | None, new: JSON, root: Node) -> tuple[set[Path], set[Path], set[Path]]:
    """(added, modified, removed) paths from ``old`` to ``new`` (``typed.Compare``)."""
    added: set[Path] = set()
    modified: set[Path] = set()
    removed: set[Path] = set()

    def leaf(a: Any, b: Any, path: Path) -> None:
        if a is _MISSING:
            added.add(path)
        elif b is _MISSING:
            removed.add(path)
        elif a != b:
            modified.add(path)

    def walk(a: Any, b: Any, node: Node | None, path: Path) -> None:
        if a is not _MISSING and b is not _MISSING and a == b and not path:
            return
        ref = b if b is not _MISSING else a
        if (
            isinstance(ref, dict)
            and (a is _MISSING or isinstance(a, dict))
            and (b is _MISSING or isinstance(b, dict))
        ):
            if _atomic_map(node) or (not a and not b):
                leaf(a, b, path)
                return
            if path and a is _MISSING:
                added.add(path)
            elif path and b is _MISSING:
                removed.add(path)
            am: dict[str, Any] = a if a is not _MISSING else {}
            bm: dict[str, Any] = b if b is not _MISSING else {}
            for k in {**am, **bm}:
                av, bv = am.get(k, _MISSING), bm.get(k, _MISSING)
                if av is not _MISSING and bv is not _MISSING and av == bv:
                    continue
                walk(av, bv, _child(node, k)[0], (*path, "f:" + k))
            return
        if (
            isinstance(ref, list)
            and (a is _MISSING or isinstance(a, list))
            and (b is _MISSING or isinstance(b, list))
        ):
            kind, _ = _list_kind(node)
            if kind == "atomic" or (a in (_MISSING, []) and b in (_MISSING, [])):
                leaf(a, b, path)  # empty on both sides: a leaf, keeping the empty/absent distinction
                return
            _, ai, item_node = _items(node, a if a is not _MISSING else [])
            _, bi, _ = _items(node, b if b is not _MISSING else [])
            for pe in {**ai, **bi}:
                av, bv = ai.get(pe, _MISSING), bi.get(pe, _MISSING)
                if av is not _MISSING and bv is not _MISSING and av == bv:
                    continue
                p = (*path, pe)
                if kind == "set" or av is _MISSING or bv is _MISSING:
                    leaf(av, bv, p)
                if kind == "map":
                    walk(av, bv, item_node, p)
            return
        leaf(a, b, path)

    walk(_strip(old) if old is not None else _MISSING, _strip(new), root, ())
    for s in (added, modified, removed):
        s.discard(_META_PATH)
    return added, modified, removed


def created_fields(obj: JSON, root: Node) -> JSON:
    """FieldsV1 of what a create adds: ``to_fields_v1(compare(None, obj, root)[0])`` built in one walk
    (the hot path of every create), by each schema node's compiled :func:`_plan`."""
    out = _plan(root)(_strip(obj), False)
    if "f:metadata" in out:
        out["f:metadata"].pop(".", None)
        if not out["f:metadata"]:
            del out["f:metadata"]
    return out


#: (value, member) → the FieldsV1 subtree a create of ``value`` adds; ``member``: whether the
#: value is a map member or list item (its subtree then holds ``".": {}``).
_Tree = Callable[[Any, bool], JSON]


def _plan(node: Node | None) -> _Tree:
    """The created-fields walk of values of ``node`` (None: deduced, maps granular and lists
    atomic), compiled once per node and kept on it: what the schema decides (atomic map, list
    kind and keys, key defaults, each declared member's plan) is looked up once, not per value.
    An atomic list is owned whole, so its items are never encoded as path elements."""
    if node is None:
        return _DEDUCED
    plan: _Tree | None = node.fields_plan
    if plan is None:
        plan = node.fields_plan = _compile(node)
    return plan


def _compile(node: Node | None) -> _Tree:
    atomic_map = _atomic_map(node)
    kind, keys = _list_kind(node)
    defaults = _key_defaults(node) if kind == "map" else None
    declared: dict[str, _Tree] = {}  # plans of declared members, filled as they are met
    props = node.properties if node is not None else {}
    other: list[_Tree] = []  # the additionalProperties plan, once needed

    def member_plan(k: str) -> _Tree:
        p = declared.get(k)
        if p is None:
            child = props.get(k)
            if child is not None:
                p = declared[k] = _plan(child)
            else:
                if not other:
                    other.append(_plan(node.additional) if node is not None else _DEDUCED)
                p = other[0]
        return p

    item_plans: list[_Tree] = []

    def tree(value: Any, member: bool) -> JSON:
        if isinstance(value, dict):
            if not value or atomic_map:
                return {}
            out: JSON = {".": {}} if member else {}
            for k in sorted(value):
                out["f:" + k] = member_plan(k)(value[k], True)
            return out
        if isinstance(value, list):
            if kind == "atomic" or not value:
                return {}
            items: dict[str, Any] = {}
            for item in value:
                items.setdefault(item_element(kind, keys, item, defaults), item)
            if kind == "set":
                return {pe: {} for pe in sorted(items)}
            if not item_plans:
                item_plans.append(_plan(node.items if node is not None else None))
            item_plan = item_plans[0]
            return {pe: item_plan(items[pe], True) for pe in sorted(items)}
        return {}

    return tree


_DEDUCED: _Tree = _compile(None)


def to_fields_v1(paths: Iterable[Path]) -> JSON:
    """The FieldsV1 object of a field set (children sorted: ``f:`` then ``k:`` then ``v:``)."""
    tree: JSON = {}
    for p in paths:
        node = tree
        for pe in p:
            node = node.setdefault(pe, {})
        node["."] = {}

    rank = {"f": 0, "k": 1, "v": 2, "i": 3}

    def emit(node: JSON) -> JSON:
        kids = sorted((k for k in node if k != "."), key=lambda k: (rank.get(k[0], 4), k))
        out: JSON = {}
        if "." in node and kids:
            out["."] = {}
        for k in kids:
            out[k] = emit(node[k])
        return out

    return emit(tree)


def from_fields_v1(fields: JSON) -> FieldSet:
    """The field set a FieldsV1 object encodes."""
    out: set[Path] = set()

    def walk(node: JSON, path: Path) -> None:
        for k, sub in node.items():
            if k == ".":
                out.add(path)
            elif not sub:
                out.add((*path, k))
            else:
                walk(sub, (*path, k))

    walk(fields, ())
    return frozenset(out)


def iteration_order(paths: Iterable[Path]) -> list[Path]:
    """``paths`` in ``fieldpath.Set.Iterate`` order: at each level the member paths ending there
    first (by element), then each child's subtree (by element)."""
    tree: JSON = {}
    for p in paths:
        node = tree
        for pe in p:
            node = node.setdefault(pe, {})
        node["."] = True
    out: list[Path] = []

    def walk(node: JSON, prefix: Path) -> None:
        kids = sorted(k for k in node if k != ".")
        out.extend((*prefix, k) for k in kids if "." in node[k])
        for k in kids:
            walk(node[k], (*prefix, k))

    walk(tree, ())
    return out


def path_string(path: Path) -> str:
    """A path as structured-merge-diff prints it (``fieldpath.Path.String``):
    ``.spec.containers[name="ray-head"].image``, ``.metadata.finalizers[="a"]``."""
    out = []
    for pe in path:
        kind, body = pe[0], pe[2:]
        if kind == "f":
            out.append("." + body)
        elif kind == "k":
            keys = json.loads(body)
            out.append("[" + ",".join(f"{k}={_compact(v)}" for k, v in keys.items()) + "]")
        elif kind == "v":
            out.append("[=" + body + "]")
        else:
            out.append("[" + body + "]")
    return "".join(out)


# -- entries -------------------------------------------------------------------------------------


def entry_id(e: JSON) -> tuple[str, str, str, str]:
    """The identity of an entry (BuildManagerIdentifier): apiVersion counts for Update only."""
    op = e.get("operation", "")
    version = "" if op == "Apply" else e.get("apiVersion", "")
    return (e.get("manager", ""), op, e.get("subresource", ""), version)


def make_entry(
    manager: str, operation: str, api_version: str, time: str, fields: FieldSet, subresource: str | None
) -> JSON:
    """One ``managedFields`` entry (typed field order)."""
    entry: JSON = {
        "manager": manager,
        "operation": operation,
        "apiVersion": api_version,
        "time": time,
        "fieldsType": "FieldsV1",
        "fieldsV1": to_fields_v1(fields),
    }
    if subresource:
        entry["subresource"] = subresource
    return entry


def sort_entries(entries: list[JSON]) -> list[JSON]:
    """Entries in ``sortEncodedManagedFields`` order."""
    return sorted(
        entries,
        key=lambda e: (
            e.get("operation", ""),
            e.get("time") or "",
            e.get("manager", ""),
            e.get("apiVersion", ""),
            e.get("subresource", ""),
        ),
    )


def record(
    entries: list[JSON],
    old: JSON | None,
    new: JSON,
    manager: str,
    operation: str,
    api_version: str,
    time: str,
    subresource: str | None,
    root: Node,
) -> list[JSON]:
    """The managedFields after ``manager`` wrote ``new`` over ``old`` (None for a create) with an
    Update-style ``operation`` (fields it added or changed become its own; other managers lose
    what it changed or removed)."""
    if old is None and not entries:
        fields_v1 = created_fields(new, root)
        if not fields_v1:
            return []
        entry = make_entry(manager, operation, api_version, time, frozenset(), subresource)
        entry["fieldsV1"] = fields_v1
        return [entry]
    added, modified, removed = compare(old, new, root)
    taken = added | modified
    gone = removed
    me = (manager, operation, subresource or "", "" if operation == "Apply" else api_version)
    out: list[JSON] = []
    mine: FieldSet = frozenset()
    for e in entries:
        fields = from_fields_v1(e.get("fieldsV1") or {})
        if entry_id(e) == me:
            mine = fields
            continue
        rest = fields - taken - gone
        if rest == fields:
            out.append(e)
        elif rest:
            out.append({**e, "fieldsV1": to_fields_v1(rest)})
    if not taken:
        # Nothing of ours changed: our entry (and its time) stays, minus what was removed.
        for e in entries:
            if entry_id(e) == me and mine - gone:
                out.append({**e, "fieldsV1": to_fields_v1(mine - gone)} if mine & gone else e)
        return sort_entries(out)
    fields = (mine - gone) | taken
    if fields:
        out.append(make_entry(manager, operation, api_version, time, frozenset(fields), subresource))
    return sort_entries(out)


def client_entries(obj: JSON) -> list[JSON] | None:
    """The managedFields a create/update body carries, which replace the stored ones (so clients
    such as kubectl's client-side-apply upgrade can rewrite them): None when absent, empty or not
    decodable (the stored ones stay, ``fieldmanager.go`` ``Update``); [] for the reset ``[{}]``."""
    sent = obj.get("metadata", {}).get("managedFields")
    if not isinstance(sent, list) or not sent:
        return None
    if sent == [{}]:
        return []
    for e in sent:
        if not (
            isinstance(e, dict)
            and isinstance(e.get("manager", ""), str)
            and e.get("operation") in ("Apply", "Update")
            and e.get("fieldsType", "FieldsV1") == "FieldsV1"
            and isinstance(e.get("fieldsV1", {}), dict)
        ):
            return None
    return [dict(e) for e in sent]

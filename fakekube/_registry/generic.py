"""The generic store: create, update, delete, get and list of any kind, configured by its strategy.

This is ``k8s.io/apiserver/pkg/registry/generic/registry/store.go`` (``Store.Create``,
``Store.Update``, ``Store.Delete``, ``Store.DeleteCollection``, ``Store.Get``, ``Store.List``) with
``rest.BeforeCreate``/``BeforeUpdate`` (``pkg/registry/rest/create.go``, ``update.go``) folded in.
The steps are the same for every kind; the kind's :class:`~fakekube._registry.strategy.Strategy`
says what differs. Every write builds a fresh object and commits it to storage at the very end,
so a failing request changes nothing; with ``dry_run`` nothing is committed at all.

* create: admission (``NamespaceLifecycle``), namespace of the body vs the URL (400),
  ``generateName`` (retried on a taken name, as ``RetryGenerateName``), system metadata cleared,
  ``PrepareForCreate``, ObjectMeta validation then the strategy's (422 with every cause),
  ``uid``/``creationTimestamp``/``generation``, the strategy's create defaults, managedFields
  (``Update`` entry of the manager, or the entries a server-side apply computed), key order; 409
  when the name is taken.
* update: ``resourceVersion`` precondition (409 ``Conflict``), identity and system metadata from the
  stored object, ``PrepareForUpdate``, validation (plus "no new finalizers while deleting"),
  ``generation`` bump on spec changes, managedFields; a write that changes nothing is not stored
  (same ``resourceVersion``); the last finalizer of a deleting object removed deletes it.
* delete: ``preconditions`` (uid, resourceVersion: 409), the strategy's own deletion (a namespace
  is marked Terminating), then :func:`fakekube._registry.deletion.delete_object` (propagation
  finalizers, graceful deletion: an object with finalizers is only marked).
* list: a consistent page of a key range at a resourceVersion (:mod:`fakekube._storage`), with
  label/field selection, ``limit`` and continue tokens.
"""

from __future__ import annotations

import builtins
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fakekube import _apierrors as errors
from fakekube._admission.lifecycle import NamespaceLifecycle
from fakekube._admission.schema import Schemas
from fakekube._registry import apply, deletion, managedfields, objects
from fakekube._registry.kinds import ServedKinds
from fakekube._registry.strategy import Strategy, WriteContext, strategy_for
from fakekube._resources import ResourceType
from fakekube._storage import versioning
from fakekube._storage.selection import FieldSelector, LabelSelector, field_matches
from fakekube._storage.store import Store, Stored, TooOld, dumps, object_key
from kubeapi.status import StatusError
from kubeapi.types import JSON


@dataclass
class ListPage:
    """One page of a list: ``items`` (stored objects, key order), ``resource_version`` of the
    snapshot, ``continue_token`` ("" on the last page), ``remaining`` items after the page (only
    meaningful when nothing was filtered out) and whether more items follow (``more``)."""

    items: list[Stored]
    resource_version: int
    continue_token: str
    remaining: int
    more: bool


class GenericStore:
    """The REST storage of one resource type ``rt`` (one served group/version/resource), with the
    ``strategy`` of its main resource; ``schemas`` (or None) checks custom resources against their
    CRD; ``admission`` guards creates. Objects live in ``storage`` under ``rt.storage_key``."""

    def __init__(
        self,
        rt: ResourceType,
        storage: Store,
        admission: NamespaceLifecycle,
        schemas: Schemas | None,
    ) -> None:
        self.rt = rt
        self.storage = storage
        self.admission = admission
        self.schemas = schemas
        self.strategy: Strategy = strategy_for(rt, schemas)

    def strategy_of(self, subresource: str | None) -> Strategy:
        """The strategy of writes to ``subresource`` (None or ``scale``: the main resource's)."""
        return strategy_for(self.rt, self.schemas, "status") if subresource == "status" else self.strategy

    # -- reads ---------------------------------------------------------------------------------

    def try_get(self, namespace: str | None, name: str) -> Stored | None:
        """The stored object, or None."""
        return self.storage.get(self.rt.storage_key, object_key(namespace, name))

    def get(self, namespace: str | None, name: str) -> Stored:
        """The stored object; 404 NotFound when absent."""
        s = self.storage.get(self.rt.storage_key, object_key(namespace, name))
        if s is None:
            raise errors.not_found(self.rt, name)
        return s

    def list(
        self,
        prefix: str,
        labels: LabelSelector,
        fields: FieldSelector,
        limit: int = 0,
        at: int | None = None,
        start: str = "",
        continuing: bool = False,
    ) -> ListPage:
        """The objects under key ``prefix`` (``"ns/"`` or ``""``) matching the selectors, from key
        ``start`` on, as of resourceVersion ``at`` (None: now), at most ``limit`` (0: all).
        Raises 410 Expired when ``at`` is compacted (``continuing``: with the token to go on from
        the current state, as etcd3's store)."""
        rt = self.rt
        list_rv = at if at is not None else self.storage.rv
        try:
            keys, stored, lo, hi = self.storage.key_range(rt.storage_key, prefix, start, at)
        except TooOld:
            if continuing:
                err = errors.expired(versioning.EXPIRED_CONTINUE)
                err.list_continue = versioning.encode_continue(-1, start)
                raise err from None
            raise errors.expired(
                f"too old resource version: {at} ({self.storage.compacted_rv + 1})"
            ) from None
        items: builtins.list[Stored] = []
        last_key = ""
        more = False
        everything = labels.empty and fields.empty
        remaining = 0
        check_fields = not fields.empty
        for i in range(lo, hi):
            s = stored[keys[i]]
            if not everything and not (
                labels.matches(s.obj["metadata"].get("labels"))
                and (not check_fields or field_matches(fields, s.obj, rt))
            ):
                continue
            if limit and len(items) >= limit:
                more = True
                remaining = hi - i
                break
            items.append(s)
            last_key = keys[i]
        token = versioning.encode_continue(list_rv, last_key + "\x00") if more else ""
        return ListPage(items, list_rv, token, remaining, more)

    def matching(self, prefix: str, labels: LabelSelector, fields: FieldSelector) -> builtins.list[Stored]:
        """Every current object under ``prefix`` matching both selectors (DeleteCollection's list)."""
        return [
            s
            for _, s in self.storage.scan(self.rt.storage_key, prefix)
            if labels.matches(s.obj["metadata"].get("labels")) and field_matches(fields, s.obj, self.rt)
        ]

    # -- create --------------------------------------------------------------------------------

    def create(
        self, ctx: WriteContext, namespace: str | None, obj: JSON, entries: builtins.list[JSON] | None = None
    ) -> Stored | JSON:
        """Create ``obj`` (decoded, in storage form, owned by the store) in ``namespace``.

        ``entries``: the managedFields a server-side apply computed (else the manager's ``Update``
        entry is recorded). Returns the stored object, or with ``ctx.dry_run`` the object that
        would have been stored. Raises 404/403 (namespace admission), 400, 422 Invalid, 409
        AlreadyExists.
        """
        self.admission.admit_create(self.rt, namespace, obj["metadata"].get("name") or "")
        return self.commit_create(ctx, namespace, self.prepare_create(ctx, namespace, obj, entries))

    def prepare_create(
        self, ctx: WriteContext, namespace: str | None, obj: JSON, entries: builtins.list[JSON] | None = None
    ) -> JSON:
        """The CPU work of :meth:`create` (``rest.BeforeCreate``: prune, default, validate; then the
        managedFields): the object to commit, or 400/422. Reads no storage, so it may run in a
        worker thread (:mod:`kubeapi.offload`) while the loop serves other requests."""
        sent = managedfields.client_entries(obj) if entries is None else None
        obj = _before_create(self.rt, self.strategy, ctx, namespace, obj)
        if entries is None:
            # managedFields never name metadata.name, so a name drawn again below keeps them right.
            return _manage(self.rt, ctx, None, obj, "Update", None, sent)
        obj["metadata"]["managedFields"] = entries
        return objects.canonical(self.rt, obj)

    def commit_create(
        self, ctx: WriteContext, namespace: str | None, obj: JSON, encode: Callable[[JSON], bytes] = dumps
    ) -> Stored | JSON:
        """Store ``obj`` from :meth:`prepare_create` (on the event loop: every storage read and
        write happens there); ``encode``: see :func:`fakekube._storage.store.encode_ahead`. Raises
        409 AlreadyExists; with ``ctx.dry_run`` returns the object."""
        rt = self.rt
        name = obj["metadata"]["name"]
        key = object_key(namespace, name)
        generated = obj["metadata"].get("generateName")
        # A generated name that is taken is drawn again (the RetryGenerateName behaviour, 8 tries).
        for _ in range(7 if generated and name.startswith(generated) else 0):
            if self.storage.get(rt.storage_key, key) is None:
                break
            name = obj["metadata"]["name"] = objects.generate_name(generated)
            key = object_key(namespace, name)
        if self.storage.get(rt.storage_key, key) is not None:
            raise errors.already_exists(rt, name)
        if ctx.dry_run:
            obj["metadata"].pop("resourceVersion", None)
            return obj
        return self.storage.create(rt.storage_key, key, obj, encode)

    def create_trusted(self, obj: JSON, encode: Callable[[JSON], bytes] | None = None) -> Stored:
        """Store an object the server makes itself at start (the default namespaces, the CRDs
        given to ``create_app``, already checked): ``BeforeCreate`` without admission, the
        strategy's validation or managedFields. ``encode``: a custom JSON encoder (see
        :func:`fakekube._registry.kinds.encoder`). Raises 422 for invalid ObjectMeta."""
        obj = _before_create(self.rt, self.strategy, WriteContext(), None, obj, validate=False)
        key = object_key(obj["metadata"].get("namespace"), obj["metadata"]["name"])
        return self.storage.create(self.rt.storage_key, key, obj, encode or dumps)

    # -- update --------------------------------------------------------------------------------

    def update(
        self,
        ctx: WriteContext,
        old: Stored,
        new: JSON,
        rv: str,
        subresource: str | None = None,
        operation: str = "Update",
        entries: builtins.list[JSON] | None = None,
    ) -> Stored | JSON:
        """Store ``new`` (owned by the store) as the update of ``old`` through ``subresource``
        (None, ``status`` or ``scale``), if ``rv`` (the body's resourceVersion, "" for none) is
        current.

        ``entries``: the managedFields a server-side apply computed (else they are recorded here
        for ``operation``). Returns the stored object (``old`` itself when nothing changed) or,
        when nothing is stored (dry run, or the last finalizer of a deleting object removed,
        which deletes it), the object as updated. Raises 409 Conflict, 400, 422 Invalid.
        """
        result = self.prepare_update(ctx, old, new, rv, subresource, operation, entries)
        return self.commit_update(ctx, old, result, recheck=False)

    def prepare_update(
        self,
        ctx: WriteContext,
        old: Stored,
        new: JSON,
        rv: str,
        subresource: str | None = None,
        operation: str = "Update",
        entries: builtins.list[JSON] | None = None,
    ) -> Stored | JSON:
        """The CPU work of :meth:`update` against the snapshot ``old`` (never mutated): ``old``
        itself when nothing changes, else the object to commit. Raises 409 Conflict, 400, 422.
        Reads no storage, so it may run in a worker thread (:mod:`kubeapi.offload`)."""
        rt = self.rt
        old_meta = old.obj["metadata"]
        if rv and rv != old_meta["resourceVersion"]:
            versioning.parse_resource_version(rv)
            raise errors.conflict(rt, old_meta["name"])
        sent = managedfields.client_entries(new) if entries is None and subresource is None else None
        result = _before_update(rt, self.strategy_of(subresource), ctx, objects.deep_copy(old.raw), new)
        result["metadata"]["resourceVersion"] = old_meta["resourceVersion"]
        old_entries = old_meta.get("managedFields") or []
        if sent is not None or old_entries:
            result["metadata"]["managedFields"] = old_entries if sent is None else sent
            if not result["metadata"]["managedFields"]:
                del result["metadata"]["managedFields"]
        if objects.same_content(result, old.obj) and (
            entries is None or apply.same_ownership(entries, old_entries)
        ):
            return old
        if entries is None:
            result = _manage(rt, ctx, old.obj, result, operation, subresource, sent)
        else:
            result["metadata"]["managedFields"] = entries
            if not entries:
                del result["metadata"]["managedFields"]
            result = objects.canonical(rt, result)
        return result

    def commit_update(
        self,
        ctx: WriteContext,
        old: Stored,
        result: Stored | JSON,
        recheck: bool = True,
        encode: Callable[[JSON], bytes] = dumps,
    ) -> Stored | JSON:
        """Store ``result`` of :meth:`prepare_update` (on the event loop). ``recheck``: raise
        :class:`Stale` when the stored object is no longer ``old`` (a write committed while ``result`` was
        prepared from it: the caller prepares again, as ``GuaranteedUpdate`` retries its
        ``tryUpdate`` on a newer object, ``k8s.io/apiserver/pkg/storage/etcd3/store.go``)."""
        if isinstance(result, Stored):
            return result
        rt = self.rt
        old_meta = old.obj["metadata"]
        key = object_key(old_meta.get("namespace"), old_meta["name"])
        current = self.storage.get(rt.storage_key, key) if recheck else old
        if recheck and (current is None or current.rv != old.rv):
            raise Stale(key)
        meta = result["metadata"]
        if meta.get("deletionTimestamp") and not meta.get("finalizers"):
            # The last finalizer of a deleting object went away: the object goes with it, and the
            # answer is the object as updated (finalizers gone), at its last stored version.
            if not ctx.dry_run:
                self.storage.delete(rt.storage_key, key)
            return result
        if ctx.dry_run:
            return result
        return self.storage.replace(rt.storage_key, key, result, encode)

    # -- delete --------------------------------------------------------------------------------

    def delete(self, ctx: WriteContext, old: Stored, options: JSON) -> tuple[Stored | JSON, bool]:
        """Delete ``old`` with DeleteOptions ``options`` (checked ``preconditions``,
        ``propagationPolicy``/``orphanDependents``): (the object as answered, deleted now?).
        Raises 409 Conflict for a failed precondition, 400 for malformed ones."""
        _check_preconditions(self.rt, old.obj["metadata"], options.get("preconditions") or {})
        return self.delete_stored(old, deletion.policy_of(options, None), ctx.dry_run)

    def delete_stored(
        self, old: Stored, policy: str | None, dry_run: bool = False
    ) -> tuple[Stored | JSON, bool]:
        """Delete ``old`` with propagation ``policy`` (None: the default), without preconditions:
        the strategy's own step, then the finalizer-aware deletion. What controllers call."""
        instead = self.strategy.before_delete(self.storage, old, dry_run)
        if instead is not None:
            return instead, False
        return deletion.delete_object(self.storage, self.rt, old, policy, dry_run)


class Registry:
    """The generic stores of the served kinds over one ``storage``: ``store(rt)`` is the
    :class:`GenericStore` of a resource type (built on first use, rebuilt when a CRD change
    replaced the type). ``schemas`` (None: off) checks custom resources against their CRD."""

    def __init__(self, storage: Store, kinds: ServedKinds, schemas: Schemas | None) -> None:
        self.storage = storage
        self.kinds = kinds
        self.schemas = schemas
        self.admission = NamespaceLifecycle(storage)
        self._stores: dict[tuple[str, str, str], GenericStore] = {}

    def store(self, rt: ResourceType) -> GenericStore:
        """The generic store of ``rt``."""
        key = (rt.group, rt.version, rt.plural)
        s = self._stores.get(key)
        if s is None or s.rt is not rt:
            s = self._stores[key] = GenericStore(rt, self.storage, self.admission, self.schemas)
        return s


class Stale(Exception):
    """The stored object changed while an update was prepared from an older one (see
    :meth:`GenericStore.commit_update`); ``args[0]``: its storage key."""


def _before_create(
    rt: ResourceType,
    strategy: Strategy,
    ctx: WriteContext,
    namespace: str | None,
    obj: JSON,
    validate: bool = True,
) -> JSON:
    """``rest.BeforeCreate``: the object to store, or 400/422 (``validate=False``: ObjectMeta
    validation only)."""
    meta = obj["metadata"]
    if rt.namespaced:
        if meta.get("namespace") and meta["namespace"] != namespace:
            raise errors.bad_request(
                "the namespace of the provided object does not match the namespace sent on the request"
            )
        meta["namespace"] = namespace
    else:
        meta.pop("namespace", None)
    if not meta.get("name") and meta.get("generateName"):
        meta["name"] = objects.generate_name(meta["generateName"])
    for f in objects.SYSTEM_META:
        meta.pop(f, None)
    meta.pop("managedFields", None)
    strategy.prepare_for_create(ctx, obj)
    causes = objects.validate_meta(rt, obj)
    if validate:
        obj, causes = strategy.validate(ctx, obj, causes)
    if causes:
        raise objects.invalid(rt, obj, causes)
    meta = obj["metadata"]
    meta["uid"] = objects.new_uid()
    meta["creationTimestamp"] = objects.now()
    if strategy.generation_tracked:
        meta["generation"] = 1
    strategy.defaults_on_create(obj)
    return objects.canonical(rt, obj)


def _before_update(rt: ResourceType, strategy: Strategy, ctx: WriteContext, old: JSON, new: JSON) -> JSON:
    """``rest.BeforeUpdate``: the object an update of ``old`` with body ``new`` stores, or 422."""
    if strategy.status_only:
        strategy.prepare_for_update(ctx, new, old)
        new, causes = strategy.validate_update(ctx, new, old, [])
        if causes:
            raise objects.invalid(rt, new, causes)
        return new
    meta = new["metadata"]
    old_meta = old["metadata"]
    for f in (
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
    ):
        if f in old_meta:
            meta[f] = old_meta[f]
        else:
            meta.pop(f, None)
    meta["name"] = old_meta["name"]
    if rt.namespaced:
        meta["namespace"] = old_meta["namespace"]
    meta.pop("managedFields", None)
    strategy.prepare_for_update(ctx, new, old)
    new, causes = strategy.validate_update(ctx, new, old, objects.validate_meta(rt, new))
    meta = new["metadata"]
    causes += _finalizers_on_deleting(meta, old_meta)
    if causes:
        raise objects.invalid(rt, new, causes)
    if strategy.generation_tracked and objects.without(new, "metadata", "status") != objects.without(
        old, "metadata", "status"
    ):
        meta["generation"] = old_meta.get("generation", 1) + 1
    return objects.canonical(rt, new)


def _manage(
    rt: ResourceType,
    ctx: WriteContext,
    old: JSON | None,
    new: JSON,
    operation: str,
    subresource: str | None,
    base: list[JSON] | None,
) -> JSON:
    """``new`` with its managedFields updated for ``ctx.manager`` (:mod:`.managedfields`);
    ``base``: the entries to start from (those the client sent), else ``old``'s."""
    if base is not None:
        entries = list(base)
    else:
        entries = list(old["metadata"].get("managedFields") or []) if old else []
    new["metadata"]["managedFields"] = managedfields.record(
        entries,
        old,
        new,
        ctx.manager,
        operation,
        rt.api_version,
        objects.now(),
        subresource,
        managedfields.schema_root(rt, rt.crd),
    )
    if not new["metadata"]["managedFields"]:
        del new["metadata"]["managedFields"]
    return objects.canonical(rt, new)


def _finalizers_on_deleting(meta: JSON, old_meta: JSON) -> list[JSON]:
    """``ValidateObjectMetaUpdate``: a deleting object may lose finalizers but not gain any
    (reported twice by the real server: the object and the metadata update checks)."""
    if not old_meta.get("deletionTimestamp"):
        return []
    added = [f for f in meta.get("finalizers") or [] if f not in (old_meta.get("finalizers") or [])]
    if not added:
        return []
    shown = ", ".join(f'"{f}"' for f in added)
    cause = {
        "reason": "FieldValueForbidden",
        "field": "metadata.finalizers",
        "message": "Forbidden: no new finalizers can be added if the object is being "
        f"deleted, found new finalizers []string{{{shown}}}",
    }
    return [cause, cause]


def _check_preconditions(rt: ResourceType, meta: JSON, pre: Any) -> None:
    """DeleteOptions ``preconditions`` (``uid``, ``resourceVersion``) against the stored ``meta``:
    409 Conflict when one differs, 400 when they are not an object."""
    if not isinstance(pre, dict):
        raise errors.bad_request("json: cannot unmarshal into Go struct field DeleteOptions.preconditions")
    if pre.get("uid") and pre["uid"] != meta["uid"]:
        raise _precondition_conflict(rt, meta["name"], "UID", pre["uid"], meta["uid"])
    if pre.get("resourceVersion") and pre["resourceVersion"] != meta["resourceVersion"]:
        raise _precondition_conflict(
            rt, meta["name"], "ResourceVersion", pre["resourceVersion"], meta["resourceVersion"]
        )


def _precondition_conflict(rt: ResourceType, name: str, what: str, want: str, have: str) -> StatusError:
    """409 Conflict for a failed delete precondition (the generic store's Preconditions check)."""
    tail = (
        "The object might have been deleted and then recreated"
        if what == "UID"
        else "The object might have been modified"
    )
    details: JSON = {"name": name}
    if rt.group:
        details["group"] = rt.group
    details["kind"] = rt.kind
    return StatusError(
        409,
        "Conflict",
        f'Operation cannot be fulfilled on {rt.group_kind} "{name}": the {what} in the precondition ({want}) '
        f"does not match the {what} in record ({have}). {tail}",
        details,
    )

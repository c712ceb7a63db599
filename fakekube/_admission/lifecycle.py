"""The ``NamespaceLifecycle`` admission plugin
(``k8s.io/apiserver/pkg/admission/plugin/namespace/lifecycle/admission.go``): no new object in a
namespace that does not exist (404) or is being deleted (403 ``NamespaceTerminating``)."""

from __future__ import annotations

from fakekube import _apierrors as errors
from fakekube._resources import NAMESPACES, ResourceType
from fakekube._storage.store import Store
from kubeapi.status import StatusError
from kubeapi.types import JSON


class NamespaceLifecycle:
    """Admits creates into the namespaces of ``storage``."""

    def __init__(self, storage: Store) -> None:
        self.storage = storage

    def admit_create(self, rt: ResourceType, namespace: str | None, name: str) -> None:
        """Raise 404 NotFound when ``namespace`` does not exist, 403 Forbidden while it is
        Terminating; cluster-scoped kinds (``namespace`` None) always pass. ``name`` is the new
        object's (for the 403's message)."""
        if not rt.namespaced:
            return
        assert namespace is not None
        ns = self.storage.get(NAMESPACES.storage_key, namespace)
        if ns is None:
            raise errors.namespace_not_found(namespace)
        if ns.obj.get("status", {}).get("phase") == "Terminating":
            details: JSON = {"name": name}
            if rt.group:
                details["group"] = rt.group
            details["kind"] = rt.plural
            details["causes"] = [
                {
                    "reason": "NamespaceTerminating",
                    "field": "metadata.namespace",
                    "message": f"namespace {namespace} is being terminated",
                }
            ]
            raise StatusError(
                403,
                "Forbidden",
                f'{rt.group_resource} "{name}" is forbidden: unable to create new content in '
                f"namespace {namespace} because it is being terminated",
                details,
            )

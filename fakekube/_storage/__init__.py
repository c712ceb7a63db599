"""fakekube's storage layer (private): what etcd and the watch cache are to kube-apiserver.

- :mod:`.store`: the objects of every resource with their cached JSON, the store-wide
  ``resourceVersion``, the bounded change history and snapshots (``k8s.io/apiserver/pkg/storage``).
- :mod:`.continuation`: list continue tokens (``storage/etcd3`` ``encodeContinue``/``decodeContinue``).
- :mod:`.selection`: label and field selectors as the storage layer filters with them
  (``storage.SelectionPredicate``).
- :mod:`.watchers`: watch streams fed by the store's changes (``storage/cacher``).

Nothing here knows about HTTP, strategies or admission.
"""

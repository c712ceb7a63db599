"""fakekube's admission layer (private): the checks kube-apiserver runs on a write between decoding
and storage (``k8s.io/apiserver/pkg/admission``).

- :mod:`.lifecycle`: the ``NamespaceLifecycle`` plugin (no writes into a missing or Terminating namespace).
- :mod:`.schema`: custom resources against their CRD's structural schema (pruning, defaults,
  validation, CEL; apiextensions-apiserver's schema handling, through :mod:`fakekube.crd`).
"""

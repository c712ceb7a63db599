"""Tests of the CRD engine, :mod:`fakekube.crd` (schemas, CEL rules, defaulting, pruning), the
fast path against the full engine, and both against a real kube-apiserver (``test_refkube``)."""

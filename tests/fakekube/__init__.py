"""Tests of ``fakekube``, the in-memory Kubernetes API server (served over HTTP or in process)."""

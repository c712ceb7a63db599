"""fakekube: an in-memory Kubernetes API server for the ``ray.io`` kinds and a few core kinds.

Public API (see fakekube/README.md):

- :func:`create_app` builds the ASGI application (:class:`FakeKube`); ``fakekube serve``
  (:mod:`fakekube.cli`) runs it.
- :class:`Simulation`: settings of the simulated KubeRay operator
  (``create_app(simulate_operator=...)``, :mod:`fakekube.simulation`).
- :func:`mock` (:class:`Mock`) routes Kubernetes clients to an in-process fakekube
  (:mod:`fakekube.mocking`).
- :mod:`fakekube.testing`: the in-process client and helpers (:class:`Client`,
  :class:`FakeKubeError`); the pytest fixtures are in :mod:`fakekube.pytest_plugin`, Hypothesis
  strategies in :mod:`fakekube.strategies`, the CRD engine in :mod:`fakekube.crd`.

Everything in a module or package whose name starts with ``_`` (``_endpoints``, ``_registry``,
``_admission``, ``_storage``, ``_controllers``...) is private: its layout may change.
"""

from fakekube.mocking import Mock, mock
from fakekube.server import DEFAULT_NAMESPACES, FakeKube, create_app
from fakekube.simulation import Simulation
from fakekube.testing import Client, FakeKubeError

__all__ = [
    "DEFAULT_NAMESPACES",
    "Client",
    "FakeKube",
    "FakeKubeError",
    "Mock",
    "Simulation",
    "create_app",
    "mock",
]

"""fakekube: an in-memory Kubernetes API server for the ``ray.io`` kinds and a few core kinds.

``create_app(...)`` builds the ASGI application; ``fakekube serve`` (:mod:`fakekube.cli`) runs it.
``mock()`` routes Kubernetes clients to an in-process fakekube (:mod:`fakekube.mocking`); the
pytest fixtures are in :mod:`fakekube.pytest_plugin`, Hypothesis strategies in :mod:`fakekube.strategies`.
"""

from fakekube.mocking import mock
from fakekube.server import FakeKube, create_app

__all__ = ["FakeKube", "create_app", "mock"]

"""fakekube: an in-memory Kubernetes API server for the ``ray.io`` kinds and a few core kinds.

``create_app(...)`` builds the ASGI application; ``fakekube serve`` (:mod:`fakekube.cli`) runs it.
"""

from fakekube.app import FakeKube, create_app

__all__ = ["FakeKube", "create_app"]

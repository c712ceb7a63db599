"""Tests of fakekube's test-support API: the pytest plugin (:mod:`fakekube.pytest_plugin`),
``fakekube.mock()`` (:mod:`fakekube.mocking`), :mod:`fakekube.testing` and :mod:`fakekube.strategies`."""

"""The test suite, laid out as the packages it tests: ``tests/handler`` (the gateway),
``tests/fakekube`` (with ``crd`` for :mod:`fakekube.crd` and ``testing`` for the test-support API:
pytest plugin, ``mock()``, :mod:`fakekube.testing`, strategies), ``tests/kubeapi``,
``tests/benchmarks`` (the ``benchmarks`` package's own tests) and ``tests/contract`` (conformance:
fakekube and the gateway compared with a real kube-apiserver).

Every folder is a package, so helper modules are imported by their full name
(``from tests.procs import free_port``) and two folders may hold modules of the same name.
"""

"""The module-level ``app`` configured from ``KUBERAY_APISERVER_*`` environment variables.

For serverless and Knative deployments and for granian workers (``granian --interface asgi
handler.app:app``): see :meth:`handler.settings.Settings.from_env` for the variables.

Importing this module makes the process a gateway server, so it also tunes the process-wide
garbage collector for serving: everything allocated while importing and building the app
(Litestar, pydantic, the routes: a few hundred thousand objects that live as long as the
process) is moved to the permanent generation with ``gc.freeze()``. Without it every full
collection walks that whole heap: on the benchmark machine ~5 full collections per 5 s at
32 connections, ~22 ms each, a pause that every in-flight request waits out (the p99); frozen,
they take ~1 ms (see the Python docs, ``gc.freeze``).

The collector is also off while the modules are imported and the app is built (cold start):
those objects all live on, so the ~100 young-generation collections that importing would
otherwise run (tens of milliseconds of a start) would find almost nothing to free. It also sets
the C allocator's thresholds for relaying large bodies (:func:`handler._allocator.tune_for_relay`).
"""

from __future__ import annotations

import gc

_collecting = gc.isenabled()
gc.disable()
try:
    from handler._allocator import tune_for_relay
    from handler.factory import create_app
    from handler.settings import Settings

    app = create_app(Settings.from_env())
finally:
    gc.freeze()
    if _collecting:
        gc.enable()
tune_for_relay()

"""Serverless entry points for the ASGI app (``handler.app:app``, configured from ``KUBERAY_APISERVER_*``).

- Google Cloud Run (container): the image's own entry point, ``kuberay-apiserver serve``, on the
  ``PORT`` Cloud Run gives (set ``KUBERAY_APISERVER_PORT`` to it, 8080 by default there).
- Cloud Run functions / functions-framework: ``functions-framework --asgi --signature-type http
  --source infra/cloudrun/functions/main.py --target gateway``. functions-framework's ASGI mode
  (functions_framework/aio, Starlette under uvicorn) calls an HTTP function with a Starlette
  ``Request`` and sends back the ``Response`` it returns by calling it as an ASGI app
  (``await response(scope, receive, send)``); :func:`gateway` returns :class:`ASGIDelegate`, a
  response that hands the request's own scope, receive and send to the gateway's app, so the
  gateway writes its answer itself, streamed watches included.
- AWS Lambda behind the Lambda Web Adapter: the adapter starts the container's entry point and
  proxies to its port; nothing here is Lambda-specific (README "Deploy: AWS Lambda").
"""

from __future__ import annotations

from typing import Any

from litestar.types import Receive, Scope, Send


class ASGIDelegate:
    """A "response" for functions-framework's ASGI mode that lets ``handler.app:app`` answer.

    ``request`` is the Starlette request functions-framework made (only its ``scope`` and
    ``receive`` are used). Starlette's routing may have set ``path_params`` in the scope; the path
    itself is untouched, so the gateway routes the original request path.
    """

    def __init__(self, request: Any) -> None:
        self.request = request

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Serve the request with the gateway's app (imported on first use, built from the env)."""
        from handler.app import app

        await app(scope, receive, send)


async def gateway(request: Any) -> ASGIDelegate:
    """The functions-framework HTTP function (``--target gateway``, ``--asgi``): every path, every
    method, answered by the gateway."""
    return ASGIDelegate(request)

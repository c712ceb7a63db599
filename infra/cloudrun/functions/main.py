"""Cloud Run functions source (functions-framework ``--asgi --target gateway``): the gateway's ASGI
app behind functions-framework's ASGI mode. See handler/serverless.py and README "Deploy: Cloud Run"."""

from handler.serverless import gateway

__all__ = ["gateway"]

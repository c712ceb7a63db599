"""The module-level ``app`` configured from ``KUBERAY_APISERVER_*`` environment variables.

For serverless and Knative deployments and for granian workers (``granian --interface asgi
handler.app:app``): see :meth:`handler.settings.Settings.from_env` for the variables.
"""

from __future__ import annotations

from handler.factory import create_app
from handler.settings import Settings

app = create_app(Settings.from_env())

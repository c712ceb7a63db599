"""An audit-log step: one line per request on every route, written after the response is known.

Added in front of every route's steps, so it also sees requests the gateway refuses itself (a
``Status`` error is recorded with its code, then re-raised for the gateway to answer). The
record is ``user verb path -> status`` with the user the gateway's authentication verified
(``request.user``, a ``kubeapi.authn.UserInfo``; ``-`` under ``--authentication none``, where
nobody is verified, and for requests refused before authentication), never a header the caller
sent, and the Kubernetes verb of kube-apiserver's ``RequestInfo`` (``request.info``).

    from handler import Settings, create_app
    from audit_log import audit_log

    app = create_app(Settings(...), routes=audit_log(print))
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from handler import GatewayError, GatewayRequest, RouteTable, step
from handler.responses import AnyResponse
from handler.routing import Handler


def audit_log(write: Callable[[str], Any]) -> Callable[[RouteTable], None]:
    """A ``create_app(routes=...)`` function that puts an audit step first on every route;
    ``write`` receives each record (a ``str``)."""

    @step(name="audit_log")
    async def audit(request: GatewayRequest, next: Handler) -> AnyResponse:
        started = time.monotonic()
        verb = request.info.verb if request.info.is_resource_request else request.method.lower()
        try:
            response = await next(request)
        except GatewayError as e:
            status = e.code
            raise
        else:
            status = response.status
            return response
        finally:
            ms = (time.monotonic() - started) * 1000
            user = request.user.name if request.user is not None else "-"
            write(f"{user} {verb} {request.path} -> {status} ({ms:.1f} ms)")

    def install(table: RouteTable) -> None:
        for name in table.names():
            first = table.routes[[r.name for r in table.routes].index(name)].steps
            if first:
                table.add_step(name, audit, before=first[0].name)
            else:
                table.add_step(name, audit)

    return install

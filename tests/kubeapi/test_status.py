"""kubeapi.status: the Status body in the Go struct's field order, with details' omitempty."""

from __future__ import annotations

import json

from kubeapi.status import failure_status


def test_field_order_and_absent_details() -> None:
    body = failure_status(404, "NotFound", "m")
    assert json.dumps(body) == (
        '{"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", '
        '"message": "m", "reason": "NotFound", "code": 404}'
    )


def test_empty_details_are_kept_as_the_apiserver_keeps_them() -> None:
    body = failure_status(404, "NotFound", "the server could not find the requested resource", {})
    assert list(body) == ["kind", "apiVersion", "metadata", "status", "message", "reason", "details", "code"]
    assert body["details"] == {}

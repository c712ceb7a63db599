"""kubeapi.status: the Status body in the Go struct's field order, omitempty rules, and every
constructor's exact wording (errors.go, and the texts the gateway and fakekube answer today)."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubeapi import status as ks
from kubeapi.status import StatusError, failure_status


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


def test_empty_message_and_reason_are_omitted() -> None:
    assert list(failure_status(500, "", "")) == ["kind", "apiVersion", "metadata", "status", "code"]


def test_body_is_compact_utf8_json() -> None:
    err = StatusError(400, "BadRequest", "é")
    assert (
        err.body()
        == (
            '{"kind":"Status","apiVersion":"v1","metadata":{},"status":"Failure",'
            '"message":"é","reason":"BadRequest","code":400}'
        ).encode()
    )
    assert err.content_type == "application/json"
    assert str(err) == "é"


def test_list_continue_goes_to_metadata() -> None:
    err = ks.new_resource_expired("too old")
    err.list_continue = "tok"
    assert err.status()["metadata"] == {"continue": "tok"}


def test_plain_answers() -> None:
    err = ks.new_page_not_found()
    assert (err.code, err.plain, err.body()) == (404, True, b"404 page not found\n")
    assert err.content_type.startswith("text/plain")


def full(err: StatusError) -> tuple[int, str, str, object]:
    return err.code, err.reason, err.message, err.details


@pytest.mark.parametrize(
    ("err", "expected"),
    [
        (
            ks.new_not_found("ray.io", "rayclusters", "x"),
            (
                404,
                "NotFound",
                'rayclusters.ray.io "x" not found',
                {"name": "x", "group": "ray.io", "kind": "rayclusters"},
            ),
        ),
        (
            ks.new_not_found("", "namespaces", "n"),
            (404, "NotFound", 'namespaces "n" not found', {"name": "n", "kind": "namespaces"}),
        ),
        (
            ks.new_already_exists("ray.io", "rayjobs", "j"),
            (
                409,
                "AlreadyExists",
                'rayjobs.ray.io "j" already exists',
                {"name": "j", "group": "ray.io", "kind": "rayjobs"},
            ),
        ),
        (
            ks.new_generate_name_conflict("", "pods", "p-abc", 1),
            (
                409,
                "AlreadyExists",
                'pods "p-abc" already exists, '
                "the server was not able to generate a unique name for the object",
                {"name": "p-abc", "kind": "pods", "retryAfterSeconds": 1},
            ),
        ),
        (
            ks.new_conflict("ray.io", "rayclusters", "x"),
            (
                409,
                "Conflict",
                'Operation cannot be fulfilled on rayclusters.ray.io "x": the object has been modified; '
                "please apply your changes to the latest version and try again",
                {"name": "x", "group": "ray.io", "kind": "rayclusters"},
            ),
        ),
        (ks.new_unauthorized(), (401, "Unauthorized", "not authorized", None)),
        (ks.new_unauthorized("bad token"), (401, "Unauthorized", "bad token", None)),
        (ks.new_forbidden("", "", "", "no"), (403, "Forbidden", "forbidden: no", {})),
        (
            ks.new_forbidden("ray.io", "rayclusters", "", "no"),
            (
                403,
                "Forbidden",
                "rayclusters.ray.io is forbidden: no",
                {"group": "ray.io", "kind": "rayclusters"},
            ),
        ),
        (
            ks.new_forbidden("", "secrets", "s", "no"),
            (403, "Forbidden", 'secrets "s" is forbidden: no', {"name": "s", "kind": "secrets"}),
        ),
        (ks.new_gone("m"), (410, "Gone", "m", None)),
        (ks.new_resource_expired("m"), (410, "Expired", "m", None)),
        (ks.new_bad_request("m"), (400, "BadRequest", "m", None)),
        (ks.new_too_many_requests("m", 0), (429, "TooManyRequests", "m", {})),
        (ks.new_too_many_requests("m", 3), (429, "TooManyRequests", "m", {"retryAfterSeconds": 3})),
        (ks.new_too_many_requests_error("m"), (429, "TooManyRequests", "Too many requests: m", None)),
        (ks.new_service_unavailable("m"), (503, "ServiceUnavailable", "m", None)),
        (
            ks.new_method_not_supported("ray.io", "rayclusters", "create"),
            (
                405,
                "MethodNotAllowed",
                'create is not supported on resources of kind "rayclusters.ray.io"',
                {"group": "ray.io", "kind": "rayclusters"},
            ),
        ),
        (
            ks.new_server_timeout("", "pods", "list", 2),
            (
                500,
                "ServerTimeout",
                "The list operation against pods could not be completed at this time, please try again.",
                {"name": "list", "kind": "pods", "retryAfterSeconds": 2},
            ),
        ),
        (
            ks.new_internal_error("boom"),
            (500, "InternalError", "Internal error occurred: boom", {"causes": [{"message": "boom"}]}),
        ),
        (ks.new_timeout_error("m"), (504, "Timeout", "Timeout: m", {})),
        (
            ks.new_request_entity_too_large_limit(3145728),
            (413, "RequestEntityTooLarge", "Request entity too large: limit is 3145728", None),
        ),
        (ks.new_path_not_found(), (404, "NotFound", "the server could not find the requested resource", {})),
        (
            ks.new_method_not_allowed(),
            (405, "MethodNotAllowed", "the server does not allow this method on the requested resource", {}),
        ),
        (
            ks.new_method_not_allowed_for("DELETE"),
            (
                405,
                "MethodNotAllowed",
                "the server does not allow this method on the requested resource (DELETE)",
                None,
            ),
        ),
        (
            ks.new_unsupported_media_type(["application/json", "application/yaml"]),
            (
                415,
                "UnsupportedMediaType",
                "the body of the request was in an unknown format - accepted media types include: "
                "application/json, application/yaml",
                None,
            ),
        ),
        (
            ks.new_not_acceptable(["application/json"]),
            (406, "NotAcceptable", "only the following media types are accepted: application/json", {}),
        ),
        (
            ks.new_upstream_unavailable("connection refused"),
            (
                503,
                "ServiceUnavailable",
                "the upstream Kubernetes API server is unavailable: connection refused",
                None,
            ),
        ),
        (
            ks.new_upstream_timeout("read"),
            (504, "Timeout", "timed out waiting for the upstream Kubernetes API server: read", None),
        ),
    ],
)
def test_constructor_wording(err: StatusError, expected: tuple[int, str, str, object]) -> None:
    assert full(err) == expected
    if isinstance(err.details, dict):
        order = ["name", "group", "kind", "uid", "causes", "retryAfterSeconds"]
        assert list(err.details) == [k for k in order if k in err.details]


def test_invalid_aggregates_like_to_aggregate() -> None:
    c1 = ks.status_cause("FieldValueInvalid", 'Invalid value: "v": bad', "spec.a")
    c2 = ks.status_cause("FieldValueRequired", "Required value: must", "spec.b")
    err = ks.new_invalid("ray.io", "RayCluster", "x", [c1, c2, c1])
    assert err.message == (
        'RayCluster.ray.io "x" is invalid: [spec.a: Invalid value: "v": bad, spec.b: Required value: must]'
    )
    assert err.details == {"name": "x", "group": "ray.io", "kind": "RayCluster", "causes": [c1, c2, c1]}
    one = ks.new_invalid("meta.k8s.io", "ListOptions", "", [c1])
    assert one.message == 'ListOptions.meta.k8s.io "" is invalid: spec.a: Invalid value: "v": bad'
    assert one.details == {"group": "meta.k8s.io", "kind": "ListOptions", "causes": [c1]}
    assert ks.new_invalid("", "Pod", "p", []).message == 'Pod "p" is invalid'


def test_cause_order_and_omitempty() -> None:
    assert list(ks.status_cause("R", "M", "F")) == ["reason", "message", "field"]
    assert ks.status_cause(message="m") == {"message": "m"}


@pytest.mark.parametrize(
    ("code", "obj", "expected"),
    [
        (
            404,
            {"kind": "Status", "reason": "NotFound", "message": "m", "details": {"name": "x"}},
            (404, "NotFound", "m", {"name": "x"}),
        ),
        (409, {"kind": "Status", "message": "m"}, (409, "", "m", None)),
        (418, "teapot", (418, "Unknown", "fb", None)),
        (502, None, (502, "InternalError", "fb", None)),
        (410, {"kind": "Other"}, (410, "Expired", "fb", None)),
    ],
)
def test_from_status_object(code: int, obj: object, expected: tuple[int, str, str, object]) -> None:
    assert full(ks.from_status_object(code, obj, "fb")) == expected


def test_error_to_status() -> None:
    err = ks.new_bad_request("x")
    assert ks.error_to_status(err) is err
    other = ks.error_to_status(RuntimeError("boom"))
    assert (other.code, other.reason, other.message) == (500, "", "boom")
    assert "reason" not in other.status()


@given(st.integers(min_value=100, max_value=599))
def test_reason_for_code_is_total(code: int) -> None:
    reason = ks.reason_for_code(code)
    assert reason == ks.REASONS_BY_CODE.get(code, "InternalError" if code >= 500 else "Unknown")


@given(st.text(), st.text(), st.sampled_from([None, {}, {"name": "x"}]))
def test_body_round_trips(message: str, reason: str, details: dict[str, str] | None) -> None:
    err = StatusError(422, reason, message, details)
    decoded = json.loads(err.body())
    assert decoded == err.status()
    assert decoded.get("message", "") == message and decoded.get("reason", "") == reason

"""``resourceVersion`` values and list continue tokens, as the etcd3 storage layer reads them.

Continue tokens are base64url (unpadded) JSON ``{"v": "meta.k8s.io/v1", "rv": N, "start": KEY}``
(``k8s.io/apiserver/pkg/storage/continue.go`` ``EncodeContinue``/``DecodeContinue``); the start key
is relative to the resource, not to the namespace (not byte-identical to etcd's). Errors are 400
BadRequest with the storage layer's texts.
"""

from __future__ import annotations

import base64
import binascii
import json

from fakekube import _apierrors as errors
from kubeapi import gostrconv
from kubeapi.decode import go_json_error
from kubeapi.status import StatusError

#: The 410 message for a continue token older than the kept history (``storage/etcd3`` ``store.go``).
EXPIRED_CONTINUE = (
    "The provided continue parameter is too old to display a consistent list result. You can start a new "
    "list without the continue parameter, or use the continue token in this response to retrieve the "
    "remainder of the results. Continuing with the provided token results in an inconsistent list - "
    "objects that were created, modified, or deleted between the time the first chunk was returned and "
    "now may show up in the list."
)


def encode_continue(rv: int, start: str) -> str:
    """A continue token for resourceVersion ``rv`` (-1: continue from the current state) and the
    first key ``start`` of the next page."""
    raw = json.dumps({"v": "meta.k8s.io/v1", "rv": rv, "start": start}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()


def decode_continue(token: str) -> tuple[int, str]:
    """(resourceVersion, start key) of a continue token; rv -1 means "continue from the current
    state" (the inconsistent token a 410 offers). Raises 400 BadRequest when malformed, with the
    etcd3 store's texts (``invalid continue token: continue key is not valid: ...``)."""

    def bad(why: str) -> StatusError:
        return errors.bad_request(f"invalid continue token: continue key is not valid: {why}")

    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
    except (ValueError, binascii.Error):
        raise bad("illegal base64 data at input byte 0") from None
    try:
        data = json.loads(raw.decode("latin-1"))
    except json.JSONDecodeError as e:
        raise bad(go_json_error(e)) from None
    if not isinstance(data, dict) or data.get("v") != "meta.k8s.io/v1":
        raise bad("server does not recognize this encoded key")
    rv, start = data.get("rv"), data.get("start")
    if not isinstance(rv, int) or not isinstance(start, str) or rv == 0 or rv < -1:
        raise bad("incorrect encoded start resourceVersion (version meta.k8s.io/v1)")
    return rv, start


def parse_resource_version(value: str) -> int:
    """A ``resourceVersion`` as an int; 400 with the storage layer's text (``ParseResourceVersion``,
    ``strconv.ParseUint``) otherwise."""
    try:
        return gostrconv.parse_uint(value)
    except gostrconv.NumError as e:  # invalid syntax, or beyond uint64 ("value out of range")
        raise errors.bad_request(
            f'invalid resource version: resourceVersion: Invalid value: "{value}": {e}'
        ) from None

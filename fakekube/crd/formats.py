"""String ``format`` checks that the API server applies to custom resources.

Only the formats the apiextensions-apiserver keeps are checked (``StripUnsupportedFormatsPostProcess``
in ``k8s.io/apiextensions-apiserver/pkg/apiserver/validation/formats.go``); any other format,
``int32``/``int64``/``double`` included, is ignored, as there. The checks follow the
``k8s.io/kube-openapi/pkg/validation/strfmt`` registry (``default.go``).
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
import re
from collections.abc import Callable

_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?([Zz]|[+-]\d{2}:?\d{2})?$")
_DATE = re.compile(r"^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$")
_UUID = re.compile(r"^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$")
_HEX = "[0-9a-fA-F]"
_UUID_V = {
    v: re.compile(rf"^{_HEX}{{8}}-{_HEX}{{4}}-{v}{_HEX}{{3}}-{_HEX}{{4}}-{_HEX}{{12}}$") for v in "345"
}
_HOSTNAME = re.compile(
    r"^(?=.{1,253}$)[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?(\.[a-zA-Z0-9]([-a-zA-Z0-9]{0,61}[a-zA-Z0-9])?)*$"
)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+$")
_MAC = re.compile(r"^([0-9A-Fa-f]{2}[:-]){5,19}[0-9A-Fa-f]{2}$")
_DURATION = re.compile(r"^(-?\d+(\.\d+)?\s*(ns|us|µs|ms|s|m|h|d|w)\s*)+$")
_HEX_COLOR = re.compile(r"^#?([0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
_RGB_COLOR = re.compile(r"^rgb\(\s*\d{1,3}%?\s*,\s*\d{1,3}%?\s*,\s*\d{1,3}%?\s*\)$")


def _ipv4(s: str) -> bool:
    try:
        ipaddress.IPv4Address(s)
    except ValueError:
        return False
    return True


def _ipv6(s: str) -> bool:
    try:
        ipaddress.IPv6Address(s)
    except ValueError:
        return False
    return True


def _cidr(s: str) -> bool:
    try:
        ipaddress.ip_network(s, strict=False)
    except ValueError:
        return False
    return "/" in s


def _byte(s: str) -> bool:
    try:
        base64.b64decode(s, validate=True)
    except (binascii.Error, ValueError):
        return False
    return True


def _uri(s: str) -> bool:
    return bool(s) and not any(c.isspace() for c in s)


CHECKS: dict[str, Callable[[str], bool]] = {
    "date-time": lambda s: bool(_DATE_TIME.match(s)),
    "datetime": lambda s: bool(_DATE_TIME.match(s)),
    "date": lambda s: bool(_DATE.match(s)),
    "uuid": lambda s: bool(_UUID.match(s)),
    "uuid3": lambda s: bool(_UUID_V["3"].match(s)),
    "uuid4": lambda s: bool(_UUID_V["4"].match(s)),
    "uuid5": lambda s: bool(_UUID_V["5"].match(s)),
    "ipv4": _ipv4,
    "ipv6": _ipv6,
    "cidr": _cidr,
    "mac": lambda s: bool(_MAC.match(s)),
    "hostname": lambda s: bool(_HOSTNAME.match(s)),
    "email": lambda s: bool(_EMAIL.match(s)),
    "uri": _uri,
    "byte": _byte,
    "password": lambda s: True,
    "duration": lambda s: bool(_DURATION.match(s)),
    "hexcolor": lambda s: bool(_HEX_COLOR.match(s)),
    "rgbcolor": lambda s: bool(_RGB_COLOR.match(s)),
}


def check(fmt: str, value: str) -> bool | None:
    """True/False when ``fmt`` is a format the API server checks; None when it ignores ``fmt``."""
    fn = CHECKS.get(fmt)
    return None if fn is None else fn(value)

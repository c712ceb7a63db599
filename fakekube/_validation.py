"""Name and label syntax checks with the apiserver's error texts.

Source: ``k8s.io/apimachinery/pkg/util/validation/validation.go`` (``IsDNS1123Subdomain``,
``IsDNS1123Label``, ``IsDNS1035Label``, ``IsQualifiedName``, ``IsValidLabelValue``). Each checker
returns a list of error details (empty when valid), as the Go functions do.
"""

from __future__ import annotations

import re
from collections.abc import Callable

NameValidator = Callable[[str], list[str]]

_DNS1123_LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN = _DNS1123_LABEL + r"(\." + _DNS1123_LABEL + ")*"
_DNS1035_LABEL = "[a-z]([-a-z0-9]*[a-z0-9])?"
_QUALIFIED_NAME = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_VALUE = "(" + _QUALIFIED_NAME + ")?"

_RE_LABEL = re.compile(_DNS1123_LABEL)
_RE_SUBDOMAIN = re.compile(_DNS1123_SUBDOMAIN)
_RE_1035 = re.compile(_DNS1035_LABEL)
_RE_QUALIFIED = re.compile(_QUALIFIED_NAME)
_RE_LABEL_VALUE = re.compile(_LABEL_VALUE)


def _max_len(n: int) -> str:
    return f"must be no more than {n} characters"


def dns1123_subdomain(value: str) -> list[str]:
    """RFC 1123 subdomain (most object names): at most 253 characters of ``[a-z0-9.-]``."""
    errs = []
    if len(value) > 253:
        errs.append(_max_len(253))
    if not _RE_SUBDOMAIN.fullmatch(value):
        errs.append(
            "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
            "and must start and end with an alphanumeric character (e.g. 'example.com', regex used for "
            f"validation is '{_DNS1123_SUBDOMAIN}')"
        )
    return errs


def dns1123_label(value: str) -> list[str]:
    """RFC 1123 label (namespace names): at most 63 characters of ``[a-z0-9-]``."""
    errs = []
    if len(value) > 63:
        errs.append(_max_len(63))
    if not _RE_LABEL.fullmatch(value):
        errs.append(
            "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must "
            "start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for "
            f"validation is '{_DNS1123_LABEL}')"
        )
    return errs


def dns1035_label(value: str) -> list[str]:
    """RFC 1035 label (Service names): like an RFC 1123 label but starting with a letter."""
    errs = []
    if len(value) > 63:
        errs.append(_max_len(63))
    if not _RE_1035.fullmatch(value):
        errs.append(
            "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
            "alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', "
            f"regex used for validation is '{_DNS1035_LABEL}')"
        )
    return errs


def qualified_name(value: str) -> list[str]:
    """A label/annotation key: ``[prefix/]name``, prefix an RFC 1123 subdomain, name ≤ 63 characters."""
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            return ["prefix part must be non-empty"]
        errs = dns1123_subdomain(prefix)
        if errs:
            return ["prefix part " + e for e in errs]
    else:
        return [
            "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and "
            "end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used "
            f"for validation is '{_QUALIFIED_NAME}') with an optional DNS subdomain prefix and '/' (e.g. "
            "'example.com/MyName')"
        ]
    if not name:
        return ["name part must be non-empty"]
    errs = []
    if len(name) > 63:
        errs.append("name part " + _max_len(63))
    if not _RE_QUALIFIED.fullmatch(name):
        errs.append(
            "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with "
            "an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for "
            f"validation is '{_QUALIFIED_NAME}')"
        )
    return errs


def label_value(value: str) -> list[str]:
    """A label value: empty, or ≤ 63 characters of ``[A-Za-z0-9-_.]`` starting and ending alphanumeric."""
    errs = []
    if len(value) > 63:
        errs.append(_max_len(63))
    if not _RE_LABEL_VALUE.fullmatch(value):
        errs.append(
            "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
            "and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or "
            f"'12345', regex used for validation is '{_LABEL_VALUE}')"
        )
    return errs

"""Label key, label value and object name syntax, with kube-apiserver 1.37's error texts.

Two Go families, both here so that the gateway and fakekube share one copy:

- label keys and values: k8s.io/apimachinery v0.37 ``pkg/api/validate/content`` (``kube.go``
  ``IsLabelKey``, ``IsLabelValue``; ``dns.go`` ``IsDNS1123Subdomain``; ``errors.go``
  ``MaxLenError``, ``RegexError``, ``EmptyError``). ``pkg/labels/selector.go`` validates a label
  selector with them, and since v0.37 ``pkg/util/validation``'s ``IsQualifiedName`` and
  ``IsValidLabelValue`` *are* these functions, so ``metadata.labels`` and annotation keys
  (``ValidateObjectMeta``) get the same texts: lengths say "bytes".
- object names: ``pkg/util/validation`` ``IsDNS1123Subdomain``, ``IsDNS1123Label``,
  ``IsDNS1035Label`` (``api/validation/generic.go`` ``NameIsDNSSubdomain`` & co.), whose
  ``MaxLenError`` still says "characters".

Lengths are Go's ``len`` (UTF-8 bytes) in both. Each checker returns the list of error details,
empty when valid, as Go does.
"""

from __future__ import annotations

import re

__all__ = [
    "DNS1123_LABEL_MAX_LENGTH",
    "DNS1123_SUBDOMAIN_MAX_LENGTH",
    "LABEL_KEY_MAX_LENGTH",
    "LABEL_VALUE_MAX_LENGTH",
    "is_dns1123_subdomain",
    "is_label_key",
    "is_label_value",
    "max_len_error",
    "name_is_dns1035_label",
    "name_is_dns1123_label",
    "name_is_dns1123_subdomain",
    "regex_error",
]

LABEL_KEY_MAX_LENGTH = 63
LABEL_VALUE_MAX_LENGTH = 63
DNS1123_SUBDOMAIN_MAX_LENGTH = 253

_DNS1123_LABEL_FMT = "[a-z0-9]([-a-z0-9]*[a-z0-9])?"
_DNS1123_SUBDOMAIN_FMT = _DNS1123_LABEL_FMT + r"(\." + _DNS1123_LABEL_FMT + ")*"
_DNS1123_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', "
    "and must start and end with an alphanumeric character"
)
_DNS1123_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and "
    "must start and end with an alphanumeric character"
)
DNS1123_LABEL_MAX_LENGTH = 63
_DNS1035_LABEL_FMT = "[a-z]([-a-z0-9]*[a-z0-9])?"
_DNS1035_LABEL_MSG = (
    "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an "
    "alphabetic character, and end with an alphanumeric character"
)
_LABEL_KEY_FMT = "([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]"
_LABEL_KEY_MSG = (
    "must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an "
    "alphanumeric character"
)
_LABEL_VALUE_FMT = "(" + _LABEL_KEY_FMT + ")?"
_LABEL_VALUE_MSG = (
    "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', "
    "and must start and end with an alphanumeric character"
)
# re.ASCII: Go's character classes are ASCII; fullmatch is Go's ^...$.
_RE_SUBDOMAIN = re.compile(_DNS1123_SUBDOMAIN_FMT, re.ASCII)
_RE_DNS1123_LABEL = re.compile(_DNS1123_LABEL_FMT, re.ASCII)
_RE_DNS1035_LABEL = re.compile(_DNS1035_LABEL_FMT, re.ASCII)
_RE_LABEL_KEY = re.compile(_LABEL_KEY_FMT, re.ASCII)
_RE_LABEL_VALUE = re.compile(_LABEL_VALUE_FMT, re.ASCII)


def _blen(s: str) -> int:
    """Go's ``len``: UTF-8 bytes."""
    return len(s) if s.isascii() else len(s.encode("utf-8", errors="surrogatepass"))


def max_len_error(length: int) -> str:
    """content.MaxLenError: ``must be no more than N bytes``."""
    return f"must be no more than {length} bytes"


def _name_max_len_error(length: int) -> str:
    """util/validation.MaxLenError (object names): ``must be no more than N characters``."""
    return f"must be no more than {length} characters"


def regex_error(msg: str, regex: str, *examples: str) -> str:
    """content.RegexError: ``MSG (e.g. 'a',  or 'b', regex used for validation is 'RE')`` (Go joins
    the examples with ``" or "`` after ``"'x', "``, hence the double space)."""
    if not examples:
        return f"{msg} (regex used for validation is '{regex}')"
    return (
        msg
        + " (e.g. "
        + " or ".join(f"'{e}', " for e in examples)
        + f"regex used for validation is '{regex}')"
    )


def _dns1123_subdomain(value: str, too_long: str) -> list[str]:
    errs: list[str] = []
    if _blen(value) > DNS1123_SUBDOMAIN_MAX_LENGTH:
        errs.append(too_long)
    if not _RE_SUBDOMAIN.fullmatch(value):
        errs.append(regex_error(_DNS1123_SUBDOMAIN_MSG, _DNS1123_SUBDOMAIN_FMT, "example.com"))
    return errs


def is_dns1123_subdomain(value: str) -> list[str]:
    """content.IsDNS1123Subdomain: at most 253 bytes of ``[a-z0-9.-]`` in dot-separated labels."""
    return _dns1123_subdomain(value, max_len_error(DNS1123_SUBDOMAIN_MAX_LENGTH))


def name_is_dns1123_subdomain(value: str) -> list[str]:
    """util/validation.IsDNS1123Subdomain (most object names, ``NameIsDNSSubdomain``): as
    :func:`is_dns1123_subdomain`, the length error in "characters"."""
    return _dns1123_subdomain(value, _name_max_len_error(DNS1123_SUBDOMAIN_MAX_LENGTH))


def name_is_dns1123_label(value: str) -> list[str]:
    """util/validation.IsDNS1123Label (namespace names, ``NameIsDNSLabel``): at most 63 bytes of
    ``[a-z0-9-]``; a valid subdomain that is not a label only "must not contain dots"."""
    errs: list[str] = []
    if _blen(value) > DNS1123_LABEL_MAX_LENGTH:
        errs.append(_name_max_len_error(DNS1123_LABEL_MAX_LENGTH))
    if not _RE_DNS1123_LABEL.fullmatch(value):
        if _RE_SUBDOMAIN.fullmatch(value):
            errs.append("must not contain dots")
        else:
            errs.append(regex_error(_DNS1123_LABEL_MSG, _DNS1123_LABEL_FMT, "my-name", "123-abc"))
    return errs


def name_is_dns1035_label(value: str) -> list[str]:
    """util/validation.IsDNS1035Label (Service names, ``NameIsDNS1035Label``): an RFC 1123 label
    that starts with a letter."""
    errs: list[str] = []
    if _blen(value) > DNS1123_LABEL_MAX_LENGTH:
        errs.append(_name_max_len_error(DNS1123_LABEL_MAX_LENGTH))
    if not _RE_DNS1035_LABEL.fullmatch(value):
        errs.append(regex_error(_DNS1035_LABEL_MSG, _DNS1035_LABEL_FMT, "my-name", "abc-123"))
    return errs


def is_label_key(value: str) -> list[str]:
    """content.IsLabelKey (``IsQualifiedName``): ``[prefix/]name``, prefix a DNS-1123 subdomain,
    name at most 63 bytes of ``[-A-Za-z0-9_.]`` starting and ending alphanumeric. A bad prefix
    and a bad name are both reported (prefix first); more than one ``/`` gives one error."""
    errs: list[str] = []
    parts = value.split("/")
    if len(parts) == 1:
        name = parts[0]
    elif len(parts) == 2:
        prefix, name = parts
        if not prefix:
            errs.append("prefix part must be non-empty")
        else:
            errs.extend("prefix part " + m for m in is_dns1123_subdomain(prefix))
    else:
        return [
            "a valid label key "
            + regex_error(_LABEL_KEY_MSG, _LABEL_KEY_FMT, "MyName", "my.name", "123-abc")
            + " with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')"
        ]
    if not name:
        errs.append("name part must be non-empty")
    elif _blen(name) > LABEL_KEY_MAX_LENGTH:
        errs.append("name part " + max_len_error(LABEL_KEY_MAX_LENGTH))
    if not _RE_LABEL_KEY.fullmatch(name):
        errs.append(
            "name part " + regex_error(_LABEL_KEY_MSG, _LABEL_KEY_FMT, "MyName", "my.name", "123-abc")
        )
    return errs


def is_label_value(value: str) -> list[str]:
    """content.IsLabelValue: empty, or at most 63 bytes of ``[-A-Za-z0-9_.]`` starting and ending
    alphanumeric."""
    errs: list[str] = []
    if _blen(value) > LABEL_VALUE_MAX_LENGTH:
        errs.append(max_len_error(LABEL_VALUE_MAX_LENGTH))
    if not _RE_LABEL_VALUE.fullmatch(value):
        errs.append(regex_error(_LABEL_VALUE_MSG, _LABEL_VALUE_FMT, "MyValue", "my_value", "12345"))
    return errs

"""Kubernetes' CEL extension functions, for rules evaluated with the ``cel`` library.

The API server compiles ``x-kubernetes-validations`` with cel-go plus Kubernetes' libraries
(https://kubernetes.io/docs/reference/using-api/cel/#cel-options-language-features-and-libraries):
the cel-go ``strings`` extension, Kubernetes' ``lists``, ``regex``, ``URLs``, ``IP``/``CIDR``
and ``quantity`` libraries (``k8s.io/apiserver/pkg/cel/library``). The Rust ``cel`` library has
only the CEL standard functions, so this module supplies these as Python functions, called in
receiver style (``self.lowerAscii()`` calls ``lowerAscii(self)``).

Provided: ``charAt``, ``indexOf``, ``lastIndexOf``, ``lowerAscii``, ``upperAscii``,
``replace``, ``split``, ``substring``, ``trim``, ``join``; ``isSorted``, ``sum``, ``min``,
``max``; ``find``, ``findAll``; ``isURL``; ``isIP``, ``isCIDR``; ``isQuantity``, ``quantity``
with ``compareTo``, ``isGreaterThan``, ``isLessThan``, ``asInteger``, ``asApproximateFloat``,
``isInteger``, ``sign``, ``add``, ``sub``. Not provided: ``url()``/``ip()``/``cidr()`` objects,
``format.*``, ``sets.*``, optional field selection (``self.?x``), ``authorizer``.
A value made by ``quantity()`` is a map ``{"__quantity__": "<text>"}``.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable
from decimal import Decimal
from typing import Any
from urllib.parse import urlsplit

from kubeapi.quantity import is_quantity, parse_quantity

_KEY = "__quantity__"


def _q(v: Any) -> Decimal:
    if isinstance(v, dict) and _KEY in v:
        return parse_quantity(str(v[_KEY]))
    raise TypeError("no such overload")


def _quantity(text: str) -> dict[str, str]:
    parse_quantity(text)
    return {_KEY: text}


def _format(d: Decimal) -> str:
    return format(d.normalize(), "f") if d != d.to_integral_value() else str(int(d))


def _is_url(s: str) -> bool:
    try:
        parts = urlsplit(s)
    except ValueError:
        return False
    return bool(parts.scheme) and (bool(parts.netloc) or s.startswith(parts.scheme + ":/"))


def _is_ip(s: str, *family: int) -> bool:
    try:
        addr = ipaddress.ip_address(s)
    except ValueError:
        return False
    return "%" not in s and (not family or addr.version == family[0])


def _is_cidr(s: str) -> bool:
    try:
        ipaddress.ip_network(s, strict=False)
    except ValueError:
        return False
    return "/" in s


def _index_of(x: Any, item: Any, *offset: int) -> int:
    if isinstance(x, str):
        return x.find(item, offset[0] if offset else 0)
    return next((i for i, v in enumerate(x) if v == item), -1)


def _last_index_of(x: Any, item: Any, *offset: int) -> int:
    if isinstance(x, str):
        return x.rfind(item, 0, offset[0] + len(item)) if offset else x.rfind(item)
    return next((i for i in range(len(x) - 1, -1, -1) if x[i] == item), -1)


def _replace(s: str, old: str, new: str, *n: int) -> str:
    return s.replace(old, new, n[0]) if n and n[0] >= 0 else s.replace(old, new)


def _split(s: str, sep: str, *n: int) -> list[str]:
    if n:
        if n[0] == 0:
            return []
        return s.split(sep, n[0] - 1) if n[0] > 0 else s.split(sep)
    return s.split(sep)


def _substring(s: str, start: int, *end: int) -> str:
    stop = end[0] if end else len(s)
    if not 0 <= start <= stop <= len(s):
        raise ValueError(f"index out of range: {start if start > len(s) or start < 0 else stop}")
    return s[start:stop]


def _compare(a: Any, b: Any) -> int:
    x, y = _q(a), _q(b)
    return (x > y) - (x < y)


def _as_integer(v: Any) -> int:
    d = _q(v)
    if d != d.to_integral_value() or not -(2**63) <= d < 2**63:
        raise ValueError("cannot convert value to integer")
    return int(d)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    # cel-go strings extension
    "charAt": lambda s, i: s[i] if i < len(s) else "",
    "indexOf": _index_of,
    "lastIndexOf": _last_index_of,
    "lowerAscii": lambda s: "".join(c.lower() if c.isascii() else c for c in s),
    "upperAscii": lambda s: "".join(c.upper() if c.isascii() else c for c in s),
    "replace": _replace,
    "split": _split,
    "substring": _substring,
    "trim": lambda s: s.strip(),
    "join": lambda items, *sep: (sep[0] if sep else "").join(items),
    # Kubernetes lists library
    "isSorted": lambda items: all(items[i] <= items[i + 1] for i in range(len(items) - 1)),
    "sum": lambda items: sum(items),
    "min": lambda items: min(items),
    "max": lambda items: max(items),
    # Kubernetes regex library
    "find": lambda s, pattern: m.group(0) if (m := re.search(pattern, s)) else "",
    "findAll": lambda s, pattern, *n: [m.group(0) for m in re.finditer(pattern, s)][
        : n[0] if n and n[0] >= 0 else None
    ],
    # Kubernetes URL and IP/CIDR libraries (predicates only)
    "isURL": _is_url,
    "isIP": _is_ip,
    "isCIDR": _is_cidr,
    # Kubernetes quantity library
    "isQuantity": is_quantity,
    "quantity": _quantity,
    "compareTo": _compare,
    "isGreaterThan": lambda a, b: _compare(a, b) > 0,
    "isLessThan": lambda a, b: _compare(a, b) < 0,
    "asInteger": _as_integer,
    "asApproximateFloat": lambda v: float(_q(v)),
    "isInteger": lambda v: (d := _q(v)) == d.to_integral_value() and -(2**63) <= d < 2**63,
    "sign": lambda v: _compare(v, {_KEY: "0"}),
    "add": lambda a, b: {_KEY: _format(_q(a) + (_q(b) if isinstance(b, dict) else Decimal(b)))},
    "sub": lambda a, b: {_KEY: _format(_q(a) - (_q(b) if isinstance(b, dict) else Decimal(b)))},
}

"""Type aliases shared by the gateway, fakekube and the rest of :mod:`kubeapi`.

A Kubernetes object (and any JSON object inside one) is handled as the dict ``json.loads`` gives;
these aliases name that shape once instead of in every module.
"""

from __future__ import annotations

from typing import Any, TypeAlias

__all__ = ["JSON", "JSONValue"]

#: A decoded JSON object (a Kubernetes object, a ``Status``, a patch...): ``dict[str, Any]``.
JSON: TypeAlias = dict[str, Any]
#: Any decoded JSON value: object, array, string, number, boolean or null.
JSONValue: TypeAlias = dict[str, Any] | list[Any] | str | int | float | bool | None

"""One compiled ``x-kubernetes-validations`` rule (a leaf module: it imports nothing of fakekube).

:mod:`fakekube.crd.schema` keeps each node's raw rules and a slot typed with :class:`Rule`;
:mod:`fakekube.crd.cel` compiles the raw rules into it on first use
(``ValidationRule`` of ``k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1/types_jsonschema.go``,
compiled as ``k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel/compilation.go`` does).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Rule:
    """One compiled validation rule.

    ``rule``/``message``/``reason``/``field_path``/``optional_old_self`` are the raw rule's fields;
    ``program`` is the compiled CEL program (None when the rule failed to compile, ``compile_error``
    then holds cel-go's text), ``message_program`` the compiled ``messageExpression``;
    ``transition`` is True when the rule reads ``oldSelf``; ``uses_library`` when it calls one of
    Kubernetes' CEL extension functions.
    """

    rule: str
    program: Any
    message: str
    message_program: Any
    reason: str
    field_path: str
    transition: bool
    optional_old_self: bool
    compile_error: str = ""
    uses_library: bool = False

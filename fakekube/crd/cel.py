"""``x-kubernetes-validations`` CEL rules of a custom resource, evaluated with a maintained CEL library.

Programs are compiled once (on first use of the schema node, :func:`rules_of`; the node itself
only keeps the raw rules, so :mod:`fakekube.crd.schema` does not import this module) with
``common-expression-language``
(the ``cel`` module, Rust bindings of the ``cel`` crate). Semantics follow
https://kubernetes.io/docs/tasks/extend-kubernetes/custom-resources/custom-resource-definitions/#validation-rules
and ``k8s.io/apiextensions-apiserver/pkg/apiserver/schema/cel/validation.go``:

- ``self`` is the value at the node that declares the rule; a rule runs only where the value
  is present.
- On update, a rule that fails on a value equal to its correlated stored value (ratcheting, see
  :mod:`fakekube.crd.ratchet`) gives a warning instead of an error.
- A rule that mentions ``oldSelf`` is a *transition rule*: it runs only on update and only when
  the old object has a value at the correlated place (same property path; list items of
  ``x-kubernetes-list-type: map`` correlated by their map keys; ``additionalProperties`` by
  key). With ``optionalOldSelf: true`` it also runs on create, ``oldSelf`` being an optional.
- A false rule yields ``field.Invalid(path, self, message)`` (``self`` shown when it is a
  scalar, omitted for objects and lists: ``spec: Invalid value: min must not exceed max``), or ``Forbidden`` /
  ``Required`` / ``Duplicate`` per ``reason``; ``message`` defaults to ``failed rule: <rule>``;
  ``messageExpression`` (a CEL string expression) overrides it when it evaluates to a
  non-empty string; ``fieldPath`` (``.a.b``, ``['k']``, ``[0]``) is appended to the path.
- A rule that fails to evaluate gives ``Invalid value: "<schema type>": <error> evaluating rule:
  <rule>`` (``division by zero``, ``no such key: x``, as cel-go words them).

Kubernetes' CEL extension functions (strings, lists, regex, ``isURL``, ``isIP``, ``quantity``)
come from :mod:`fakekube.crd.cel_library`; the others (``format.*``, ``url()``, ``ip()``
objects...) fail at evaluation, reported as a rule evaluation error.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from functools import cache
from types import ModuleType
from typing import Any

from fakekube.crd import causes as C
from fakekube.crd.causes import Cause
from fakekube.crd.cel_library import FUNCTIONS
from fakekube.crd.celrule import Rule
from fakekube.crd.ratchet import old_child, old_items, unchanged
from fakekube.crd.schema import MISSING, Node


@cache
def _cel() -> ModuleType:
    """The ``cel`` module, imported on first use: it costs ~0.3 s (it pulls in its CLI's deps).
    Raises ModuleNotFoundError naming the ``fakekube`` extra when it is not installed."""
    try:
        import cel
    except ModuleNotFoundError as e:
        raise ModuleNotFoundError(MISSING_CEL) from e
    return cel


#: Why CEL rules cannot run: the package is the ``fakekube`` extra (pyproject.toml).
MISSING_CEL = (
    "fakekube evaluates x-kubernetes-validations with the common-expression-language package, "
    "the 'fakekube' extra: pip install 'kuberay-apiserver[fakekube]'"
)


def _compile(src: str) -> tuple[Any, str]:
    try:
        return _cel().compile(src), ""
    except (ValueError, RuntimeError, TypeError) as e:
        return None, str(e)


def compile_error_text(src: str) -> str | None:
    """The compile error of CEL ``src`` worded as cel-go's (``ERROR: <input>:1:8: Syntax error:
    ...`` and the `` | `` source excerpt), or None when it compiles."""
    program, err = _compile(src)
    if program is not None:
        return None
    err = re.sub(r"^Failed to parse expression '.*?': (?=ERROR)", "", err, flags=re.S)
    return err.replace("\n| ", "\n | ")


def compile_rules(raw: Sequence[Mapping[str, Any]]) -> tuple[Rule, ...]:
    """Compile the ``x-kubernetes-validations`` list of one schema node."""
    out = []
    for r in raw:
        src = str(r.get("rule", ""))
        program, err = _compile(src)
        msg_expr = r.get("messageExpression")
        msg_program = _compile(msg_expr)[0] if msg_expr else None
        uses_old = program is not None and "oldSelf" in program.variables()
        called = set(program.functions()) if program is not None else set()
        if msg_program is not None:
            called |= set(msg_program.functions())
        out.append(
            Rule(
                rule=src,
                program=program,
                message=str(r.get("message") or "").strip(),
                message_program=msg_program,
                reason=str(r.get("reason") or "FieldValueInvalid"),
                field_path=str(r.get("fieldPath") or ""),
                transition=uses_old or (program is None and "oldSelf" in src),
                optional_old_self=bool(r.get("optionalOldSelf")),
                compile_error=err,
                uses_library=bool(called & FUNCTIONS.keys()),
            )
        )
    return tuple(out)


_FIELD_PATH_TOKEN = re.compile(r"\.([A-Za-z_][A-Za-z0-9_]*)|\['((?:[^'\\]|\\.)*)'\]|\[(\d+)\]")


def _append_field_path(path: str, field_path: str) -> str:
    for m in _FIELD_PATH_TOKEN.finditer(field_path):
        name, key, index = m.groups()
        if name is not None:
            path = f"{path}.{name}" if path else name
        elif key is not None:
            path = f"{path}.{key}" if path else key
        else:
            path = f"{path}[{index}]"
    return path


def _shown(value: Any) -> Any:
    # the apiserver shows a scalar ``self`` as the bad value and omits objects and lists
    return value if isinstance(value, str | int | float | bool) else C.OMIT


def _field_error(path: str, value: Any, rule: Rule, message: str) -> Cause:
    path = _append_field_path(path, rule.field_path) if rule.field_path else path
    path = path or C.ROOT
    if rule.reason == C.FORBIDDEN:
        return C.make(C.FORBIDDEN, path, detail=message)
    if rule.reason == C.REQUIRED:
        return C.make(C.REQUIRED, path, detail=message)
    if rule.reason == C.DUPLICATE:
        return C.make(C.DUPLICATE, path, _shown(value))
    return C.make(C.INVALID, path, _shown(value), message)


def _runtime_error_text(e: Exception) -> str:
    """cel-go's wording of common runtime errors (``division by zero``, ``no such key: x``...)."""
    if isinstance(e, ZeroDivisionError):
        return "modulus by zero" if "modulo" in str(e) else "division by zero"
    if isinstance(e, KeyError):
        return f"no such key: {e.args[0] if e.args else ''}"
    if isinstance(e, OverflowError):
        return "integer overflow"
    return str(e)


def _activation(rule: Rule, bindings: dict[str, Any]) -> Any:
    """What a program executes with: the bindings, plus Kubernetes' functions when it calls any."""
    if rule.uses_library:
        return _cel().Context(variables=bindings, functions=FUNCTIONS)
    return bindings


def _message(rule: Rule, bindings: dict[str, Any]) -> str:
    if rule.message_program is not None:
        try:
            text = rule.message_program.execute(_activation(rule, bindings))
        except Exception:  # a failing messageExpression falls back to message (as the apiserver)
            text = None
        if isinstance(text, str) and text.strip():
            return text.strip()
    return rule.message or f"failed rule: {rule.rule}"


def rules_of(node: Node) -> tuple[Rule, ...]:
    """The compiled ``x-kubernetes-validations`` of ``node``: compiled from ``node.raw_rules`` on
    first use and cached on the node (``Node.compiled_rules``), so each schema node compiles once."""
    rules = node.compiled_rules
    if rules is None:
        rules = node.compiled_rules = compile_rules(node.raw_rules) if node.raw_rules else ()
    return rules


def _eval_rules(node: Node, value: Any, old: Any, path: str, out: list[Cause]) -> None:
    for rule in rules_of(node):
        if rule.program is None:
            detail = f"compilation failed: {rule.compile_error}"
            out.append(C.make(C.INVALID, path or C.ROOT, node.type or "", detail))
            continue
        bindings: dict[str, Any] = {"self": value}
        if rule.transition:
            if rule.optional_old_self:
                optional = _cel().OptionalValue
                none_or_old = optional.none() if old is MISSING else optional.of(old)
                bindings["oldSelf"] = none_or_old
            elif old is MISSING:
                continue
            else:
                bindings["oldSelf"] = old
        try:
            result = rule.program.execute(_activation(rule, bindings))
        except Exception as e:  # the library raises KeyError/ZeroDivisionError/... for runtime errors
            detail = f"{_runtime_error_text(e)} evaluating rule: {rule.rule}"
            out.append(C.make(C.INVALID, path or C.ROOT, node.type or "", detail))
            continue
        if result is not True:
            out.append(_field_error(path, value, rule, _message(rule, bindings)))


def _walk(node: Node, value: Any, old: Any, path: str, out: list[Cause], warned: list[Cause]) -> None:
    if not node.subtree_has_rules:
        return
    if path and unchanged(node, value, old):
        # ratcheting: rules still run on an unchanged value, but failures are only warnings
        out = warned
    if node.has_rules:
        _eval_rules(node, value, old, path, out)
    if isinstance(value, dict):
        props = node.properties
        additional = node.additional
        for k, v in value.items():
            child = props.get(k)
            if child is not None:
                sub_path = f"{path}.{k}" if path else k
            elif additional is not None:
                child = additional
                sub_path = f"{path}[{k}]"
            else:
                continue
            if v is None:
                continue
            _walk(child, v, old_child(node, old, k), sub_path, out, warned)
    elif isinstance(value, list):
        items = node.items
        if items is None:
            return
        for i, (v, old_item) in enumerate(zip(value, old_items(node, value, old), strict=True)):
            _walk(items, v, old_item, f"{path}[{i}]", out, warned)


def validate_rules(root: Node, obj: Any, old: Any = MISSING) -> tuple[list[Cause], list[Cause]]:
    """Evaluate every CEL rule of ``root``'s schema that applies to ``obj`` (``old`` on update).

    Returns (errors, warnings): a rule failing on a value equal to its stored counterpart is a
    warning, not an error (validation ratcheting; the apiserver sends it as a ``Warning``).
    """
    out: list[Cause] = []
    warned: list[Cause] = []
    _walk(root, obj, old, "", out, warned)
    return out, warned

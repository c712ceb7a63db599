"""The bad-input corpus: hostile and malformed requests, each sent to every target and to refkube.

Two sources:

- hand-written files in ``files/``: a create body each (``.yaml`` sent as ``application/yaml``,
  ``.json`` as ``application/json``), a comment at the top of the YAML ones saying what they try;
- generated cases below (:func:`cases`): malformed JSON and encodings, numbers at and beyond the
  int32/int64/float64 edges for an int32 field, unicode and control characters in names and
  labels, wrong types, sizes at the 3 MiB body limit, label and field selectors, query values
  (``limit``, ``timeoutSeconds``, ``watch``, ``dryRun``, ``fieldValidation``, ``resourceVersion``,
  ``continue``...), ``Content-Type`` and ``Accept`` headers, patch types, and path tricks.

Every case addresses the RayCluster collection or object ``a`` of the case's namespace (seeded by
the test), so the gateway, which serves only Ray paths, can be compared too. ``{ns}`` in a path is
the namespace. Each case is one request; the oracle (``tests/contract/test_bad_input.py``) is
refkube's code and reason.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FILES = Path(__file__).resolve().parent / "files"
RC = "/apis/ray.io/v1/namespaces/{ns}/rayclusters"


@dataclass(frozen=True)
class BadInput:
    """One request: ``method`` on ``path`` (``{ns}`` filled in) with the raw ``query``, extra
    ``headers``, and ``body`` bytes sent with ``content_type`` (None: no Content-Type)."""

    name: str
    method: str
    path: str
    query: str = ""
    body: bytes | None = None
    content_type: str | None = "application/json"
    headers: dict[str, str] = field(default_factory=dict)

    def with_ns(self, ns: str) -> str:
        """The request target (path and query) in namespace ``ns``."""
        return self.path.format(ns=ns) + (f"?{self.query}" if self.query else "")


def raycluster(name: str, **spec: Any) -> dict[str, Any]:
    """A valid RayCluster ``name`` with one worker group of ``replicas: 1``; ``spec`` overrides."""
    container = {"name": "ray-head", "image": "rayproject/ray:2.9.0"}
    worker = {
        "groupName": "w",
        "replicas": 1,
        "rayStartParams": {},
        "template": {"spec": {"containers": [{"name": "w", "image": "rayproject/ray:2.9.0"}]}},
    }
    body: dict[str, Any] = {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {"name": name},
        "spec": {
            "headGroupSpec": {"rayStartParams": {}, "template": {"spec": {"containers": [container]}}},
            "workerGroupSpecs": [worker],
        },
    }
    body["spec"].update(spec)
    return body


def _json(obj: Any) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()


def _create(
    name: str, body: bytes, content_type: str | None = "application/json", query: str = ""
) -> BadInput:
    return BadInput(name, "POST", RC, query, body, content_type)


def _replicas(value: str) -> bytes:
    return _json(raycluster("num")).replace(b'"replicas":1', b'"replicas":' + value.encode(), 1)


def _file_cases() -> list[BadInput]:
    out = []
    for path in sorted(FILES.iterdir()):
        ctype = "application/yaml" if path.suffix == ".yaml" else "application/json"
        out.append(_create(f"file:{path.name}", path.read_bytes(), ctype))
    return out


def _body_cases() -> list[BadInput]:
    valid = raycluster("ok")
    out = [
        _create("empty-body", b""),
        _create("truncated", _json(valid)[:40]),
        _create("json-null", b"null"),
        _create("json-array", b"[]"),
        _create("json-string", b'"RayCluster"'),
        _create("json-number", b"1"),
        _create("whitespace-only", b" \n\t "),
        _create("deep-json-5000", _deep(5000, headless=True)),
        _create("deep-json-10000", _deep(10000)),
        _create("deep-json-10001", _deep(10001)),
        _create("deep-json-100000", _deep(100000)),
        _create("no-kind", _json({"apiVersion": "ray.io/v1", "metadata": {"name": "x"}})),
        _create("no-apiversion", _json({"kind": "RayCluster", "metadata": {"name": "x"}})),
        _create("other-version", _json({**valid, "apiVersion": "ray.io/v2"})),
        _create("other-kind", _json({**valid, "kind": "RayJob"})),
        _create("metadata-string", _json({**valid, "metadata": "x"})),
        _create("labels-list", _json({**valid, "metadata": {"name": "x", "labels": ["a"]}})),
        _create("label-value-number", _json({**valid, "metadata": {"name": "x", "labels": {"a": 1}}})),
        _create("spec-string", _json({**valid, "spec": "x"})),
        _create("spec-null", _json({**valid, "spec": None})),
        _create("containers-null", _replace(valid, "containers", None)),
        _create("over-3mib", _json(raycluster("big", x="x" * (3 * 1024 * 1024)))),
        _create("unknown-field-strict", _json(raycluster("strict", x=1)), query="fieldValidation=Strict"),
        _create("fieldvalidation-bogus", _json(raycluster("fv")), query="fieldValidation=Bogus"),
        _create("dryrun-bogus", _json(raycluster("dr")), query="dryRun=Bogus"),
        _create("yaml-as-json", b"apiVersion: ray.io/v1\nkind: RayCluster\n"),
        _create("json-as-yaml", b'{"apiVersion": "ray.io/v1", "kind": ', "application/yaml"),
        _create("text-plain", _json(valid), "text/plain"),
        _create("xml", b"<RayCluster/>", "application/xml"),
        _create("no-content-type", _json(raycluster("nct")), None),
        _create("content-type-garbage", _json(raycluster("ctg")), ";;;/"),
        _create("json-charset-utf16", _json(raycluster("cs")), "application/json; charset=utf-16"),
    ]
    for value in [
        "2147483647",
        "2147483648",
        "-2147483649",
        "99999999999999999999",
        "9223372036854775808",
        "1e20",
        "1e400",
        "-1e400",
        "1.5",
        "1.0",
        "-0",
        "9007199254740993",
        '"1"',
        "true",
        "[1]",
        "{}",
        "null",
        "0x10",
        "+1",
        "01",
        ".5",
    ]:
        out.append(_create(f"replicas={value}", _replicas(value)))
    for name in [
        "UPPER",
        "a" * 254,
        "a" * 253,
        "-lead",
        "dots.ok.name",
        "ünïcödé",
        "emoji-😀",
        "space name",
        "slash/name",
        "..",
        "",
    ]:
        out.append(_create(f"name:{name[:20]!r}({len(name)})", _json({**valid, "metadata": {"name": name}})))
    for key, value in [
        ("a" * 64, "v"),
        ("k", "v" * 64),
        ("k", "ünïcödé"),
        ("bad key", "v"),
        ("example.com/" + "a" * 63, "v"),
        ("k", "\u0000"),
    ]:
        meta = {"name": "lbl", "labels": {key: value}}
        out.append(_create(f"label:{key[:12]!r}={value[:8]!r}", _json({**valid, "metadata": meta})))
    big_annotation = {"name": "ann", "annotations": {"a": "x" * (256 * 1024)}}
    out.append(_create("annotations-over-256k", _json({**valid, "metadata": big_annotation})))
    return out


def _replace(obj: dict[str, Any], key: str, value: Any) -> bytes:
    text = _json(obj).decode()
    marker = f'"{key}":'
    start = text.index(marker) + len(marker)
    end = text.index("]", start) + 1
    return (text[:start] + json.dumps(value) + text[end:]).encode()


def _deep(levels: int, headless: bool = False) -> bytes:
    """A RayCluster whose unknown ``spec.x`` makes the body ``levels`` deep (``headless``: without
    ``headGroupSpec``, so it is invalid once pruned)."""
    obj = raycluster("deep")
    if headless:
        del obj["spec"]["headGroupSpec"]
    inner = "[" * (levels - 2) + "]" * (levels - 2)
    return _json(obj).replace(b'"spec":{', b'"spec":{"x":' + inner.encode() + b",", 1)


def _query_cases() -> list[BadInput]:
    out = []
    for query in [
        "limit=",
        "limit=-1",
        "limit=abc",
        "limit=99999999999999999999",
        "timeoutSeconds=abc",
        "timeoutSeconds=",
        "labelSelector=a%3D(",
        "labelSelector=!",
        "labelSelector=a+in+(b",
        "labelSelector=a%3D%3D%3Db",
        "labelSelector=" + "a" * 64 + "%3Db",
        "labelSelector=" + "%2C".join(f"k{i}%3Dv" for i in range(1000)),
        "fieldSelector=spec.x%3D1",
        "fieldSelector=metadata.name%3D%3Da%3D%3Db",
        "fieldSelector=metadata.name",
        "resourceVersion=abc&resourceVersionMatch=Exact",
        "resourceVersion=-1",
        "resourceVersionMatch=Bogus",
        "continue=garbage",
        "continue=eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MSwic3RhcnQiOiJ4In0",
        "pretty=maybe",
        "watch=0&timeoutSeconds=1",
        "limit=1;watch=1",
        "limit=%zz",
        "sendInitialEvents=true",
        "allowWatchBookmarks=maybe",
    ]:
        out.append(BadInput(f"list?{query[:40]}", "GET", RC, query, None, None))
    return out


def _header_cases() -> list[BadInput]:
    return [
        BadInput("accept-xml", "GET", RC, headers={"Accept": "application/xml"}, content_type=None),
        BadInput("accept-garbage", "GET", RC, headers={"Accept": ";;;,,,/"}, content_type=None),
        BadInput(
            "accept-table-bad-params",
            "GET",
            RC,
            headers={"Accept": "application/json;as=Table;v=v9;g=meta.k8s.io"},
            content_type=None,
        ),
        BadInput("header-20k", "GET", RC, headers={"X-Big": "a" * 20_000}, content_type=None),
        BadInput("header-non-ascii", "GET", RC, headers={"X-Uni": "\u00e9t\u00e9"}, content_type=None),
    ]


def _object_cases() -> list[BadInput]:
    a = RC + "/a"
    return [
        BadInput("get-missing", "GET", RC + "/nope", content_type=None),
        BadInput("get-name-with-escape", "GET", RC + "/a%2Fb", content_type=None),
        BadInput("get-dotdot", "GET", RC + "/..", content_type=None),
        BadInput("put-no-body", "PUT", a, body=b""),
        BadInput("put-name-mismatch", "PUT", a, body=_json(raycluster("other"))),
        BadInput(
            "put-stale-rv",
            "PUT",
            a,
            body=_json({**raycluster("a"), "metadata": {"name": "a", "resourceVersion": "1"}}),
        ),
        BadInput("patch-json-type", "PATCH", a, body=b"{}", content_type="application/json"),
        BadInput("patch-merge-null", "PATCH", a, body=b"null", content_type="application/merge-patch+json"),
        BadInput("patch-merge-array", "PATCH", a, body=b"[]", content_type="application/merge-patch+json"),
        BadInput(
            "patch-jsonpatch-bad-op",
            "PATCH",
            a,
            body=b'[{"op":"explode","path":"/spec"}]',
            content_type="application/json-patch+json",
        ),
        BadInput(
            "patch-jsonpatch-object", "PATCH", a, body=b"{}", content_type="application/json-patch+json"
        ),
        BadInput(
            "patch-jsonpatch-bad-path",
            "PATCH",
            a,
            body=b'[{"op":"remove","path":"/nope/x"}]',
            content_type="application/json-patch+json",
        ),
        BadInput(
            "patch-strategic-on-crd",
            "PATCH",
            a,
            body=b"{}",
            content_type="application/strategic-merge-patch+json",
        ),
        BadInput(
            "apply-no-field-manager",
            "PATCH",
            a,
            body=_json(raycluster("a")),
            content_type="application/apply-patch+yaml",
        ),
        BadInput(
            "apply-bad-force",
            "PATCH",
            a,
            "fieldManager=m&force=maybe",
            _json(raycluster("a")),
            "application/apply-patch+yaml",
        ),
        BadInput("delete-bad-body", "DELETE", a, body=b"{"),
        BadInput("delete-bad-policy", "DELETE", a, body=b'{"propagationPolicy":"Sideways"}'),
        BadInput("delete-grace-abc", "DELETE", a, "gracePeriodSeconds=abc", None, None),
        BadInput("delete-uid-precondition", "DELETE", a, body=b'{"preconditions":{"uid":"nope"}}'),
    ]


def cases() -> list[BadInput]:
    """Every case of the corpus, in a stable order (names are unique)."""
    out = [*_file_cases(), *_body_cases(), *_query_cases(), *_header_cases(), *_object_cases()]
    names = [c.name for c in out]
    assert len(names) == len(set(names)), "duplicate bad-input case names"
    return out

"""kubeapi.media: mime.ParseMediaType, goautoneg.ParseAccept and NegotiateMediaTypeOptions outcomes."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubeapi import media
from kubeapi.media import MediaTypeError, Negotiated, negotiate_output, parse_accept, parse_media_type


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("application/json", ("application/json", {})),
        (" Application/JSON ; Charset=UTF-8", ("application/json", {"charset": "UTF-8"})),
        ('application/json; a="x y"; b=z', ("application/json", {"a": "x y", "b": "z"})),
        ('text/plain; a="q\\"uote"', ("text/plain", {"a": 'q"uote'})),
        ("application/json;", ("application/json", {})),  # a trailing semicolon is ignored
        ("json", ("json", {})),  # Go accepts a lone token
    ],
)
def test_parse_media_type(value: str, expected: tuple[str, dict[str, str]]) -> None:
    assert parse_media_type(value) == expected


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("", "mime: no media type"),
        ("/json", "mime: no media type"),
        ("application json", "mime: expected slash after first token"),
        ("application/", "mime: expected token after slash"),
        ("application/json x", "mime: unexpected content after media subtype"),
        ("application/json; a", "mime: invalid media parameter"),
        ("application/json; a=1; A=2", "mime: duplicate parameter name"),
        ('application/json; a="x', "mime: invalid media parameter"),
    ],
)
def test_parse_media_type_errors(value: str, message: str) -> None:
    with pytest.raises(MediaTypeError) as e:
        parse_media_type(value)
    assert str(e.value) == message


@pytest.mark.parametrize(
    ("content_type", "expected"),
    [
        (None, "application/json"),
        ("", "application/json"),
        ("application/yaml; charset=utf-8", "application/yaml"),
        ("APPLICATION/JSON", "application/json"),
        ("text/plain", None),
        ("application/json; a", None),
    ],
)
def test_body_media_type(content_type: str | None, expected: str | None) -> None:
    assert media.body_media_type(content_type) == expected


def test_yaml_types() -> None:
    assert all(media.is_yaml(t) for t in ("application/yaml", "application/x-yaml", "text/yaml"))
    assert media.is_yaml(media.APPLY_PATCH_YAML)
    assert not media.is_yaml("application/json")


# -- Accept ----------------------------------------------------------------------------------------


def clause_list(header: str) -> list[tuple[str, str, float, dict[str, str]]]:
    return [(c.type, c.subtype, round(c.q, 3), dict(c.params)) for c in parse_accept(header)]


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("application/json", [("application", "json", 1.0, {})]),
        ("*", [("*", "*", 1.0, {})]),
        ("json, a/b/c, text/, ,x/y", [("x", "y", 1.0, {})]),
        ("a/b;q=0.5, c/d", [("c", "d", 1.0, {}), ("a", "b", 0.5, {})]),
        ("a/b;q=x", [("a", "b", 0.0, {})]),  # ParseFloat error: q is 0
        ("a/b;x;y=1=2;z = 3", [("a", "b", 1.0, {"z": "3"})]),
        ("*/*, application/json", [("application", "json", 1.0, {}), ("*", "*", 1.0, {})]),
        # goautoneg's Less is not an order: a concrete type beats a wildcard whatever the q
        ("*/*;q=1, application/json;q=0.1", [("application", "json", 0.1, {}), ("*", "*", 1.0, {})]),
    ],
)
def test_parse_accept(header: str, expected: list[tuple[str, str, float, dict[str, str]]]) -> None:
    assert clause_list(header) == expected


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        (None, Negotiated("application/json")),
        ("", Negotiated("application/json")),
        ("application/yaml", Negotiated("application/yaml")),
        ("application/*", Negotiated("application/json")),
        ("*/*", Negotiated("application/json")),
        (media.TABLE_ACCEPT, Negotiated("application/json", ("meta.k8s.io", "v1", "Table"))),
        ("application/json, application/json;as=Table;v=v1;g=meta.k8s.io", Negotiated("application/json")),
        (
            "application/yaml;as=Table;v=v1;g=meta.k8s.io",
            Negotiated("application/yaml", ("meta.k8s.io", "v1", "Table")),
        ),
        ("application/json;as=Table;v=v1", None),  # no g: not meta.k8s.io
        ("application/json;as=Table;v=v2;g=meta.k8s.io", None),
        ("application/json;as=Foo;v=v1;g=meta.k8s.io", None),
        ("application/json;as=Foo;v=v1;g=meta.k8s.io, application/json", Negotiated("application/json")),
        (
            "application/vnd.kubernetes.protobuf;as=PartialObjectMetadataList;v=v1;g=meta.k8s.io",
            Negotiated(media.PROTOBUF, ("meta.k8s.io", "v1", "PartialObjectMetadataList")),
        ),
        ("application/vnd.kubernetes.protobuf;as=Table;v=v1;g=meta.k8s.io", None),
        ("application/json;stream=watch", Negotiated("application/json", stream="watch")),
        ("application/yaml;stream=watch", None),
        ("application/json;stream=other", None),
        ("application/json;sv=v2", None),
        ("application/json;pretty=1", Negotiated("application/json", pretty=True)),
        ("text/html", None),
    ],
)
def test_negotiate_output(header: str | None, expected: Negotiated | None) -> None:
    assert negotiate_output(header) == expected


def test_negotiate_restricted_offer() -> None:
    assert negotiate_output("application/vnd.kubernetes.protobuf", (media.JSON, media.YAML)) is None
    assert negotiate_output("*/*", (media.YAML,)) == Negotiated(media.YAML)
    assert negotiate_output(media.TABLE_ACCEPT).is_table  # type: ignore[union-attr]


@given(st.text(alphabet="ab/*;q=.,01 ", max_size=20))
def test_parse_accept_total(header: str) -> None:
    """Any header parses without raising; clauses are split at one ``/`` (Go keeps an empty type,
    ``/x``), q-sorted except where a wildcard loses to a concrete type."""
    clauses = parse_accept(header)
    for c in clauses:
        assert "/" not in c.type and "/" not in c.subtype and "," not in c.subtype
    for a, b in itertools.pairwise(clauses):
        assert a.q >= b.q or (a.type != "*" and b.type == "*") or (a.subtype != "*" and b.subtype == "*")

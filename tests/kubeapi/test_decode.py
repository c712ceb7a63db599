"""kubeapi.decode: JSON/YAML bodies as kube-apiserver reads them (sigs.k8s.io/yaml over yaml.v2),
its limits (3 MiB, depth, alias expansion) and error texts."""

from __future__ import annotations

import json

import pytest
from hypothesis import given
from hypothesis import strategies as st

from kubeapi import decode
from kubeapi.decode import DecodeError, DecodeLimits, decode_json, decode_yaml, resolve_plain
from kubeapi.status import StatusError


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("yes", True),
        ("Y", True),
        ("on", True),
        ("No", False),
        ("OFF", False),
        ("~", None),
        ("null", None),
        ("", None),
        ("0777", 511),
        ("0o17", 15),
        ("0x1F", 31),
        ("0b101", 5),
        ("-0b11", -3),
        ("1_000", 1000),
        ("+5", 5),
        ("08", 8.0),  # not octal, so yaml.v2's float regex takes it
        ("1e3", 1000.0),
        (".5", 0.5),
        ("1.", 1.0),
        ("18446744073709551615", 18446744073709551615),  # uint64
        ("18446744073709551616", 1.8446744073709552e19),
        ("2001-12-14", "2001-12-14"),  # timestamps stay strings for interface{}
        ("12:30", "12:30"),  # no YAML 1.1 sexagesimal in yaml.v2
        ("0x", "0x"),
        ("true_", "true_"),
        ("tRUE", "tRUE"),
        (".x", ".x"),
    ],
)
def test_resolve_plain_is_yaml_v2(text: str, value: object) -> None:
    got = resolve_plain(text)
    assert got == value and type(got) is type(value)


def test_yaml_document() -> None:
    doc = b"""
apiVersion: ray.io/v1
kind: RayCluster
metadata:
  name: x
  labels: {env: prod, 'n': "1"}
spec:
  rayVersion: '2.52.0'
  suspend: no
  headGroupSpec:
    rayStartParams: {}
    ports: [8265, 0x10]
"""
    assert decode_yaml(doc) == {
        "apiVersion": "ray.io/v1",
        "kind": "RayCluster",
        "metadata": {"name": "x", "labels": {"env": "prod", "n": "1"}},
        "spec": {
            "rayVersion": "2.52.0",
            "suspend": False,
            "headGroupSpec": {"rayStartParams": {}, "ports": [8265, 16]},
        },
    }


@pytest.mark.parametrize(
    ("text", "value"),
    [
        (b"", None),
        (b"a: 1\n---\nb: 2\n", {"a": 1}),  # the first document only
        (
            b"1: a\ntrue: b\n1.5: c\n1e6: d\nn: e\n",
            {"1": "a", "true": "b", "1.5": "c", "1e+06": "d", "false": "e"},
        ),
        (b"base: &b {x: 1}\nd:\n  <<: *b\n  z: 2\n", {"base": {"x": 1}, "d": {"x": 1, "z": 2}}),
        (b"a: &x [1]\nb: *x\n", {"a": [1], "b": [1]}),
        (b"a: &x 1\nb: &x 2\nc: *x\n", {"a": 1, "b": 2, "c": 2}),  # yaml.v2: the later anchor wins
        (b"!!binary aGVsbG8=", "hello"),
        (b"k: !!str 123", {"k": "123"}),
        (b"- 'yes'\n- \"on\"\n", ["yes", "on"]),
    ],
)
def test_yaml_values(text: bytes, value: object) -> None:
    assert decode_yaml(text) == value


def test_aliases_do_not_share_objects() -> None:
    got = decode_yaml(b"a: &x {k: [1]}\nb: *x\n")
    assert got["a"] == got["b"] and got["a"] is not got["b"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b"a: *nope\n", "yaml: unknown anchor 'nope' referenced"),
        (b"a: &a\n  b: *a\n", "yaml: anchor 'a' value contains itself"),
        (b"a: .nan\n", "json: unsupported value: NaN"),
        (b"a: -.inf\n", "json: unsupported value: -Inf"),
        (b"a: b: c\n", "yaml: mapping values are not allowed in this context"),
        (b"a:\n  b: 1\n c: 2\n", "yaml: line 2: did not find expected key"),
        (b"a: \x01", "yaml: control characters are not allowed"),
        (b"a: \xff", "yaml: invalid leading UTF-8 octet"),
    ],
)
def test_yaml_errors(text: bytes, message: str) -> None:
    with pytest.raises(DecodeError) as e:
        decode_yaml(text)
    assert str(e.value) == message


def billion_laughs(levels: int, width: int = 10) -> bytes:
    lines = ["l0: &l0 [" + ",".join(["lol"] * width) + "]"]
    for i in range(1, levels):
        lines.append(f"l{i}: &l{i} [" + ",".join([f"*l{i - 1}"] * width) + "]")
    return ("\n".join(lines) + "\n").encode()


def test_excessive_aliasing_refused_before_expansion() -> None:
    with pytest.raises(DecodeError, match=r"^yaml: document contains excessive aliasing$"):
        decode_yaml(billion_laughs(9))  # 10^9 nodes if expanded


def test_modest_aliasing_allowed() -> None:
    """yaml.v2 lets small documents expand (ratio <= 0.99, or under 100 alias nodes)."""
    got = decode_yaml(billion_laughs(2))
    assert got["l1"] == [["lol"] * 10] * 10
    assert len(json.dumps(decode_yaml(billion_laughs(3)))) > 1000


def test_alias_check_can_be_turned_off() -> None:
    assert decode_yaml(billion_laughs(3), DecodeLimits(check_aliases=False))["l2"][9][9][9] == "lol"


def test_depth_limits() -> None:
    with pytest.raises(DecodeError, match=r"^yaml: exceeded max depth of 10000$"):
        decode_yaml(b"[" * 20000 + b"]" * 20000)
    deep_block = b"".join(b"  " * i + b"a:\n" for i in range(900)) + b"  " * 900 + b"1\n"
    assert decode_yaml(deep_block)["a"]["a"]["a"]  # no recursion limit below libyaml's 1000
    with pytest.raises(DecodeError, match=r"^yaml: line 1000: exceeded max depth of 10000$"):
        decode_yaml(b"".join(b"  " * i + b"a:\n" for i in range(1001)) + b"  " * 1001 + b"1\n")
    with pytest.raises(DecodeError, match=r"^yaml: exceeded max depth of 5$"):
        decode_yaml(b"a: [[[[[[1]]]]]]", DecodeLimits(max_depth=5))
    assert decode_yaml(b"a: [[[[1]]]]", DecodeLimits(max_depth=5)) == {"a": [[[[1]]]]}
    with pytest.raises(DecodeError, match=r"^invalid character '\[' exceeded max depth$"):
        decode_json(b"[" * 20000 + b"]" * 20000)
    # Go names the opener that goes past the limit (here the fourth, a '['), not the first.
    with pytest.raises(DecodeError, match=r"^invalid character '\[' exceeded max depth$"):
        decode_json(b'{"a":[[[[[1]]]]]}', DecodeLimits(max_depth=3))
    assert decode_json(b'{"a":[1]}', DecodeLimits(max_depth=2)) == {"a": [1]}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (b"", "unexpected end of JSON input"),
        (b"{", "unexpected end of JSON input"),
        (b"x", "invalid character 'x' looking for beginning of value"),
        (b'{"a" 1}', "invalid character '1' after object key"),
        (b'{"a":1 "b"}', "invalid character '\"' after object key:value pair"),
        (b"{'a':1}", "invalid character '\\'' looking for beginning of object key string"),
        (b"{} x", "invalid character 'x' after top-level value"),
    ],
)
def test_json_errors_are_go_texts(text: bytes, message: str) -> None:
    with pytest.raises(DecodeError) as e:
        decode_json(text)
    assert str(e.value) == message


def test_size_limit_is_the_413_status() -> None:
    decode.check_size(decode.MAX_BODY_BYTES)
    with pytest.raises(StatusError) as e:
        decode.decode(b"x" * (decode.MAX_BODY_BYTES + 1), "application/json")
    assert (e.value.code, e.value.reason, e.value.message) == (
        413,
        "RequestEntityTooLarge",
        "Request entity too large: limit is 3145728",
    )
    with pytest.raises(StatusError, match="limit is 10"):
        decode.decode(b"{}" * 6, "application/json", DecodeLimits(max_bytes=10))


def test_decode_dispatches_on_media_type() -> None:
    assert decode.decode(b"a: yes", "application/yaml") == {"a": True}
    assert decode.decode(b"a: yes", "application/apply-patch+yaml") == {"a": True}
    with pytest.raises(DecodeError):
        decode.decode(b"a: yes", "application/json")


def test_unrecognized_and_summary() -> None:
    err = decode.unrecognized("RayCluster", "boom", b'{"kind": "x", "spec": {"a": "bbbbbbbbbbbbbbb"}}')
    assert err.code == 400 and err.message == (
        "the object provided is unrecognized (must be of type RayCluster): boom "
        '({"kind": "x", "spec": {"a": "b ...)'
    )
    assert decode.summarize(b"") == "<empty>"
    assert decode.summarize(b"ab") == "6162"


# Text YAML can carry: no surrogates or control characters (go-yaml and libyaml refuse both).
texts = st.text(
    alphabet=st.characters(
        whitelist_categories=("L", "N", "P", "S", "Zs"), blacklist_characters="\x7f\x85\u2028\u2029\ufeff"
    ),
    max_size=8,
)
json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | texts,
    lambda children: st.lists(children, max_size=3) | st.dictionaries(texts, children, max_size=3),
    max_leaves=10,
)


@given(json_values)
def test_json_documents_read_the_same_as_yaml(value: object) -> None:
    """JSON is YAML: a JSON body decodes to the same value through either decoder."""
    text = json.dumps(value, ensure_ascii=False).encode()
    assert decode_json(text) == value
    assert decode_yaml(text) == value

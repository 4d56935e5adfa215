"""``adapters.jsonl``: ``iter_jsonl``, the one JSON-lines reader behind labels.jsonl,
analyze's ``read_events`` and ingest's events.jsonl check, and ``read_json``, the one
whole-file JSON reader (replay detections, speed zones, viagem.json, analyze outputs)."""

from __future__ import annotations

import json
import string
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from saferoad.adapters.jsonl import JsonLine, iter_jsonl, read_json

json_scalars = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(10**9), 10**9),
    st.floats(allow_nan=False, allow_infinity=False),
    st.text(max_size=8),
)
json_objects = st.dictionaries(
    st.text(max_size=6),
    st.recursive(json_scalars, lambda inner: st.lists(inner, max_size=3), max_leaves=5),
    max_size=5,
)
# a line is an object (True) or a blank line (False, whitespace only)
layouts = st.lists(
    st.one_of(
        json_objects.map(lambda o: (True, o)),
        st.sampled_from([" ", "\t", ""]).map(lambda w: (False, w)),
    ),
    max_size=10,
)


def _write(path: Path, layout: list[tuple[bool, Any]]) -> list[tuple[int, dict[str, Any]]]:
    """Write the layout; return the (line number, object) pairs a reader must give back."""
    want = []
    text = []
    for lineno, (is_obj, item) in enumerate(layout, 1):
        if is_obj:
            text.append(json.dumps(item))
            want.append((lineno, item))
        else:
            text.append(item)
    path.write_text("".join(t + "\n" for t in text), encoding="utf-8")
    return want


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(layout=layouts)
def test_objects_come_back_with_their_line_numbers(
    layout: list[tuple[bool, Any]], tmp_path: Path
) -> None:
    path = tmp_path / "x.jsonl"
    want = _write(path, layout)
    got = list(iter_jsonl(path))
    assert [(g.line, g.data) for g in got] == want
    assert [g.where for g in got] == [f"{path}:{n}" for n, _ in want]


@settings(
    max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    prefix=st.lists(json_objects, max_size=4),
    junk=st.text(string.printable, min_size=1).filter(
        lambda s: s.strip() and "\n" not in s and "\r" not in s
    ),
)
def test_any_line_is_an_object_or_an_error_naming_its_line(
    prefix: list[dict[str, Any]], junk: str, tmp_path: Path
) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text("".join(json.dumps(o) + "\n" for o in prefix) + junk + "\n", encoding="utf-8")
    try:
        got = list(iter_jsonl(path))
    except ValueError as err:
        assert str(err).startswith(f"{path}:{len(prefix) + 1}: ")
    else:
        assert len(got) == len(prefix) + 1
        assert got[-1] == JsonLine(len(prefix) + 1, f"{path}:{len(prefix) + 1}", json.loads(junk))


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{oops", r"x\.jsonl:2: not valid JSON \(Expecting property name .*, column 2\)"),
        ('{"a": 1', r"x\.jsonl:2: not valid JSON"),
        ('{"a": 1} {"b": 2}', r"x\.jsonl:2: not valid JSON \(Extra data, column 10\)"),
        ("NaN-ish", r"x\.jsonl:2: not valid JSON"),
        ("[1, 2]", r"x\.jsonl:2: expected a JSON object, got list"),
        ('"text"', r"x\.jsonl:2: expected a JSON object, got str"),
        ("3.5", r"x\.jsonl:2: expected a JSON object, got float"),
        ("null", r"x\.jsonl:2: expected a JSON object, got NoneType"),
        ("true", r"x\.jsonl:2: expected a JSON object, got bool"),
    ],
)
def test_malformed_line_names_file_and_line(line: str, message: str, tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text('{"ok": 1}\n' + line + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=message):
        list(iter_jsonl(path))


def test_objects_before_a_bad_line_are_yielded_first(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text('{"a": 1}\n\n{"b": 2}\n[3]\n', encoding="utf-8")
    it = iter_jsonl(path)
    assert next(it) == JsonLine(1, f"{path}:1", {"a": 1})
    assert next(it) == JsonLine(3, f"{path}:3", {"b": 2})
    with pytest.raises(ValueError, match=r"x\.jsonl:4: expected a JSON object, got list"):
        next(it)


def test_the_caller_chooses_the_error_type(tmp_path: Path) -> None:
    class BadOutput(ValueError):
        pass

    path = tmp_path / "x.jsonl"
    path.write_text("{oops\n", encoding="utf-8")
    with pytest.raises(BadOutput, match=r"x\.jsonl:1: not valid JSON"):
        list(iter_jsonl(path, error=BadOutput))


def test_empty_and_blank_files_yield_nothing(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text("", encoding="utf-8")
    assert list(iter_jsonl(path)) == []
    path.write_text("\n  \n\t\n", encoding="utf-8")
    assert list(iter_jsonl(path)) == []


def test_crlf_and_missing_final_newline(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_bytes(b'{"a": 1}\r\n{"b": 2}')
    assert [(g.line, g.data) for g in iter_jsonl(path)] == [(1, {"a": 1}), (2, {"b": 2})]


def test_missing_file_is_file_not_found(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        list(iter_jsonl(tmp_path / "none.jsonl"))


json_values = st.recursive(
    json_scalars,
    lambda inner: st.one_of(st.lists(inner, max_size=3), st.dictionaries(st.text(max_size=4), inner, max_size=3)),
    max_leaves=8,
)


@settings(suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(value=json_values, indent=st.sampled_from([None, 2]))
def test_read_json_gives_back_any_value(tmp_path: Path, value: Any, indent: int | None) -> None:
    path = tmp_path / "v.json"
    path.write_text(json.dumps(value, indent=indent), encoding="utf-8")
    assert read_json(path) == value


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{\n  "a": 1,\n  oops\n}', r"v\.json:3: not valid JSON \(Expecting property name .*, column 3\)"),
        (b"", r"v\.json:1: not valid JSON \(Expecting value, column 1\)"),
        (b'{"a": 1} trailing', r"v\.json:1: not valid JSON \(Extra data, column 10\)"),
        (b'{"a": "\xff"}', r"v\.json: not UTF-8 text \(invalid start byte\)"),
    ],
)
def test_read_json_malformed_names_file_and_line(tmp_path: Path, data: bytes, message: str) -> None:
    path = tmp_path / "v.json"
    path.write_bytes(data)
    with pytest.raises(ValueError, match=message):
        read_json(path)


def test_read_json_missing_file_and_the_callers_error(tmp_path: Path) -> None:
    class BadOutput(ValueError):
        pass

    with pytest.raises(ValueError, match=r"nope\.json: missing$"):
        read_json(tmp_path / "nope.json")
    with pytest.raises(BadOutput, match=r"nope\.json: not an output"):
        read_json(tmp_path / "nope.json", error=BadOutput, missing="not an output")

"""Dataset manifests: resolution of paths and globs, and one test per malformed case."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from saferoad.application.evaluation.manifest import (
    ManifestError,
    parse_manifest,
    resolve_manifest,
)


def _folders(root: Path, *names: str) -> None:
    for n in names:
        (root / n).mkdir(parents=True, exist_ok=True)
        (root / n / "meta.toml").write_text("[recording]\nstart_utc = 2026-11-20T08:00:00Z\n")


def _write(root: Path, text: str) -> Path:
    p = root / "m.yaml"
    p.write_text(text, encoding="utf-8")
    return p


def test_paths_globs_defaults_and_ids(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _folders(tmp_path, "sim/a", "sim/b", "real/x")
    outside = tmp_path.parent / f"{tmp_path.name}-outside"
    _folders(outside, "drive1")
    monkeypatch.setenv("EVAL_OUTSIDE", str(outside))
    m = _write(
        tmp_path,
        """
name: t
defaults: {split: val, tags: [fleet]}
recordings:
  - path: sim/*
    tags: [sim]
  - path: real/x
    id: X
    split: test
    labels: labels/{name}.jsonl
    boxes: none
  - path: ${EVAL_OUTSIDE}/drive1
""",
    )
    ds = resolve_manifest(m)
    assert ds.name == "t"
    assert [i.id for i in ds.items] == ["sim/a", "sim/b", "X", "drive1"]
    a, _, x, d = ds.items
    assert a.split == "val" and a.tags == ("fleet", "sim") and a.labels == "auto" and a.boxes == "auto"
    assert x.split == "test" and x.labels == tmp_path / "labels" / "x.jsonl" and x.boxes is None
    assert d.path == (outside / "drive1").resolve() and d.entry == 2


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("recordings: [{path: a, colour: red}]", r"recordings\[0\]\.colour: unknown key"),
        ("recordings: []", r"recordings: List should have at least 1 item"),
        ("recordings: [{id: x}]", r"recordings\[0\]\.path: Field required"),
        ("version: 2\nrecordings: [{path: a}]", r"version: Input should be 1"),
        ("recordings: [{path: a, split: 'bad split'}]", r"recordings\[0\]\.split"),
        ("recordings: [{path: a, tags: 3}]", r"recordings\[0\]\.tags"),
        ("- just\n- a list\n", r"a YAML mapping"),
        ("recordings: [{path: a}\n  bad: [", r"line \d+ not valid YAML"),
    ],
)
def test_malformed_manifest_names_file_and_entry(tmp_path: Path, text: str, match: str) -> None:
    _folders(tmp_path, "a")
    m = _write(tmp_path, text)
    with pytest.raises(ManifestError, match=match) as err:
        resolve_manifest(m)
    assert str(m) in str(err.value)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("recordings: [{path: a}, {path: missing}]", r"recordings\[1\]\.path: .*missing does not exist"),
        ("recordings: [{path: 'nothing-*'}]", r"recordings\[0\]\.path: glob 'nothing-\*' matches no folder"),
        ("recordings: [{path: 'a*', id: x}]", r"recordings\[0\]\.id: an id needs a single path"),
        ("recordings: [{path: a, id: x}, {path: b, id: x}]", r"recordings\[1\]: recording id 'x' already used by recordings\[0\]"),
        ("recordings: [{path: '${EVAL_SURELY_UNSET_VAR}/a'}]", r"recordings\[0\]\.path: environment variable EVAL_SURELY_UNSET_VAR is not set"),
    ],
)
def test_unresolvable_entries_are_named(tmp_path: Path, text: str, match: str) -> None:
    _folders(tmp_path, "a", "b")
    with pytest.raises(ManifestError, match=match):
        resolve_manifest(_write(tmp_path, text))


def test_missing_and_non_utf8_manifest(tmp_path: Path) -> None:
    with pytest.raises(ManifestError, match="manifest not found"):
        resolve_manifest(tmp_path / "nope.yaml")
    p = tmp_path / "bin.yaml"
    p.write_bytes(b"\xff\xfe\x00bad")
    with pytest.raises(ManifestError, match="not UTF-8"):
        resolve_manifest(p)


_name = st.text(alphabet="abcdefghijklmnopqrstuvwxyz0123456789_-", min_size=1, max_size=8)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    names=st.lists(_name, min_size=1, max_size=6, unique=True),
    split=st.sampled_from(["train", "val", "test"]),
    tags=st.lists(_name, max_size=3),
)
def test_property_glob_finds_every_folder_once(tmp_path_factory: pytest.TempPathFactory, names: list[str], split: str, tags: list[str]) -> None:
    root = tmp_path_factory.mktemp("m")
    _folders(root, *[f"d/{n}" for n in names])
    m = _write(root, f"recordings:\n  - path: d/*\n    split: {split}\n    tags: {tags!r}\n")
    ds = resolve_manifest(m)
    assert sorted(i.id for i in ds.items) == sorted(f"d/{n}" for n in names)
    assert all(i.split == split and i.tags == tuple(dict.fromkeys(tags)) for i in ds.items)


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=200))
def test_property_arbitrary_text_is_a_manifest_or_a_named_error(text: str) -> None:
    src = Path("fuzz.yaml")
    try:
        parse_manifest(text, src)
    except ManifestError as err:
        assert str(err).startswith("fuzz.yaml")

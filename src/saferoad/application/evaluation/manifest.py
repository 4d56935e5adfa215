"""Dataset manifests: which recordings an evaluation replays, where their labels are, and
how they are tagged and split.

A manifest is a YAML file (schema in docs/evaluation.md)::

    version: 1
    name: release-check
    defaults: {split: test, tags: [fleet]}
    recordings:
      - path: ${SAFEROAD_SHARED}/data/imu/driver-behavior-dataset/trip17
        id: dbd-trip17
        tags: [real, phone]
      - path: sim/trip-*            # a glob, relative to the manifest's folder
        tags: [simulated]
        split: train
      - path: drives/d1
        labels: labels/d1.jsonl     # labels.jsonl or groundTruth.csv; default: what the reader finds
        boxes: none                 # no box labels even if the recording has detections.json

Paths are relative to the manifest's folder; ``${VAR}`` and ``~`` are expanded. Errors name the
manifest file, the entry (``recordings[3]``) and the field.
"""

from __future__ import annotations

import glob
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

MANIFEST_VERSION = 1
_GLOB_CHARS = re.compile(r"[*?\[]")
_VAR = re.compile(r"\$\{?([A-Za-z_][A-Za-z0-9_]*)\}?")
_SPLIT = re.compile(r"^[A-Za-z0-9_.-]+$")


class ManifestError(ValueError):
    """A manifest that cannot be used; the message names the file and the entry."""


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class EntryDefaults(_Model):
    """Values every entry gets unless it sets its own."""

    split: str = Field("test", description="Split of the recordings (train, val, test ...).")
    tags: list[str] = Field(default_factory=list, description="Tags added to every entry.")


class ManifestEntry(_Model):
    """One recording, or a glob of recordings."""

    path: str = Field(description="Recording folder, or a glob of folders, relative to the manifest.")
    id: str | None = Field(
        None, description="Unique id (single recordings only); default: the path relative to the manifest."
    )
    split: str | None = Field(None, description="Split; default from `defaults.split`.")
    tags: list[str] | dict[str, Any] = Field(
        default_factory=list,
        description="Tags, added to `defaults.tags`: a list of strings, or a mapping whose scalar values become `key=value` tags (a list value gives one tag per element), as simulate-fleet writes.",
    )
    labels: str = Field(
        "auto",
        description="Event labels: `auto` (what the reader finds), `none`, or a labels file (labels.jsonl or groundTruth.csv); `{name}` is the recording folder's name.",
    )
    boxes: str = Field(
        "auto",
        description="Box labels: `auto` (the recording's detections.json), `none`, or a path (detections.json or MOT gt.txt); `{name}` as for labels.",
    )

    @field_validator("tags")
    @classmethod
    def _tags_ok(cls, v: list[str] | dict[str, Any]) -> list[str] | dict[str, Any]:
        if isinstance(v, dict):
            for k, x in v.items():
                items = x if isinstance(x, list) else [x]
                if not all(isinstance(i, str | int | float | bool) for i in items):
                    raise ValueError(f"tag {k!r}: values must be scalars or lists of scalars")
        return v

    def tag_list(self) -> list[str]:
        if isinstance(self.tags, list):
            return list(self.tags)
        out: list[str] = []
        for k, x in self.tags.items():
            out += [f"{k}={i}" for i in (x if isinstance(x, list) else [x])]
        return out

    @field_validator("split")
    @classmethod
    def _split_ok(cls, v: str | None) -> str | None:
        if v is not None and not _SPLIT.match(v):
            raise ValueError("split must be letters, digits, '.', '_' or '-'")
        return v


class Manifest(_Model):
    """A dataset manifest (see the module docstring)."""

    version: Literal[1] = Field(1, description="Manifest schema version.")
    name: str = Field("dataset", description="Name shown in reports.")
    description: str = Field("", description="Free text.")
    defaults: EntryDefaults = Field(default_factory=EntryDefaults)
    recordings: list[ManifestEntry] = Field(min_length=1)
    # Provenance written by `saferoad simulate-fleet`.
    fleet: str | None = Field(None, description="Fleet id of simulated trips (simulate-fleet).")
    seed: int | None = Field(None, description="Seed the trips were simulated with (simulate-fleet).")
    trips: int | None = Field(None, description="Number of simulated trips (simulate-fleet).")
    week: str | None = Field(None, description="ISO week of simulated driver-weeks (simulate-fleet --mixed).")


@dataclass(frozen=True, slots=True)
class DatasetItem:
    """One recording of a resolved manifest."""

    id: str
    path: Path
    split: str
    tags: tuple[str, ...]
    entry: int
    """Index of the manifest entry it came from."""
    labels: Path | Literal["auto"] | None
    """``"auto"``: the reader's labels; ``None``: no labels; else a labels.jsonl file."""
    boxes: Path | Literal["auto"] | None


@dataclass(frozen=True, slots=True)
class Dataset:
    """A manifest with its globs expanded and paths resolved."""

    source: Path
    name: str
    items: tuple[DatasetItem, ...]

    def __len__(self) -> int:
        return len(self.items)


def _expand(text: str, source: Path, where: str) -> str:
    def repl(m: re.Match[str]) -> str:
        name = m.group(1)
        if name not in os.environ:
            raise ManifestError(f"{source}: {where}: environment variable {name} is not set")
        return os.environ[name]

    return os.path.expanduser(_VAR.sub(repl, text))


def _format_errors(source: Path, err: ValidationError) -> str:
    lines = [f"{source}: invalid manifest"]
    for e in err.errors():
        parts: list[str] = []
        for p in e["loc"]:
            if isinstance(p, int):
                parts[-1:] = [f"{parts[-1]}[{p}]" if parts else f"[{p}]"]
            else:
                parts.append(str(p))
        key = ".".join(parts) or "(root)"
        msg = "unknown key" if e["type"] == "extra_forbidden" else e["msg"]
        lines.append(f"  {key}: {msg}")
    return "\n".join(lines)


def parse_manifest(text: str, source: Path) -> Manifest:
    """Validate manifest text; errors name ``source`` and the entry."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f" line {mark.line + 1}" if mark is not None else ""
        raise ManifestError(f"{source}:{where} not valid YAML: {err}") from None
    if not isinstance(data, dict):
        raise ManifestError(f"{source}: a manifest is a YAML mapping with a `recordings` list")
    try:
        return Manifest.model_validate(data)
    except ValidationError as err:
        raise ManifestError(_format_errors(source, err)) from None


def load_manifest(path: Path) -> Manifest:
    # The manifest module already walks the file system itself (globs, existence checks); the
    # YAML file is read here too, with the same messages as adapters/jsonl.read_text.
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ManifestError(f"{path}: manifest not found") from None
    except UnicodeDecodeError as err:
        raise ManifestError(f"{path}: not UTF-8 text ({err.reason})") from None
    return parse_manifest(text, path)


def _resolve_spec(
    spec: str, name: str, base: Path, source: Path, where: str
) -> Path | Literal["auto"] | None:
    if spec == "auto":
        return "auto"
    if spec == "none":
        return None
    p = Path(_expand(spec.replace("{name}", name), source, where))
    return p if p.is_absolute() else (base / p)


def resolve_manifest(path: Path) -> Dataset:
    """Load ``path`` and expand it into recordings. A glob that matches nothing, a path that
    does not exist and a duplicate id are errors naming the entry."""
    manifest = load_manifest(path)
    base = path.resolve().parent
    items: list[DatasetItem] = []
    seen: dict[str, str] = {}
    for i, entry in enumerate(manifest.recordings):
        where = f"recordings[{i}]"
        raw = _expand(entry.path, path, f"{where}.path")
        pattern = raw if os.path.isabs(raw) else str(base / raw)
        if _GLOB_CHARS.search(raw):
            found = sorted(Path(p) for p in glob.glob(pattern) if Path(p).is_dir())
            if not found:
                raise ManifestError(f"{path}: {where}.path: glob {entry.path!r} matches no folder")
            if entry.id is not None:
                raise ManifestError(f"{path}: {where}.id: an id needs a single path, not a glob")
        else:
            p = Path(pattern)
            if not p.exists():
                raise ManifestError(f"{path}: {where}.path: {p} does not exist")
            found = [p]
        # Default ids: the path relative to the manifest's folder; outside it, relative to
        # the glob's fixed part (or the folder's name for a single path).
        m = _GLOB_CHARS.search(pattern)
        root = Path(os.path.dirname(pattern[: m.start()])) if m else found[0].parent
        for rec_path in found:
            rid = entry.id
            if rid is None:
                try:
                    rid = rec_path.resolve().relative_to(base).as_posix()
                except ValueError:
                    rid = rec_path.relative_to(root).as_posix() if rec_path.is_relative_to(root) else rec_path.name
            if rid in seen:
                raise ManifestError(
                    f"{path}: {where}: recording id {rid!r} already used by {seen[rid]}"
                )
            seen[rid] = where
            name = rec_path.name
            items.append(
                DatasetItem(
                    id=rid,
                    path=rec_path.resolve(),
                    split=entry.split or manifest.defaults.split,
                    tags=tuple(dict.fromkeys([*manifest.defaults.tags, *entry.tag_list()])),
                    entry=i,
                    labels=_resolve_spec(entry.labels, name, base, path, f"{where}.labels"),
                    boxes=_resolve_spec(entry.boxes, name, base, path, f"{where}.boxes"),
                )
            )
    return Dataset(source=path.resolve(), name=manifest.name, items=tuple(items))

"""saferoad's configuration: one TOML file, validated by pydantic.

Every threshold has a documented default (see docs/config.md, generated from these models by
``saferoad config docs``). An unknown key or a bad value is a :class:`ConfigError` that names
the file and the dotted key.
"""

from __future__ import annotations

import hashlib
import json
import tomllib
from pathlib import Path
from typing import Any

from pydantic import Field, SerializeAsAny, ValidationError, field_validator

from saferoad.config.base import Section
from saferoad.config.cabin import CabinConfig, default_cabin, parse_cabin
from saferoad.config.edge import EdgeConfig
from saferoad.config.evaluation import EvaluationConfig
from saferoad.config.inference import InferenceConfig
from saferoad.config.input import InputConfig
from saferoad.config.lanes import LanesConfig
from saferoad.config.motion import MotionConfig, default_motion, parse_motion
from saferoad.config.perception import PerceptionConfig, default_perception
from saferoad.config.road_events import RoadEventsConfig, default_road_events, parse_road_events
from saferoad.config.scoring import ScoringConfig
from saferoad.config.store import StoreConfig
from saferoad.config.web import WebConfig


def config_hash(data: dict[str, Any]) -> str:
    """The stable hash every config fingerprint uses (the whole config's, analyze's subset,
    the scoring section's): SHA-256 of the sorted-key JSON, 16 hex digits."""
    return hashlib.sha256(json.dumps(data, sort_keys=True).encode()).hexdigest()[:16]

class SaferoadConfig(Section):
    """The whole configuration. Each table of the TOML file is one section."""

    motion: SerializeAsAny[MotionConfig] = Field(default_factory=default_motion, description=MotionConfig.__doc__)
    perception: PerceptionConfig = Field(
        default_factory=default_perception, description=PerceptionConfig.__doc__
    )
    inference: InferenceConfig = Field(
        default_factory=InferenceConfig, description=InferenceConfig.__doc__
    )
    road_events: SerializeAsAny[RoadEventsConfig] = Field(
        default_factory=default_road_events, description=RoadEventsConfig.__doc__
    )
    cabin: SerializeAsAny[CabinConfig] = Field(default_factory=default_cabin, description=CabinConfig.__doc__)
    lanes: LanesConfig = Field(default_factory=LanesConfig, description=LanesConfig.__doc__)
    scoring: ScoringConfig = Field(default_factory=ScoringConfig, description=ScoringConfig.__doc__)
    store: StoreConfig = Field(default_factory=StoreConfig, description=StoreConfig.__doc__)
    evaluation: EvaluationConfig = Field(
        default_factory=EvaluationConfig, description=EvaluationConfig.__doc__
    )
    edge: EdgeConfig = Field(default_factory=EdgeConfig, description=EdgeConfig.__doc__)
    web: WebConfig = Field(default_factory=WebConfig, description=WebConfig.__doc__)
    input: InputConfig = Field(default_factory=InputConfig, description=InputConfig.__doc__)

    @field_validator("motion", mode="before")
    @classmethod
    def _motion(cls, value: object) -> MotionConfig:
        """The engine's keys and every other registered motion rule's params, checked by the
        model derived from them (config/motion.py)."""
        return parse_motion(value)

    @field_validator("cabin", mode="before")
    @classmethod
    def _cabin(cls, value: object) -> CabinConfig:
        """The section's keys, the monitor's thresholds and every registered cabin rule's
        params, checked by the model derived from them (config/cabin.py)."""
        return parse_cabin(value)

    @field_validator("road_events", mode="before")
    @classmethod
    def _road_events(cls, value: object) -> RoadEventsConfig:
        """The stage's keys and the registered road rules' params, checked by the model
        derived from them (config/road_events.py)."""
        return parse_road_events(value)

    def fingerprint(self) -> str:
        """A stable hash of the effective config (for caches and run records)."""
        return config_hash(self.model_dump(mode="json"))


class ConfigError(ValueError):
    """A config file that cannot be used; the message names the file and the key."""


def _format_errors(source: str, err: ValidationError) -> str:
    lines = [f"{source}: invalid configuration"]
    for e in err.errors():
        key = ".".join(str(p) for p in e["loc"]) or "(root)"
        if e["type"] == "extra_forbidden":
            lines.append(f"  {key}: unknown key")
        else:
            lines.append(f"  {key}: {e['msg']} (got {e.get('input')!r})")
    return "\n".join(lines)


def config_from_dict(data: dict[str, Any], source: str = "<config>") -> SaferoadConfig:
    try:
        return SaferoadConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError(_format_errors(source, err)) from None


def load_config(path: str | Path | None = None, overrides: dict[str, Any] | None = None) -> SaferoadConfig:
    """Defaults, updated by the TOML file at ``path`` (if any; a ``str`` or a ``Path``), then by
    ``overrides`` (a nested dict, for ``--set section.key=value`` style options)."""
    data: dict[str, Any] = {}
    source = "<defaults>"
    if path is not None:
        path = Path(path)
        source = str(path)
        try:
            text = path.read_text(encoding="utf-8")
        except FileNotFoundError:
            raise ConfigError(f"{path}: config file not found") from None
        try:
            data = tomllib.loads(text)
        except tomllib.TOMLDecodeError as err:
            raise ConfigError(f"{path}: not valid TOML: {err}") from None
    if overrides:
        data = _deep_merge(data, overrides)
    return config_from_dict(data, source)


def _deep_merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for k, v in b.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _deep_merge(out[k], v)
        else:
            out[k] = v
    return out


def parse_assignments(items: list[str]) -> dict[str, Any]:
    """Turn ``["motion.braking_g=0.4", ...]`` into a nested dict; values parse as TOML
    scalars where they can (numbers, booleans, arrays), else stay strings."""
    out: dict[str, Any] = {}
    for item in items:
        if "=" not in item:
            raise ConfigError(f"--set {item!r}: expected KEY=VALUE")
        key, raw = item.split("=", 1)
        try:
            value = tomllib.loads(f"v = {raw}")["v"]
        except tomllib.TOMLDecodeError:
            value = raw
        set_dotted(out, key.strip(), value)
    return out


def set_dotted(tree: dict[str, Any], key: str, value: Any) -> None:
    """Put ``value`` at ``section.key`` (any depth) in a nested dict of overrides; a key that
    is already a value cannot also be a section."""
    *parents, leaf = key.split(".")
    node = tree
    for i, part in enumerate(parents):
        child = node.setdefault(part, {})
        if not isinstance(child, dict):
            raise ConfigError(f"--set {key}: {'.'.join(parents[: i + 1])!r} is a value, not a section")
        node = child
    node[leaf] = value


def to_toml(cfg: SaferoadConfig) -> str:
    """The effective config as TOML (what ``saferoad config show`` prints)."""
    return _dump_toml(cfg.model_dump(mode="json"))


def _toml_value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int | float):
        return repr(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{ " + ", ".join(f"{k} = {_toml_value(x)}" for k, x in v.items()) + " }"
    raise TypeError(f"cannot write {type(v).__name__} as TOML")


def _dump_toml(data: dict[str, Any], prefix: str = "") -> str:
    scalars = [(k, v) for k, v in data.items() if not isinstance(v, dict) and v is not None]
    unset = [k for k, v in data.items() if v is None]
    tables = [(k, v) for k, v in data.items() if isinstance(v, dict)]
    lines = [f"{k} = {_toml_value(v)}" for k, v in scalars]
    lines += [f"# {k} = (unset)" for k in unset]
    out = "\n".join(lines)
    for k, v in tables:
        name = f"{prefix}{k}"
        body = _dump_toml(v, name + ".").strip("\n")
        out += f"\n\n[{name}]" + (f"\n{body}" if body else "")
    return out.strip("\n") + "\n"


__all__ = [
    "ConfigError",
    "SaferoadConfig",
    "Section",
    "config_from_dict",
    "config_hash",
    "load_config",
    "parse_assignments",
    "to_toml",
]

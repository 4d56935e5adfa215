"""Scenario parameters: declared with a default, a unit and a description; set from the
command line as ``--set key=value`` and checked against the declaration."""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

Value = float | int | bool | str

_KEY = re.compile(r"^[a-z][a-z0-9_]*(\.[a-z][a-z0-9_]*)?$")
_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


@dataclass(frozen=True, slots=True)
class Param:
    """One documented parameter. ``choices`` restricts a string parameter."""

    name: str
    default: Value
    unit: str
    description: str
    choices: tuple[str, ...] = ()

    @property
    def kind(self) -> str:
        return type(self.default).__name__


def split_assignment(item: str) -> tuple[str, str]:
    """``"key=value"`` into ``(key, raw value)``; the key must look like ``name`` or
    ``group.name`` (lower case, digits, underscores)."""
    if "=" not in item:
        raise ValueError(f"--set {item!r}: expected KEY=VALUE")
    key, raw = item.split("=", 1)
    key = key.strip()
    if not _KEY.match(key):
        raise ValueError(f"--set {item!r}: bad key {key!r} (expected name or group.name, lower case)")
    return key, raw.strip()


def coerce(param: Param, raw: str) -> Value:
    """Parse ``raw`` as the type of ``param``'s default; errors name the parameter."""
    name = param.name
    d = param.default
    if isinstance(d, bool):
        low = raw.lower()
        if low in _TRUE:
            return True
        if low in _FALSE:
            return False
        raise ValueError(f"--set {name}={raw!r}: expected true or false")
    if isinstance(d, int):
        try:
            return int(raw)
        except ValueError:
            raise ValueError(f"--set {name}={raw!r}: expected an integer") from None
    if isinstance(d, float):
        try:
            x = float(raw)
        except ValueError:
            raise ValueError(f"--set {name}={raw!r}: expected a number ({param.unit})") from None
        if not math.isfinite(x):
            raise ValueError(f"--set {name}={raw!r}: expected a finite number")
        return x
    if param.choices and raw not in param.choices:
        raise ValueError(f"--set {name}={raw!r}: expected one of {', '.join(param.choices)}")
    return raw


def resolve(
    params: Sequence[Param], assignments: Iterable[str], *, context: str = "scenario"
) -> dict[str, Value]:
    """Defaults of ``params`` updated by ``assignments`` (``key=value`` strings). An unknown
    key is an error that lists the known ones."""
    by_name = {p.name: p for p in params}
    out: dict[str, Value] = {p.name: p.default for p in params}
    for item in assignments:
        key, raw = split_assignment(item)
        if key not in by_name:
            known = ", ".join(sorted(by_name))
            raise ValueError(f"--set {key}: unknown {context} parameter (known: {known})")
        out[key] = coerce(by_name[key], raw)
    return out


class Params:
    """Typed read access to resolved parameter values."""

    def __init__(self, values: Mapping[str, Value]) -> None:
        self._v = dict(values)

    def f(self, name: str) -> float:
        v = self._v[name]
        if isinstance(v, bool) or not isinstance(v, int | float):
            raise TypeError(f"parameter {name} is not a number")
        return float(v)

    def i(self, name: str) -> int:
        v = self._v[name]
        if isinstance(v, bool) or not isinstance(v, int):
            raise TypeError(f"parameter {name} is not an integer")
        return v

    def b(self, name: str) -> bool:
        v = self._v[name]
        if not isinstance(v, bool):
            raise TypeError(f"parameter {name} is not a boolean")
        return v

    def s(self, name: str) -> str:
        v = self._v[name]
        if not isinstance(v, str):
            raise TypeError(f"parameter {name} is not a string")
        return v

    def as_dict(self) -> dict[str, Value]:
        return dict(self._v)

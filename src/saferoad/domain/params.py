"""Parameters declared once, in the domain: a params dataclass's field carries its default,
its description and its bounds (:func:`param`), and the config section of the same names is
derived from it (``config/road_events.py``), so no hand-written twin has to be kept in step.

Pure: ``dataclasses`` metadata only; the config layer turns it into pydantic fields.
"""

from __future__ import annotations

import dataclasses
import typing
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")

_KEY = "saferoad.param"


@dataclass(frozen=True, slots=True)
class ParamInfo:
    """What the config needs to know about one parameter besides its default."""

    description: str
    """Shown in docs/config.md: what it is and where its default comes from."""
    gt: float | None = None
    ge: float | None = None
    lt: float | None = None
    le: float | None = None
    client: bool = True
    """A client of ``saferoad serve`` may set it per request (an event-rule threshold or
    switch); False for the server's own settings (rates, timeline limits)."""


def param(
    default: T, description: str, *, gt: float | None = None, ge: float | None = None,
    lt: float | None = None, le: float | None = None, client: bool = True,
) -> T:
    """A params dataclass field: ``x: float = param(0.7, "what it is", gt=0)``."""
    info = ParamInfo(description, gt, ge, lt, le, client)
    return dataclasses.field(default=default, metadata={_KEY: info})


def param_fields(cls: type[Any]) -> list[tuple[str, type[Any], Any, ParamInfo]]:
    """``(name, type, default, info)`` of each field of a params dataclass, in order; a field
    declared without :func:`param` is a ``ValueError`` naming the class and the field."""
    if not dataclasses.is_dataclass(cls):
        raise ValueError(f"{cls.__name__}: a params class must be a dataclass")
    hints = typing.get_type_hints(cls)
    out = []
    for f in dataclasses.fields(cls):
        info = f.metadata.get(_KEY)
        if not isinstance(info, ParamInfo):
            raise ValueError(f"{cls.__name__}.{f.name}: declare it with param(default, description)")
        out.append((f.name, hints[f.name], f.default, info))
    return out

"""Parameters declared once, in the domain: a params dataclass's field carries its default,
its description and its bounds (:func:`param`), and the config section of the same names is
derived from it (``config/road_events.py``, ``config/derive.py`` for ``[motion]`` and
``[cabin]``), so no hand-written twin has to be kept in step. A field holding another params
dataclass (:func:`group`) puts that class's parameters into the same flat section; the
section's values become params again by one generic conversion (:func:`params_from`).

Pure: ``dataclasses`` metadata only; the config layer turns it into pydantic fields.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, TypeVar

T = TypeVar("T")

_KEY = "saferoad.param"
_GROUP = "saferoad.param_group"


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
    config: bool = True
    """A key of the config section derived from the class (``config/derive.py``); False for a
    constant of the rules that no config sets, or a value the config gives in another form
    (a hand-written key: ``motion.mounting``, rows of floats for the engine's rotation array)."""


def param(
    default: T, description: str, *, gt: float | None = None, ge: float | None = None,
    lt: float | None = None, le: float | None = None, client: bool = True, config: bool = True,
) -> T:
    """A params dataclass field: ``x: float = param(0.7, "what it is", gt=0)``."""
    info = ParamInfo(description, gt, ge, lt, le, client, config)
    return dataclasses.field(default=default, metadata={_KEY: info})


def group(factory: Callable[[], T]) -> T:
    """A params dataclass field holding another params dataclass (at its defaults unless
    given): its parameters are keys of the same flat section, named as its fields
    (``harsh: HarshParams = group(HarshParams)``; :func:`flat_params`)."""
    return dataclasses.field(default_factory=factory, metadata={_GROUP: True})


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


def flat_params(cls: type[Any]) -> list[tuple[str, type[Any], Any, ParamInfo]]:
    """:func:`param_fields` of a params dataclass with each :func:`group` field replaced, in
    its place, by its class's flat params (recursively): the keys of one flat section. Names
    must be unique across the groups (a clash is a ``ValueError`` naming both classes)."""
    if not dataclasses.is_dataclass(cls):
        raise ValueError(f"{cls.__name__}: a params class must be a dataclass")
    hints = typing.get_type_hints(cls)
    out: list[tuple[str, type[Any], Any, ParamInfo]] = []
    seen: dict[str, str] = {}
    for f in dataclasses.fields(cls):
        if f.metadata.get(_GROUP):
            inner = flat_params(hints[f.name])
            owner = hints[f.name].__name__
        else:
            info = f.metadata.get(_KEY)
            if not isinstance(info, ParamInfo):
                raise ValueError(f"{cls.__name__}.{f.name}: declare it with param(default, description) or group(cls)")
            inner, owner = [(f.name, hints[f.name], f.default, info)], cls.__name__
        for entry in inner:
            if entry[0] in seen:
                raise ValueError(f"{owner}.{entry[0]}: the name is already a parameter of {seen[entry[0]]}")
            seen[entry[0]] = owner
        out += inner
    return out


@dataclass(frozen=True, slots=True)
class RuleParams:
    """The params of the rules a family registers beside its own params class (the motion
    rules besides the harsh rule, the cabin rules besides the monitor's: ``EngineParams.rules``,
    ``CabinThresholds.rules``), by rule name; a rule not held here runs at its defaults."""

    held: tuple[tuple[str, Any], ...] = ()

    def get(self, name: str, cls: Callable[[], T]) -> T:
        for n, p in self.held:
            if n == name:
                got: T = p
                return got
        return cls()


def held_or_registered(holder: object, rules: RuleParams, name: str, cls: Callable[[], T]) -> T:
    """A registered rule's params: the group of ``holder`` (a family's params dataclass:
    ``EngineParams``, ``CabinThresholds``) whose value is of class ``cls`` (the harsh rule's,
    ``th.phone``), else the rule ``name``'s in ``rules`` (its defaults if absent)."""
    for f in dataclasses.fields(holder):  # type: ignore[arg-type]  # a dataclass instance
        value = getattr(holder, f.name)
        if type(value) is cls:
            got: T = value
            return got
    return rules.get(name, cls)


def params_from(cls: Callable[..., T], source: object, **given: Any) -> T:
    """A params dataclass (``cls``) with each parameter read from the attribute of the same
    name of ``source`` (a config section), each :func:`group` built from ``source`` likewise,
    ``given`` values as they are, and the ``config=False`` parameters not given at their
    defaults: the one conversion from a derived config section to the domain's params."""
    kind: Any = cls  # checked as a class here; cls(...) below keeps its type for the caller
    if not (isinstance(kind, type) and dataclasses.is_dataclass(kind)):
        raise ValueError(f"{cls!r}: a params class must be a dataclass")
    hints = typing.get_type_hints(kind)
    values: dict[str, Any] = {}
    for f in dataclasses.fields(kind):
        info = f.metadata.get(_KEY)
        if f.name in given:
            values[f.name] = given.pop(f.name)
        elif f.metadata.get(_GROUP):
            values[f.name] = params_from(hints[f.name], source)
        elif not isinstance(info, ParamInfo):
            raise ValueError(f"{kind.__name__}.{f.name}: declare it with param(default, description) or group(cls)")
        elif info.config:
            values[f.name] = getattr(source, f.name)
    if given:
        raise TypeError(f"{kind.__name__} has no field(s) {sorted(given)}")
    return cls(**values)

"""The road rules, registered by the modules that hold them (issue 16 item 5).

A road rule module declares, beside its rule class, everything saferoad needs to run,
configure and show it, and registers it::

    @dataclass(frozen=True, slots=True)
    class TailgatingParams:
        tailgating_headway_s: float = param(0.7, "Time headway below which ...", gt=0)
        ...

    register(RoadRule("tailgating", TailgatingParams, build_tailgating, (TAILGATING_SPEC,)))

* the engine builds its rules from :func:`road_rules` (in registration order) instead of one
  line per rule (``engine.RoadEventEngine``, ``batch_speeding``, ``StreamingSpeeding``);
* the ``[road_events]`` config keys are derived from the params dataclasses (their field
  names, defaults, descriptions and bounds: :mod:`saferoad.domain.params`, by
  ``config/derive.py`` as every derived section), and so are the keys a client of
  ``saferoad serve`` may set (``param(..., client=False)`` keeps one out);
  ``param(..., config=False)`` declares a constant of a rule that no config key sets (it stays
  at its default: :meth:`RoadEventParams.from_section`, :meth:`RoadEventParams.names`);
* the event types' specs join :data:`saferoad.domain.event_specs.SPECS`.

The package (``road_events/__init__.py``) imports every module it holds, so a new rule module
is found without editing a table; a rule kept outside the tree calls :func:`register` from its
own module before the config is loaded (``tests/road_events/stopped_in_lane_rule.py``).

Parameter names are the flat config keys (``road_events.<name>``), so they must be unique
across the rules and the engine's own :class:`CommonParams`; a clash is a ``ValueError``.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Literal, TypeVar

from saferoad.domain.event_spec_base import EventSpec
from saferoad.domain.params import param, param_fields, params_from
from saferoad.domain.road_events.base import Rule
from saferoad.domain.rule_registry import RuleRegistry, claim_params

MPH = 0.44704
"""Metres per second in one mile per hour."""


@dataclass(frozen=True, slots=True)
class CommonParams:
    """The engine's own thresholds, shared by several rules: the timeline, the lead vehicle,
    the bridging of short dropouts, the stop sign's size."""

    max_gap_s: float = param(
        2.5, "Two consecutive samples of a sensor stream (speed, GPS) farther apart than "
        "this are a gap: nothing is interpolated across it and no rule decides across it. "
        "2.5 s tolerates one missed fix of a 1 Hz GPS.", gt=0, client=False,
    )
    max_frame_gap_s: float = param(
        1.0, "Consecutive camera frames farther apart than this are a gap in the video: "
        "every camera rule ends what it was following there without guessing what it did not see.",
        gt=0, client=False,
    )
    tick_hz: float = param(
        10.0, "Rate of the speed timeline the camera-free rule (speeding) runs on.", gt=0, client=False,
    )
    corridor_half_width_m: float = param(
        1.8, "Half width of the ego corridor (m) used to pick the lead vehicle when the "
        "tracker does not mark one: half a 3.5 m lane plus a margin.", gt=0,
    )
    range_rate_window_s: float = param(
        0.5, "Seconds of the lead's distance history fitted (least squares) for its range "
        "rate; longer is smoother, shorter reacts faster (the estimate lags by half the window: "
        "0.5 s keeps a sudden braking's warning within 0.25 s of the true TTC crossing).", gt=0,
    )
    lead_dropout_s: float = param(
        0.5, "A lead vehicle (or a condition on it) missing for at most this long is "
        "bridged, so one missed detection does not split an event.", ge=0,
    )
    leave_view_s: float = param(
        0.5, "A sign or light track unseen for this long has left the view (it is "
        "then decided on what was seen until its last sighting).", ge=0,
    )
    stop_sign_size_m: float = param(
        0.75, "Size of a stop sign (m) for its distance from its box where the detector "
        "gives none: Z = fx * size / box side. The US MUTCD R1-1 octagon is 30 in (0.76 m).", gt=0,
    )


@dataclass(frozen=True, slots=True)
class RuleContext:
    """What a rule's builder gets besides its own params."""

    common: CommonParams
    onsets: bool = False
    """Keep provisional onsets for ``take_onsets`` (the edge recorder's fast alerts)."""


P = TypeVar("P")


@dataclass(frozen=True, slots=True)
class RoadRule(Generic[P]):
    """One registered road rule: its params, how to build it, the types it emits."""

    name: str
    params: type[P]
    """A frozen dataclass whose fields are declared with :func:`~saferoad.domain.params.param`."""
    build: Callable[[P, RuleContext], Rule[Any]]
    """A fresh rule (its own state) from its params."""
    specs: tuple[EventSpec, ...]
    """The spec of every event type it emits."""
    on: Literal["frame", "speed"] = "frame"
    """What it is fed: camera frames (``RoadSample``) or speed ticks (``SpeedSample``)."""


def _common_names() -> set[str]:
    return {name for name, *_ in param_fields(CommonParams)}


def _owners(rules: list[RoadRule[Any]]) -> dict[str, str]:
    """Each parameter name -> the rule that declares it (``"CommonParams"`` for
    :class:`CommonParams`); a name declared twice is a ``ValueError`` naming both."""
    owners = dict.fromkeys(_common_names(), "CommonParams")
    for rule in rules:
        claim_params(owners, f"road rule {rule.name!r}", (name for name, *_ in param_fields(rule.params)), owner=rule.name)
    return owners


_REGISTRY: RuleRegistry[RoadRule[Any]] = RuleRegistry("road", _owners)
_RULES = _REGISTRY.rules


def register(rule: RoadRule[Any]) -> RoadRule[Any]:
    """Add a rule (after those registered before it). Registering another rule under a taken
    name, or a parameter name another rule declares, is an error."""
    return _REGISTRY.register(rule)


def unregister(name: str) -> None:
    """Drop a rule (a test's rule, when the test ends)."""
    _REGISTRY.unregister(name)


def road_rules(on: Literal["frame", "speed"] | None = None) -> list[RoadRule[Any]]:
    """The registered rules in registration order (those fed ``on`` only, if given)."""
    return [r for r in _RULES.values() if on is None or r.on == on]


def param_classes() -> list[type[Any]]:
    """The params classes of the ``[road_events]`` section, in its order: the engine's
    :class:`CommonParams`, then each registered rule's."""
    return [CommonParams, *(r.params for r in road_rules())]


def registry_version() -> int:
    """Changes whenever a rule is registered or dropped (for caches derived from the rules)."""
    return _REGISTRY.version


class RoadEventParams:
    """Every threshold of the road rules: the engine's :class:`CommonParams` and each
    registered rule's params. Built from flat keyword arguments named as the config keys
    (``RoadEventParams(fcw_ttc_s=1.5)``; an unknown name is a ``TypeError``) and read back
    flat (``params.fcw_ttc_s``) or typed (``params.common.max_gap_s``, ``params.of(rule)``)."""

    __slots__ = ("_rules", "common")
    common: CommonParams
    _rules: dict[str, Any]

    def __init__(self, **values: Any) -> None:
        rules = road_rules()
        owners = _owners(rules)
        unknown = sorted(set(values) - set(owners))
        if unknown:
            raise TypeError(f"RoadEventParams got unexpected keyword argument(s) {unknown}")
        common = _common_names()  # by name, not by owner: a rule may be named "CommonParams"

        def of(owner: str) -> dict[str, Any]:
            return {k: v for k, v in values.items() if k not in common and owners[k] == owner}

        object.__setattr__(self, "common", CommonParams(**{k: v for k, v in values.items() if k in common}))
        object.__setattr__(self, "_rules", {r.name: r.params(**of(r.name)) for r in rules})

    @classmethod
    def from_section(cls, source: object) -> RoadEventParams:
        """The params read from ``source`` (the ``[road_events]`` section: an attribute per
        config key) by :func:`~saferoad.domain.params.params_from`, class by class: each
        parameter from the attribute of its name, a ``config=False`` one at its default."""
        # names are unique across the classes: register() refuses a clash
        self = object.__new__(cls)
        object.__setattr__(self, "common", params_from(CommonParams, source))
        object.__setattr__(self, "_rules", {r.name: params_from(r.params, source) for r in road_rules()})
        return self

    @staticmethod
    def names() -> tuple[str, ...]:
        """The flat name of every parameter that is a config key (the engine's, then each
        registered rule's; not those declared ``config=False``, which no config sets)."""
        return tuple(name for cls in param_classes() for name, _t, _d, info in param_fields(cls) if info.config)

    def of(self, rule: RoadRule[P]) -> P:
        """The params of a registered rule."""
        got: P = self._rules[rule.name]
        return got

    def as_dict(self) -> dict[str, Any]:
        """Every parameter by its flat name."""
        out = dataclasses.asdict(self.common)
        for p in self._rules.values():
            out.update(dataclasses.asdict(p))
        return out

    def __getattr__(self, name: str) -> Any:
        if not name.startswith("_") and name != "common":
            try:
                return getattr(self.common, name)
            except AttributeError:
                for p in self._rules.values():
                    if hasattr(p, name):
                        return getattr(p, name)
        raise AttributeError(f"RoadEventParams has no parameter {name!r}")

    def __setattr__(self, name: str, value: Any) -> None:
        raise dataclasses.FrozenInstanceError(f"cannot assign to field {name!r}")

    def __eq__(self, other: object) -> bool:
        return isinstance(other, RoadEventParams) and self.as_dict() == other.as_dict()

    def __hash__(self) -> int:
        return hash(tuple(sorted(self.as_dict().items())))

    def __repr__(self) -> str:
        return "RoadEventParams(" + ", ".join(f"{k}={v!r}" for k, v in self.as_dict().items()) + ")"

    def __reduce__(self) -> tuple[Callable[..., RoadEventParams], tuple[dict[str, Any]]]:
        return _params_from_dict, (self.as_dict(),)


def _params_from_dict(values: dict[str, Any]) -> RoadEventParams:
    return RoadEventParams(**values)

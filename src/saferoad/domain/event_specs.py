"""One ``EventSpec`` per event type: everything saferoad says about a type in one place.

The rule that emits a type lives in its family's module (``source``); this registry holds what
every other part needs to know about it: its title and the sentence of a habitual risk, its
default weight in the score (with the published source of that weight), its colour in every
figure, which sensors it needs, and how urgent it is for in-cab alerts and uploads. A test
checks that every ``EventType`` has a spec, so a new type cannot be forgotten by the score
(weights used to default silently to 0), the reports or the uploader.

Adding an event type: define it (``X = EventType.define("x")``, in the module that emits it:
``EventType`` is open), write its rule in its family, add its spec here - except a motion,
road or cabin rule's types, whose specs its module declares beside the rule and
registers (``domain/motion/rules/registry.py``, ``domain/road_events/registry.py``,
``domain/cabin/registry.py``);
:data:`SPECS` gathers them with the ones here, in the order of the rules' registration, and
follows a rule registered or dropped later.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from saferoad.domain.cabin import registry as cabin_registry
from saferoad.domain.event_spec_base import EventSpec, Family, Priority
from saferoad.domain.motion.rules import registry as motion_registry
from saferoad.domain.road_events import registry as road_registry
from saferoad.domain.rule_registry import rule_origin
from saferoad.domain.types import EventType

__all__ = ["SPECS", "EventSpec", "Family", "Priority", "default_weights", "event_title", "spec"]


_HERE = "a spec in saferoad.domain.event_specs"


def _specs(*specs: EventSpec | tuple[EventSpec, str]) -> dict[str, EventSpec]:
    """By type value; each spec alone (declared here) or with its owner (a rule, as
    :func:`rule_origin` names it). Two specs for one type: a ``ValueError`` naming both."""
    out: dict[str, EventSpec] = {}
    owner: dict[str, str] = {}
    for item in specs:
        s, who = item if isinstance(item, tuple) else (item, _HERE)
        if s.type.value in out:
            raise ValueError(f"two specs for {s.type.value}: {owner[s.type.value]} and {who}")
        out[s.type.value] = s
        owner[s.type.value] = who
    return out


# Weights, here and in the specs the rule modules register: Motive's published 0-10 weights
# (phone 10, close following 9, stop sign 7, speeding 6, distraction 5, hard brake 4, corner 2,
# accel 1); a type Motive does not weigh takes the weight of the closest one it does
# (docs/scoring.md). Only the lane type's spec is below; the harsh-driving ones are in
# domain/motion/harsh.py, the road rules' beside each rule in domain/road_events/, the cabin
# rules' beside each rule in domain/cabin/rules/.
_AFTER_ROAD = _specs(
    EventSpec(EventType.LANE_DEPARTURE, Family.ROAD, "Lane departure", "drifts out of the lane",
              5.0, "as Motive's distraction 5 (an unintended drift is inattention)", "#059669",
              ("road_camera", "speed")),
)

_PLACES = ("drowsiness", "distraction", "lane_departure", "phone_use", "camera_obstructed")
"""The order of these types in :data:`SPECS` (and so in the score's default weights, as
``docs/config.md`` shows them) since their specs were all declared here; the cabin monitor's
rules declare theirs now (``domain/cabin/rules/``) and register in the order they run."""


def _in_place(specs: list[tuple[EventSpec, str]]) -> list[tuple[EventSpec, str]]:
    """``specs`` (the lane departure spec and the registered cabin rules') with the types of
    :data:`_PLACES` first, in that order, then the others as given."""
    placed = [item for v in _PLACES for item in specs if item[0].type.value == v]
    return placed + [item for item in specs if item[0].type.value not in _PLACES]


class _Specs(Mapping[str, EventSpec]):
    """The registered motion rules' specs, the registered road rules', then the spec above and
    the registered cabin rules' (the cabin monitor's in :data:`_PLACES`' order; a read-only
    mapping by type value, rebuilt when a rule is registered or dropped)."""

    def __init__(self) -> None:
        self._version: tuple[int, ...] = (-1,)
        self._data: dict[str, EventSpec] = {}

    def _current(self) -> dict[str, EventSpec]:
        version = (
            motion_registry.registry_version(), road_registry.registry_version(), cabin_registry.registry_version(),
        )
        if version != self._version:
            motion = [(s, rule_origin("motion", rule)) for rule in motion_registry.motion_rules() for s in rule.specs]
            road = [(s, rule_origin("road", rule)) for rule in road_registry.road_rules() for s in rule.specs]
            cabin = [(s, rule_origin("cabin", rule)) for rule in cabin_registry.cabin_rules() for s in rule.specs]
            self._data = _specs(*motion, *road, *_in_place([(s, _HERE) for s in _AFTER_ROAD.values()] + cabin))
            self._version = version
        return self._data

    def __getitem__(self, key: str) -> EventSpec:
        return self._current()[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._current())

    def __len__(self) -> int:
        return len(self._current())


SPECS: Mapping[str, EventSpec] = _Specs()
"""Every event type's spec by its value."""


def spec(event_type: str | EventType) -> EventSpec:
    """The spec of a type; ``KeyError`` naming the type and the known ones otherwise."""
    key = str(event_type)
    try:
        return SPECS[key]
    except KeyError:
        raise KeyError(f"unknown event type {key!r} (known: {', '.join(sorted(SPECS))})") from None


def event_title(event_type: str) -> str:
    """The type's title; an unknown type (an old store row) reads as its words."""
    s = SPECS.get(event_type)
    return s.title if s is not None else event_type.replace("_", " ").capitalize()


def default_weights() -> dict[str, float]:
    """Every type's default score weight."""
    return {k: s.weight for k, s in SPECS.items()}

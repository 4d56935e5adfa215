"""Every event type has one spec: title, habit phrase, weight with its source, colour, sensors."""

from __future__ import annotations

import pytest

from saferoad.config import load_config
from saferoad.domain.event_specs import SPECS, Family, Priority, spec
from saferoad.domain.scoring import Exposure, ScoringRules, habitual_risks
from saferoad.domain.types import EventType


def test_every_event_type_has_a_spec() -> None:
    assert set(SPECS) == {t.value for t in EventType}
    for key, s in SPECS.items():
        assert s.type.value == key and s.title and s.habit and s.weight_source and s.needs
        assert s.habit == s.habit.lower() or s.habit[0].islower()


def test_default_weights_come_from_the_specs() -> None:
    assert load_config().scoring.weights == {k: s.weight for k, s in SPECS.items()}


def test_colours_are_distinct_per_type() -> None:
    colours = [s.colour for s in SPECS.values()]
    assert len(set(colours)) == len(colours)


def test_collision_class_and_device_types() -> None:
    assert spec("forward_collision_warning").priority is Priority.COLLISION
    assert spec(EventType.CAMERA_OBSTRUCTED).priority is Priority.DEVICE
    assert spec("camera_obstructed").weight == 0.0  # a device problem is not scored
    assert {s.family for s in SPECS.values()} == set(Family)


def test_unknown_type_is_a_named_error() -> None:
    with pytest.raises(KeyError, match="unknown event type 'warp_drive'"):
        spec("warp_drive")


def test_habit_sentence_uses_the_spec_phrase() -> None:
    rules = ScoringRules(weights={"harsh_braking": 4.0})
    driver = Exposure(100.0, {"harsh_braking": 5})
    fleet = Exposure(1000.0, {"harsh_braking": 6})
    (habit,) = habitual_risks(driver, fleet, rules)
    assert habit.sentence.startswith("Brakes harshly")

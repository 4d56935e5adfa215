"""Every event type has one spec: title, habit phrase, weight with its source, colour, sensors."""

from __future__ import annotations

import copy
import json
import multiprocessing
import pickle
import re
from dataclasses import dataclass

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from saferoad.config import load_config
from saferoad.domain.cabin import registry as cabin_registry
from saferoad.domain.cabin.registry import CabinRule
from saferoad.domain.event_specs import SPECS, Family, Priority, spec
from saferoad.domain.motion.rules import registry as motion_registry
from saferoad.domain.scoring import Exposure, ScoringRules, habitual_risks
from saferoad.domain.types import Event, EventType, Severity


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


# --- EventType is open (issue 16): a type is defined by the module that emits it -------------


def test_the_built_ins_behave_as_the_str_enum_did() -> None:
    t = EventType.HARSH_BRAKING
    assert isinstance(t, EventType) and isinstance(t, str)
    assert t == "harsh_braking" and hash(t) == hash("harsh_braking") and {t: 1}["harsh_braking"] == 1
    assert (t.value, t.name, str(t), f"{t}", f"{t:>15}") == (
        "harsh_braking", "HARSH_BRAKING", "harsh_braking", "harsh_braking", "  harsh_braking")
    assert repr(t) == "<EventType.HARSH_BRAKING: 'harsh_braking'>"
    assert type(t.value) is str and json.dumps({t: [t]}) == '{"harsh_braking": ["harsh_braking"]}'
    assert EventType("harsh_braking") is t and EventType(t) is t and EventType["HARSH_BRAKING"] is t
    assert [x.value for x in EventType][:4] == [
        "harsh_braking", "harsh_acceleration", "harsh_cornering", "aggressive_lane_change"]
    assert len(EventType) == len(list(EventType)) >= 15 and next(iter(EventType.__members__)) == "HARSH_BRAKING"
    assert "speeding" in EventType and EventType.SPEEDING in EventType
    assert "warp_drive" not in EventType and 3 not in EventType and "normal" not in EventType
    with pytest.raises(ValueError, match=r"'warp_drive' is not a valid EventType \(known: harsh_braking, "):
        EventType("warp_drive")
    # a run-time type unpickled where its module was not imported (a spawn or Ray worker)
    data = pickle.dumps(EventType.define("warp_drive_test"))
    EventType.undefine("warp_drive_test")
    with pytest.raises(ValueError, match=r"'warp_drive_test' is not .* the module that defines it is imported"):
        pickle.loads(data)
    with pytest.raises(KeyError):
        EventType["WARP_DRIVE"]


def test_a_type_pickles_copies_and_stores_as_its_one_instance() -> None:
    t = EventType.FORWARD_COLLISION_WARNING
    for protocol in range(pickle.HIGHEST_PROTOCOL + 1):
        assert pickle.loads(pickle.dumps(t, protocol)) is t
    assert copy.copy(t) is t and copy.deepcopy([t])[0] is t
    ev = Event(t, 1.0, 2.0, Severity.HIGH, 0.9)
    assert pickle.loads(pickle.dumps(ev)).type is t
    assert Event.from_dict(json.loads(json.dumps(ev.to_dict()))).type is t
    table = pa.table({"type": [t, EventType.SPEEDING]})
    assert table.column("type").type == pa.string()
    assert pq_round_trip(table) == ["forward_collision_warning", "speeding"]


def pq_round_trip(table: pa.Table) -> list[str]:
    buf = pa.BufferOutputStream()
    pq.write_table(table, buf)
    return [str(v) for v in pq.read_table(pa.BufferReader(buf.getvalue())).column("type").to_pylist()]


def test_define_makes_a_type_with_no_enum_line() -> None:
    before = len(EventType)
    toy_type = EventType.define("toy_spec_test")
    try:
        _check_defined(toy_type, before)
    finally:
        EventType.undefine("toy_spec_test")
    assert "toy_spec_test" not in EventType and len(EventType) == before and not hasattr(EventType, "TOY_SPEC_TEST")


def _check_defined(toy_type: EventType, before: int) -> None:
    assert toy_type == "toy_spec_test" and type(toy_type) is EventType
    assert EventType.TOY_SPEC_TEST is toy_type  # type: ignore[attr-defined]
    assert EventType("toy_spec_test") is toy_type and list(EventType)[-1] is toy_type and len(EventType) == before + 1
    assert EventType.define("toy_spec_test") is toy_type  # a re-imported module gets the same one
    assert pickle.loads(pickle.dumps(toy_type)) is toy_type
    # defined but with no spec: the registry's completeness check would name it
    assert "toy_spec_test" not in SPECS
    with pytest.raises(KeyError, match="unknown event type 'toy_spec_test'"):
        spec(toy_type)


def test_define_refuses_bad_values_and_undefine_keeps_the_built_ins() -> None:
    for bad, why in [("Stopped", "lower-case snake case"), ("2fast", "lower-case snake case"),
                     ("a-b", "lower-case snake case"), ("", "lower-case snake case"),
                     ("normal", "reserved for labelled ordinary manoeuvres")]:
        with pytest.raises(ValueError, match=why):
            EventType.define(bad)
    with pytest.raises(ValueError, match="'speeding' is built in"):
        EventType.undefine("speeding")
    assert EventType.SPEEDING in EventType and EventType("speeding") is EventType.SPEEDING
    EventType.undefine("never_defined")  # nothing to drop


def test_a_type_crosses_to_a_spawn_worker_and_back_as_itself() -> None:
    """What `evaluate --workers` and `analyze` over a fleet folder do: a fresh interpreter
    unpickles the type by value into its own registry's instance and sends it back."""
    t = EventType.TAILGATING
    with multiprocessing.get_context("spawn").Pool(1) as pool:
        assert pool.apply(repr, (t,)) == "<EventType.TAILGATING: 'tailgating'>"
        back = pool.apply(list, ([t, Event(t, 1.0, 2.0, Severity.LOW, 0.5)],))
    assert back[0] is t and back[1].type is t


@dataclass(frozen=True, slots=True)
class _NoParams:
    """A toy cabin rule's params (none): the rule below exists only to collide."""


def test_two_rules_claiming_one_type_are_refused_naming_both() -> None:
    """A rule (any family) emitting a type another rule emits is refused at register(), the
    error naming both rules and their modules; a rule emitting a type whose spec is declared in
    event_specs itself is named, with it, when SPECS is read."""
    (braking_rule,) = [r for r in motion_registry.motion_rules() if EventType.HARSH_BRAKING in [s.type for s in r.specs]]
    version = cabin_registry.registry_version()
    braking = CabinRule("toy_braking", _NoParams, lambda p: None, (spec(EventType.HARSH_BRAKING),))  # type: ignore[arg-type,return-value]
    want = (
        rf"cabin rule 'toy_braking' \((tests\.)?test_event_specs\) emits harsh_braking, already emitted by "
        rf"motion rule '{braking_rule.name}' \({re.escape(braking_rule.params.__module__)}\): one rule per event type"
    )
    with pytest.raises(ValueError, match=want):
        cabin_registry.register(braking)
    assert "toy_braking" not in [r.name for r in cabin_registry.cabin_rules()]
    assert cabin_registry.registry_version() == version

    twice = CabinRule("toy_twice", _NoParams, lambda p: None, (spec("phone_use"), spec("phone_use")))  # type: ignore[arg-type,return-value]
    with pytest.raises(ValueError, match=r"cabin rule 'toy_twice' \(.*test_event_specs\) declares two specs for phone_use"):
        cabin_registry.register(twice)

    # the cabin monitor's own types are registered rules' too (domain/cabin/rules/)
    drowsy = CabinRule("toy_drowsy", _NoParams, lambda p: None, (spec(EventType.DROWSINESS),))  # type: ignore[arg-type,return-value]
    with pytest.raises(ValueError, match=r"cabin rule 'toy_drowsy' \(.*test_event_specs\) emits drowsiness, already emitted by cabin rule 'drowsiness'"):
        cabin_registry.register(drowsy)

    drifting = CabinRule("toy_drifting", _NoParams, lambda p: None, (spec(EventType.LANE_DEPARTURE),))  # type: ignore[arg-type,return-value]
    cabin_registry.register(drifting)
    try:
        with pytest.raises(ValueError, match=(
            r"two specs for lane_departure: a spec in saferoad\.domain\.event_specs and "
            r"cabin rule 'toy_drifting' \(.*test_event_specs\)"
        )):
            spec("phone_use")
    finally:
        cabin_registry.unregister("toy_drifting")
    assert spec(EventType.DROWSINESS).title == "Drowsiness"

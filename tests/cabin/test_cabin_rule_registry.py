"""Cabin rules registered by the modules that hold them (issue 16 item 5): the driver monitor,
frame by frame on the edge as over a recording in batch, runs every registered rule, its own
(domain/cabin/rules/) first; an added rule's params are ``[cabin]`` keys; its specs join
``SPECS``. Shown with a rule kept outside the tree (``head_turned_rule.py``), one module, with
no other file edited."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest

from saferoad.adapters.recording import open_recording
from saferoad.application.cabin import thresholds_from_config
from saferoad.application.edge import EdgeRecorder
from saferoad.config import load_config
from saferoad.config.cabin import CabinConfig, cabin_client_keys, cabin_model
from saferoad.domain.cabin.monitor import CabinMonitor, CabinThresholds
from saferoad.domain.cabin.phone import PhoneParams
from saferoad.domain.cabin.registry import CabinRule, cabin_rules, register, unregister
from saferoad.domain.cabin.signals import CabinSample
from saferoad.domain.event_specs import SPECS, Family, default_weights, event_title
from saferoad.domain.event_specs import spec as event_spec
from saferoad.domain.params import param
from saferoad.domain.types import Event
from saferoad.entrypoints.services.analysis_service import check_client_options
from saferoad.entrypoints.wiring import analysis_ports, analyze_recording, simulate

TOY = "head_turned"


@pytest.fixture
def toy(rule_module) -> Iterator[ModuleType]:
    """The test-local rule module, loaded from its file (it registers itself and defines its
    event type) and dropped when the test ends."""
    with rule_module(Path(__file__).with_name("head_turned_rule.py"), TOY, unregister) as mod:
        yield mod


BUILT_IN = ["drowsiness", "distraction", "camera_obstructed", "phone_use"]


def test_the_monitors_own_rules_are_registered_modules() -> None:
    """The monitor's own rules are registered rules, one module each (domain/cabin/rules/), in
    the order the monitor has always run them; their params are CabinThresholds' (or its phone
    group), so they add no key: the section is what it was. A monitor builds each, with them."""
    rules = cabin_rules()
    assert [r.name for r in rules] == BUILT_IN and cabin_model() is CabinConfig
    assert [r.params for r in rules] == [CabinThresholds, CabinThresholds, CabinThresholds, PhoneParams]
    assert [r.build.__module__ for r in rules][:3] == [
        f"saferoad.domain.cabin.rules.{m}" for m in ("drowsiness", "distraction", "obstruction")
    ]
    assert [[s.type.value for s in r.specs] for r in rules] == [[n] for n in BUILT_IN]
    assert CabinThresholds().rules.held == ()  # nothing of theirs rides on .rules
    th = CabinThresholds(phone=PhoneParams(phone_min_s=3.0))
    mon = CabinMonitor(th)
    assert [r.name for r, _ in mon._rules] == BUILT_IN
    assert [st.th for _, st in mon._rules[:3]] == [th] * 3  # type: ignore[attr-defined]
    assert mon.phone is mon._rules[3][1].monitor and mon.phone.params.phone_min_s == 3.0  # type: ignore[attr-defined]


def test_a_rule_module_gets_a_spec_config_keys_and_docs(toy: ModuleType, tmp_path: Path, section_pins) -> None:
    assert [r.name for r in cabin_rules()] == [*BUILT_IN, TOY] and cabin_rules()[-1] is toy.RULE
    assert event_spec(TOY) is toy.SPEC and event_title(TOY) == "Head turned"
    assert list(SPECS)[-1] == TOY and default_weights()[TOY] == 2.5
    assert load_config().scoring.weights[TOY] == 2.5  # the score's default weights read the specs
    # [cabin] keys from its params: defaults, bounds, the file named in errors
    cfg = load_config()
    assert cfg.cabin.head_turned_min_s == 10.0  # type: ignore[attr-defined]
    assert thresholds_from_config(cfg.cabin).rules.get(TOY, toy.HeadTurnedParams) == toy.HeadTurnedParams()
    conf = tmp_path / "c.toml"
    conf.write_text("[cabin]\nhead_turned_min_s = 3.0\nclosed_ratio = 0.7\n", encoding="utf-8")
    th = thresholds_from_config(load_config(conf).cabin)
    assert th.rules.get(TOY, toy.HeadTurnedParams) == toy.HeadTurnedParams(head_turned_min_s=3.0)
    assert th.closed_ratio == 0.7
    section_pins.rule_keys_until_dropped(
        "cabin", TOY, "head_turned_min_s",
        bad=("head_turned_yaw_deg = -5", "head_turned_yaw_deg: Input should be greater than 0 (got -5)"),
        row="| `head_turned_min_s` | `10.0` | How long the head must stay turned", client_key="head_turned_yaw_deg",
        model=cabin_model, base=CabinConfig, client_keys=cabin_client_keys, unregister=unregister,
        check_client=check_client_options,
    )


def _cabin(events: list[Event]) -> list[Event]:
    return sorted((e for e in events if event_spec(e.type).family is Family.CABIN), key=lambda e: (e.start_s, e.type.value))


def test_a_rule_module_runs_through_analyze_and_the_edge_from_its_toml_key(toy: ModuleType, tmp_path: Path) -> None:
    """A driver looking 45° away for 4 s from 12 s (and glancing 1 s at a mirror at 27 s): with
    the rule's minimum set to 3 s in the TOML file analyze reports one head_turned over the
    look (in events.jsonl too); at its 10 s default none; the built-in distraction is the same
    either way; the edge recorder, frame by frame, gives the same cabin events."""
    rec_dir = tmp_path / "rec"
    simulate("distracted", rec_dir, seed=2, video=False, config=load_config())
    rec = open_recording(rec_dir)
    conf = tmp_path / "c.toml"
    conf.write_text("[cabin]\nhead_turned_min_s = 3.0\n", encoding="utf-8")
    cfg = load_config(conf)
    got = analyze_recording(rec, cfg, tmp_path / "out").events
    (ev,) = [e for e in got if e.type == toy.HEAD_TURNED]
    assert ev.start_s == pytest.approx(12.0, abs=0.5) and ev.end_s == pytest.approx(16.0, abs=0.5)
    assert ev.peak["yaw_off_deg"] == pytest.approx(45.0, abs=5.0)
    written = [json.loads(line) for line in (tmp_path / "out" / "events.jsonl").read_text().splitlines()]
    assert [w["type"] for w in written].count(TOY) == 1
    default = analyze_recording(rec, load_config(), tmp_path / "out2").events
    assert [e for e in default if e.type == toy.HEAD_TURNED] == []
    builtin = [e.to_dict() for e in got if e.type != toy.HEAD_TURNED]
    assert "distraction" in [b["type"] for b in builtin]
    assert builtin == [e.to_dict() for e in default]
    # the edge recorder streams the cabin track through the same monitor, frame by frame
    report = EdgeRecorder(cfg, ports=analysis_ports()).replay(rec, speed=0)
    assert [e.to_dict() for e in _cabin(report.events)] == [e.to_dict() for e in _cabin(got)]


@dataclass(frozen=True, slots=True)
class _Bare:
    toy_threshold: float = 1.0  # no param(): no description for the docs


@dataclass(frozen=True, slots=True)
class _Clash:
    closed_ratio: float = param(0.5, "taken by the monitor's thresholds", gt=0)


def test_a_rule_must_declare_its_params_and_specs_and_not_take_a_key() -> None:
    spec = SPECS["distraction"]

    def never(p: object) -> CabinMonitor:
        raise AssertionError("a rule refused at registration is never built")

    with pytest.raises(ValueError, match=r"_Bare\.toy_threshold: declare it with param"):
        register(CabinRule("toy_bare", _Bare, never, (spec,)))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match=r"parameter 'closed_ratio' is already declared by CabinThresholds"):
        register(CabinRule("toy_clash", _Clash, never, (spec,)))  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="declare the spec of every event type"):
        register(CabinRule("toy_nospec", _Bare, never, ()))  # type: ignore[arg-type]
    assert [r.name for r in cabin_rules()] == BUILT_IN and CabinThresholds().rules.held == ()


def _four_at_once(frames: int) -> list[list[str]]:
    """A driver (a signal track, 10 fps, at 20 m/s) with the eyes closed from 5 s to 10 s, the
    head 45° left, the lens covered and a phone at the face from 8 s (the phone until 10.4 s, the
    rest until 11 s): the types of each update's events, then of finish()'s."""
    th = CabinThresholds(obstructed_min_s=1.0, cluster_gap_s=0.95, phone=PhoneParams(phone_max_gap_s=0.55))
    mon = CabinMonitor(th, classify_eyes=False)
    got: list[list[str]] = []
    for i in range(frames):
        t = i * 0.1
        look = 8.0 - 1e-9 <= t < 11.0 - 1e-9
        phone = 8.0 - 1e-9 <= t < 10.45
        s = CabinSample(i, t, True, eyes_closed=5.0 - 1e-9 <= t < 10.0 - 1e-9, yaw_deg=45.0 if look else 0.0,
                        pitch_deg=0.0, obstructed=look, phone_score=0.9 if phone else 0.0, phone_at="face" if phone else None)
        _, evs = mon.update(s, 20.0)
        if evs:
            got.append([e.type.value for e in evs])
    got.append([e.type.value for e in mon.finish()])
    return got


def test_events_ending_on_one_frame_come_out_in_the_monitors_rule_order() -> None:
    """The edge's sinks get a frame's events as the monitor returns them: drowsiness,
    distraction, camera_obstructed, phone_use, the order the monitor always ran its rules in
    (measured on the code before they were modules: the same lists). All four end on the frame
    at 11 s (the eyes' episode 0.95 s after the closure, the phone 0.55 s after the last one
    seen), or are open at the end of a stream cut at 10.4 s."""
    assert _four_at_once(130) == [BUILT_IN, []]
    assert _four_at_once(105) == [BUILT_IN]

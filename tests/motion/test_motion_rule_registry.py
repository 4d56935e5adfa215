"""Motion rules registered by the modules that hold them (issue 16 item 5): the engine, batch
and streaming, runs every registered rule; a rule's params are ``[motion]`` keys; its specs
join ``SPECS``. Shown with a rule kept outside the tree (``sustained_braking_rule.py``), one
module, with no other file edited."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType

import pytest

from saferoad.adapters.recording import open_recording
from saferoad.application.edge import EdgeRecorder
from saferoad.application.stages.motion import params_from_config
from saferoad.config import load_config
from saferoad.config.motion import MotionConfig, motion_client_keys, motion_model
from saferoad.domain.event_specs import SPECS, Family, default_weights, event_title
from saferoad.domain.event_specs import spec as event_spec
from saferoad.domain.motion import harsh
from saferoad.domain.motion.engine import EngineParams, run_engine
from saferoad.domain.motion.rules.registry import MotionRule, motion_rules, register, unregister
from saferoad.domain.motion.streaming import (
    StreamingMotion,
    chunk_gps,
    chunk_imu,
    chunk_speed,
    ticks,
)
from saferoad.domain.params import param
from saferoad.domain.types import Event
from saferoad.entrypoints.services.analysis_service import check_client_options
from saferoad.entrypoints.wiring import analysis_ports, analyze_recording, simulate

TOY = "sustained_braking"


def test_the_harsh_rule_is_one_registered_rule_with_its_four_specs() -> None:
    (rule,) = motion_rules()
    assert rule is harsh.RULE and rule.detect is harsh.detect_harsh and rule.params is harsh.HarshParams
    assert [s.type.value for s in rule.specs] == [
        "harsh_braking", "harsh_acceleration", "harsh_cornering", "aggressive_lane_change",
    ]
    assert all(s.family is Family.MOTION and SPECS[s.type.value] is s for s in rule.specs)
    assert list(SPECS)[:4] == [s.type.value for s in rule.specs]  # first, as before
    # its params are the engine's group (the manoeuvre grading reads them too)
    p = EngineParams()
    assert p.of(rule) is p.harsh
    assert motion_model() is MotionConfig


@pytest.fixture
def toy(rule_module) -> Iterator[ModuleType]:
    """The test-local rule module, loaded from its file (it registers itself and defines its
    event type) and dropped when the test ends."""
    with rule_module(Path(__file__).with_name("sustained_braking_rule.py"), TOY, unregister) as mod:
        yield mod


def test_a_rule_module_gets_a_spec_config_keys_and_docs(toy: ModuleType, tmp_path: Path, section_pins) -> None:
    assert motion_rules()[-1] is toy.RULE
    assert event_spec(TOY) is toy.SPEC and event_title(TOY) == "Sustained braking"
    assert list(SPECS)[4] == TOY  # after the harsh rule's types, before the road rules'
    assert default_weights()[TOY] == 3.0
    assert load_config().scoring.weights[TOY] == 3.0  # the score's default weights read the specs
    # [motion] keys from its params: defaults, bounds, the file named in errors
    cfg = load_config()
    assert cfg.motion.sustained_braking_min_s == 10.0  # type: ignore[attr-defined]
    assert params_from_config(cfg.motion).of(toy.RULE) == toy.SustainedBrakingParams()
    conf = tmp_path / "c.toml"
    conf.write_text("[motion]\nsustained_braking_min_s = 1.5\nbraking_g = 0.4\n", encoding="utf-8")
    params = params_from_config(load_config(conf).motion)
    assert params.of(toy.RULE) == toy.SustainedBrakingParams(sustained_braking_min_s=1.5)
    assert params.harsh.braking_g == 0.4
    section_pins.rule_keys_until_dropped(
        "motion", TOY, "sustained_braking_min_s",
        bad=("sustained_braking_g = 0", "sustained_braking_g: Input should be greater than 0 (got 0)"),
        row="| `sustained_braking_min_s` | `10.0` | How long the deceleration must be held",
        client_key="sustained_braking_g",
        model=motion_model, base=MotionConfig, client_keys=motion_client_keys, unregister=unregister,
        check_client=check_client_options,
    )


def _braking_drive(tmp_path: Path) -> Path:
    """60 -> 15 km/h at 0.5 g from 15 s: 2.55 s of braking, a harsh braking too."""
    rec_dir = tmp_path / "rec"
    simulate("harsh_braking", rec_dir, seed=3, video=False, config=load_config())
    return rec_dir


def _same(a: list[Event], b: list[Event], tol_s: float) -> None:
    assert [e.type for e in a] == [e.type for e in b]
    for x, y in zip(a, b, strict=True):
        assert abs(x.start_s - y.start_s) <= tol_s and abs(x.end_s - y.end_s) <= tol_s, (x, y)
        assert x.peak.keys() == y.peak.keys()


def test_a_rule_module_runs_through_analyze_and_streaming_from_its_toml_key(toy: ModuleType, tmp_path: Path) -> None:
    """With the rule's minimum set to 1.5 s in the TOML file, analyze reports one
    sustained_braking over the simulated braking (in events.jsonl too); at its 10 s default
    none; the harsh braking is the same either way; the streaming engine and the edge
    recorder give the batch events."""
    rec = open_recording(_braking_drive(tmp_path))
    conf = tmp_path / "c.toml"
    conf.write_text("[motion]\nsustained_braking_min_s = 1.5\n", encoding="utf-8")
    cfg = load_config(conf)
    got = analyze_recording(rec, cfg, tmp_path / "out").events
    (ev,) = [e for e in got if e.type == toy.SUSTAINED_BRAKING]
    # the braking: 12.5 m/s lost at 0.5 g (4.9 m/s²) from 15 s, after a 0.4 s jerk ramp
    assert ev.start_s == pytest.approx(15.0, abs=0.5) and ev.end_s - ev.start_s == pytest.approx(2.55, abs=0.5)
    assert ev.peak["decel_mps2"] == pytest.approx(4.9, abs=0.5)
    written = [json.loads(line) for line in (tmp_path / "out" / "events.jsonl").read_text().splitlines()]
    assert [w["type"] for w in written].count(TOY) == 1
    default = analyze_recording(rec, load_config(), tmp_path / "out2").events
    assert [e for e in default if e.type == toy.SUSTAINED_BRAKING] == []
    builtin = [e.to_dict() for e in got if e.type != toy.SUSTAINED_BRAKING]
    assert [b["type"] for b in builtin] == ["harsh_braking"]
    assert builtin == [e.to_dict() for e in default]
    # batch engine vs the streaming engine fed 1 s chunks, with the params from the TOML file
    params = params_from_config(cfg.motion, rec)
    batch = run_engine(rec.imu, rec.gps, rec.can_speed, params).events
    stream = StreamingMotion(params)
    assert rec.imu is not None
    streamed: list[Event] = []
    for a, b in ticks(float(rec.imu.t_s[0]), float(rec.imu.t_s[-1]), 1.0):
        streamed += stream.push(chunk_imu(rec.imu, a, b), chunk_gps(rec.gps, a, b), chunk_speed(rec.can_speed, a, b))
    streamed += stream.finish()
    one_sample = 1.0 / params.resample_hz + 1e-9
    _same(batch, sorted(streamed, key=lambda e: (e.start_s, e.type.value)), one_sample)
    assert TOY in [e.type.value for e in streamed]
    # and the edge recorder (its streaming motion built from the same config)
    report = EdgeRecorder(cfg, ports=analysis_ports()).replay(rec, speed=0)
    motion = sorted((e for e in report.events if event_spec(e.type).family is Family.MOTION), key=lambda e: (e.start_s, e.type.value))
    _same([e for e in got if event_spec(e.type).family is Family.MOTION], motion, one_sample)


@dataclass(frozen=True, slots=True)
class _Bare:
    toy_threshold: float = 1.0  # no param(): no description for the docs


@dataclass(frozen=True, slots=True)
class _Clash:
    braking_g: float = param(0.5, "taken by the harsh rule", gt=0)


def test_a_rule_must_declare_its_params_and_specs_and_not_take_a_key() -> None:
    spec = SPECS["harsh_braking"]

    def never(sig: object, p: object, hz: float) -> list[Event]:
        raise AssertionError("a rule refused at registration never runs")

    with pytest.raises(ValueError, match=r"_Bare\.toy_threshold: declare it with param"):
        register(MotionRule("toy_bare", _Bare, never, (spec,)))
    with pytest.raises(ValueError, match=r"parameter 'braking_g' is already declared by EngineParams"):
        register(MotionRule("toy_clash", _Clash, never, (spec,)))
    with pytest.raises(ValueError, match="declare the spec of every event type"):
        register(MotionRule("toy_nospec", _Bare, never, ()))
    with pytest.raises(ValueError, match="'harsh' is already registered"):
        register(MotionRule("harsh", _Clash, never, (spec,)))
    assert [r.name for r in motion_rules()] == ["harsh"]

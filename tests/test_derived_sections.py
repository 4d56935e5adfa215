"""The ``[motion]`` and ``[cabin]`` sections, whose rule parameters are declared once in the
domain's params dataclasses (issue 16 items 5-6): what users write, what a client of
``saferoad serve`` may set, the validation errors and every fingerprint stay as they were
while the keys are derived."""

from __future__ import annotations

from dataclasses import dataclass, fields, is_dataclass

import numpy as np
import pytest
from pydantic import create_model

from saferoad.application.cabin import thresholds_from_config
from saferoad.application.stages.motion import params_from_config
from saferoad.config import load_config
from saferoad.config.base import Section
from saferoad.config.cabin import CabinConfig
from saferoad.config.derive import derived_section
from saferoad.config.motion import MotionConfig
from saferoad.domain.cabin.monitor import CabinThresholds
from saferoad.domain.motion.params import EngineParams, HarshParams
from saferoad.domain.params import flat_params, group, param, params_from
from saferoad.entrypoints.services.analysis_service import CLIENT_OPTIONS

# Measured on the code before the sections were derived (commit b41e4e2: hand-written
# MotionConfig and CabinConfig, run from `git archive` in /tmp): config_hash of the section,
# with every default and with keys set. Every fingerprint (SaferoadConfig.fingerprint, the
# evaluation cache key) hashes the sections' dumps, so these unchanged keep them unchanged as
# far as motion and cabin go.
SECTION_BEFORE = [
    ("motion", None, "56abfe0dd18fd27f"),
    ("motion", {
        "braking_g": 0.4, "braking_moderate_g": 0.2, "undo_source_highpass": True,
        "mounting": [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]],
    }, "f51e71d3815abb67"),
    ("motion", {"resample_hz": 100, "timeline_hz": 5, "severity_high": 2.0, "forward_from_turns": False}, "e030b5fa9af9bae3"),
    ("cabin", None, "2253c00ec325d4ba"),
    ("cabin", {"closed_ratio": 0.7, "phone_min_s": 3, "detector": "ultraface"}, "9ede45823de491fd"),
    ("cabin", {
        "perclos_min_closures": 3, "mirrored": True, "distraction_min_speed_mps": 2.0, "phone_detector": "none",
    }, "a981e82bfcf48091"),
]  # fmt: skip

# The motion and cabin keys a client of `saferoad serve` could set before the list was derived.
CLIENT_BEFORE = {
    "motion": {
        "braking_g", "acceleration_g", "cornering_g", "lane_change_g",
        "braking_moderate_g", "braking_hard_g", "acceleration_moderate_g", "acceleration_hard_g",
        "cornering_moderate_g", "cornering_hard_g", "lane_change_moderate_g", "lane_change_hard_g",
        "min_duration_s", "hysteresis", "merge_gap_s", "rebound_s", "turn_min_deg", "turn_rate_dps",
        "severity_medium", "severity_high", "min_speed_mps", "lowpass_hz", "speed_fusion_tau_s",
        "undo_source_highpass", "forward_from_turns", "highpass_leak_s",
    },
    "cabin": {
        "detector_score", "landmark_score", "min_face_inside", "mirrored", "hfov_deg", "dark_level",
        "uniform_std", "obstructed_min_s", "closed_ratio", "baseline_window_s", "baseline_min_s",
        "perclos_window_s", "perclos_min_s", "perclos_threshold", "slow_blink_s", "long_closure_s",
        "cluster_gap_s", "perclos_min_closures", "yawn_ratio", "yawn_min_s", "distraction_yaw_deg",
        "distraction_pitch_deg", "distraction_pitch_up_deg", "distraction_min_s", "face_gap_s",
        "distraction_min_speed_mps", "drowsiness_min_speed_mps",
    },
}  # fmt: skip

# The errors a bad value gave before (file and key named), measured with the same commit.
ERRORS_BEFORE = [
    ("[motion]\nbraking_g = 0\n", "motion.braking_g: Input should be greater than 0 (got 0)"),
    ("[motion]\nhysteresis = 1.0\n", "motion.hysteresis: Input should be less than 1 (got 1.0)"),
    ("[motion]\nbrake_g = 0.4\n", "motion.brake_g: unknown key"),
    ("[cabin]\nperclos_min_closures = 0\n", "cabin.perclos_min_closures: Input should be greater than or equal to 1 (got 0)"),
    ("[cabin]\nclosed_ratio = 1\n", "cabin.closed_ratio: Input should be less than 1 (got 1)"),
    ("[cabin]\nhfov_deg = 5\n", "cabin.hfov_deg: Input should be greater than 10 (got 5)"),
]  # fmt: skip


@pytest.mark.parametrize(("section", "keys", "digest"), SECTION_BEFORE)
def test_the_section_dumps_and_hashes_as_before(section_pins, section: str, keys: dict[str, object] | None, digest: str) -> None:
    section_pins.dumps_as_before(section, keys, digest)


@pytest.mark.parametrize("section", ["motion", "cabin"])
def test_the_client_allow_list_is_unchanged(section: str) -> None:
    assert {k.split(".", 1)[1] for k in CLIENT_OPTIONS if k.startswith(section + ".")} == CLIENT_BEFORE[section]


@pytest.mark.parametrize(("body", "why"), ERRORS_BEFORE)
def test_a_bad_value_is_named_by_file_and_key_as_before(section_pins, body: str, why: str) -> None:
    section_pins.error_as_before(body, why)


def _every_key_set() -> dict[str, dict[str, object]]:
    """A non-default value for every derived key (bands kept ascending below the thresholds)."""
    out: dict[str, dict[str, object]] = {}
    for section, cls in (("motion", EngineParams), ("cabin", CabinThresholds)):
        body: dict[str, object] = {}
        for name, typ, default, info in flat_params(cls):
            if not info.config:
                continue
            if typ is bool:
                body[name] = not default
            elif typ is int:
                body[name] = default + 1
            else:
                body[name] = round(default * (0.9 if info.lt is not None or info.le is not None else 1.1), 6)
        out[section] = body
    return out


def _flat_value(params: object, name: str) -> object:
    """A parameter by its flat name, on the params or inside one of its groups."""
    if name in {f.name for f in fields(params)}:
        return getattr(params, name)
    inner = [getattr(params, f.name) for f in fields(params) if is_dataclass(getattr(params, f.name))]
    found = [g for g in inner if name in {f.name for f in fields(g)}]
    assert len(found) == 1, name
    return getattr(found[0], name)


def test_every_parameter_is_a_documented_key_with_the_domain_default() -> None:
    sections = {"motion": (MotionConfig, EngineParams), "cabin": (CabinConfig, CabinThresholds)}
    for model, cls in sections.values():
        derived = [(n, d, i) for n, _t, d, i in flat_params(cls) if i.config]
        for name, default, info in derived:
            f = model.model_fields[name]
            assert f.default == default and f.description == info.description and info.description
        assert len(derived) == len(model.model_fields) - len(model.__mro__[1].model_fields)
    # not config keys: the engine's rotation array (motion.mounting is hand-written), the
    # params of the motion rules registered besides the harsh rule and of the registered cabin
    # rules (keys of their own names: tests/motion/test_motion_rule_registry.py,
    # tests/cabin/test_cabin_rule_registry.py) and two constants of the cabin rules
    assert {n for n, *_ in flat_params(EngineParams)} - set(MotionConfig.model_fields) == {"rules"}
    assert {n for n, *_ in flat_params(CabinThresholds)} - set(CabinConfig.model_fields) == {
        "baseline_max_yaw_deg", "max_frame_gap_s", "rules",
    }
    cfg = load_config()
    assert params_from_config(cfg.motion) == EngineParams()
    assert thresholds_from_config(cfg.cabin) == CabinThresholds()


def test_the_one_conversion_carries_every_key_to_the_params() -> None:
    """Each key set in the config reaches the domain's params under its own name (the hand
    copies this replaces were 22 + 24 lines that could forget one)."""
    sets = _every_key_set()
    cfg = load_config(None, sets)
    motion = params_from_config(cfg.motion)
    for name, value in sets["motion"].items():
        assert _flat_value(motion, name) == pytest.approx(value), name
    cabin = thresholds_from_config(cfg.cabin)
    for name, value in sets["cabin"].items():
        assert _flat_value(cabin, name) == pytest.approx(value), name
    # the fixed constants stay at their defaults; a mounting given reaches the engine
    assert (cabin.baseline_max_yaw_deg, cabin.max_frame_gap_s) == (20.0, 0.5)
    eye = [[1.0, 0.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]]
    got = params_from_config(load_config(None, {"motion": {"mounting": eye}}).motion).mounting
    assert got is not None and np.array_equal(got, np.eye(3))


def test_the_bands_are_still_checked_against_the_thresholds() -> None:
    cfg = load_config(None, {"motion": {"braking_hard_g": 0.4}})
    with pytest.raises(ValueError, match=r"motion\.braking_moderate_g \(0\.23\) < motion\.braking_hard_g \(0\.4\) < motion\.braking_g \(0\.38\)"):
        params_from_config(cfg.motion)


def test_configs_pickle_through_the_derived_classes(section_pins) -> None:
    again = section_pins.pickles(load_config(None, {"motion": {"braking_g": 0.4}, "cabin": {"closed_ratio": 0.7}}))
    assert type(again.motion) is MotionConfig and type(again.cabin) is CabinConfig


@dataclass(frozen=True)
class Plain:
    x: float = 1.0


@dataclass(frozen=True)
class Inner:
    braking_g: float = param(0.4, "a second braking_g")


@dataclass(frozen=True)
class Clash:
    harsh: HarshParams = group(HarshParams)  # noqa: RUF009 (group() returns a dataclasses.field)
    inner: Inner = group(Inner)  # noqa: RUF009


def test_declarations_that_cannot_be_derived_are_refused() -> None:
    with pytest.raises(ValueError, match=r"Plain\.x: declare it with param"):
        flat_params(Plain)
    with pytest.raises(ValueError, match=r"Inner\.braking_g: the name is already a parameter of HarshParams"):
        flat_params(Clash)
    with pytest.raises(TypeError, match=r"EngineParams has no field\(s\) \['mountings'\]"):
        params_from(EngineParams, load_config().motion, mountings=None)
    with pytest.raises(ValueError, match=r"\['braking_g'\] are hand-written keys and also domain parameters"):
        derived_section("X", create_model("K", __base__=Section, braking_g=(float, 0.3)), EngineParams)

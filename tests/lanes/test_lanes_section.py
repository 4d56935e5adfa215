"""The ``[lanes]`` section (issue 16 item 6): what users write, the validation errors and every
fingerprint stay as they were measured on the hand-written section, and each key reaches the
lane rules' params (``domain/lanes/rules.LaneParams``) under its own name."""

from __future__ import annotations

from dataclasses import fields

import pytest

from saferoad.application.stages.road_lanes import lane_params
from saferoad.config import load_config
from saferoad.domain.lanes.rules import LaneParams
from saferoad.domain.params import flat_params

# Measured on the code before the section was derived (commit 479c365: the hand-written
# LanesConfig, run from `git archive` in /tmp): config_hash of the section, with every default
# and with keys set. Every fingerprint (SaferoadConfig.fingerprint, the evaluation cache key)
# hashes the sections' dumps, so these unchanged keep them unchanged as far as lanes go.
SECTION_BEFORE = [
    (None, "8a25dbb229e6b929"),
    ({"min_line_confidence": 0.6, "departure_min_speed_mps": 10.0, "turn_signal_quiet_s": 3.0, "enabled": False},
     "8a09c806a5038de6"),
    ({"detector": "classical", "centre_band": 0.3, "max_gap_s": 2, "fusion_margin_s": 0.5, "flicker_s": 0.0},
     "26437d1dc1d4bda7"),
]  # fmt: skip

KEYS_BEFORE = {
    "enabled", "detector", "min_line_confidence", "departure_line_distance_m", "departure_min_speed_mps",
    "departure_min_duration_s", "departure_merge_gap_s", "quiet_after_lane_change_s", "turn_signal_quiet_s",
    "max_gap_s", "max_lateral_speed_mps", "gate_slack_m", "flicker_s", "centre_band", "fusion_margin_s",
}  # fmt: skip

# The errors a bad value gave before (file and key named), measured with the same commit.
ERRORS_BEFORE = [
    ("[lanes]\nmin_line_confidence = 0\n", "lanes.min_line_confidence: Input should be greater than 0 (got 0)"),
    ("[lanes]\ncentre_band = 0.5\n", "lanes.centre_band: Input should be less than 0.5 (got 0.5)"),
    ("[lanes]\ndetector = 'deep'\n", "lanes.detector: Input should be 'classical' (got 'deep')"),
    ("[lanes]\ndeparture_speed = 1\n", "lanes.departure_speed: unknown key"),
    ("[lanes]\ngate_slack_m = -1\n", "lanes.gate_slack_m: Input should be greater than or equal to 0 (got -1)"),
]  # fmt: skip


@pytest.mark.parametrize(("keys", "digest"), SECTION_BEFORE)
def test_the_section_dumps_and_hashes_as_before(section_pins, keys: dict[str, object] | None, digest: str) -> None:
    section_pins.dumps_as_before("lanes", keys, digest, KEYS_BEFORE)


@pytest.mark.parametrize(("body", "why"), ERRORS_BEFORE)
def test_a_bad_value_is_named_by_file_and_key_as_before(section_pins, body: str, why: str) -> None:
    section_pins.error_as_before(body, why)


def test_every_key_reaches_the_lane_params_under_its_own_name() -> None:
    # a non-default value for every parameter (a share kept below its bound)
    body = {f.name: round(getattr(LaneParams(), f.name) * (0.9 if f.name in {"centre_band", "min_line_confidence"} else 1.1), 6)
            for f in fields(LaneParams)}  # fmt: skip
    got = lane_params(load_config(None, {"lanes": body}).lanes)
    for name, value in body.items():
        assert getattr(got, name) == pytest.approx(value), name


def test_every_lane_parameter_is_a_documented_key_with_the_domain_default() -> None:
    """The keys are derived from LaneParams: the config's defaults are the domain's (before,
    ``LaneParams().departure_min_speed_mps`` was 31 mph = 13.8576 m/s while the config said
    13.9, which every run used), and only the stage's switch and detector are hand-written."""
    model = type(load_config().lanes)
    for name, _typ, default, info in flat_params(LaneParams):
        f = model.model_fields[name]
        assert f.default == default and f.description == info.description and info.description
    assert set(model.model_fields) - {n for n, *_ in flat_params(LaneParams)} == {"enabled", "detector"}
    assert lane_params(load_config().lanes) == LaneParams()


def test_the_config_pickles_through_the_derived_class(section_pins) -> None:
    cfg = load_config(None, {"lanes": {"centre_band": 0.3, "enabled": False}})
    again = section_pins.pickles(cfg)
    assert type(again.lanes) is type(cfg.lanes) and lane_params(again.lanes).centre_band == 0.3

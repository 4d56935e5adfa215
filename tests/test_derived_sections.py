"""The ``[motion]`` and ``[cabin]`` sections, whose rule parameters are declared once in the
domain's params dataclasses (issue 16 items 5-6): what users write, what a client of
``saferoad serve`` may set, the validation errors and every fingerprint stay as they were
while the keys are derived."""

from __future__ import annotations

import pytest

from saferoad.config import ConfigError, config_hash, load_config
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
def test_the_section_dumps_and_hashes_as_before(section: str, keys: dict[str, object] | None, digest: str) -> None:
    cfg = load_config(None, {section: keys} if keys else None)
    data = cfg.model_dump(mode="json")
    assert config_hash(data[section]) == digest
    assert cfg.fingerprint() == config_hash(data)
    # the dump written back as a table gives the same config
    assert load_config(None, {section: dict(data[section])}).fingerprint() == cfg.fingerprint()


@pytest.mark.parametrize("section", ["motion", "cabin"])
def test_the_client_allow_list_is_unchanged(section: str) -> None:
    assert {k.split(".", 1)[1] for k in CLIENT_OPTIONS if k.startswith(section + ".")} == CLIENT_BEFORE[section]


@pytest.mark.parametrize(("body", "why"), ERRORS_BEFORE)
def test_a_bad_value_is_named_by_file_and_key_as_before(tmp_path, body: str, why: str) -> None:
    conf = tmp_path / "c.toml"
    conf.write_text(body, encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(conf)
    assert str(err.value) == f"{conf}: invalid configuration\n  {why}"

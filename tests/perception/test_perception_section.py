"""The ``[perception]`` section's camera-geometry keys (issue 16 item 6): what users write, what
a client of ``saferoad serve`` may set, the validation errors and every fingerprint stay as
they were measured on the hand-written section, and each key reaches the geometry's params
(``domain/frame_geometry.GeometryParams``) under its own name."""

from __future__ import annotations

import ast
import dataclasses
import inspect
import textwrap

import pytest

from saferoad.application.perception import geometry_params
from saferoad.config import load_config
from saferoad.config.perception import _PerceptionKeys
from saferoad.domain.frame_geometry import GeometryParams
from saferoad.domain.params import flat_params
from saferoad.entrypoints.services.analysis_service import CLIENT_OPTIONS

# Measured on the code before the geometry keys were derived (commit 479c365: the
# hand-written PerceptionConfig, run from `git archive` in /tmp): config_hash of the section,
# with every default and with keys set. Every fingerprint (SaferoadConfig.fingerprint, the
# evaluation cache key) hashes the sections' dumps, so these unchanged keep them unchanged as
# far as perception goes.
SECTION_BEFORE = [
    (None, "87961af07e272e28"),
    ({"hfov_deg": 70.0, "camera_height_m": 1.5, "auto_pitch": False, "corridor_half_width_m": 2.0, "score_threshold": 0.35},
     "f2af3adb4b5dcd7a"),
    ({"camera_pitch_deg": 2.5, "band_near_m": 25.0, "band_margin_deg": 0.0, "lane_corridor": False,
      "lead_max_distance_m": 80, "range_rate_window_s": 0.8, "band_object_height_m": 3.5, "track_buffer_s": 2.0},
     "d0af4ac4d88d3b24"),
]  # fmt: skip

KEYS_BEFORE = {
    "auto_pitch", "band_margin_deg", "band_near_m", "band_object_height_m", "camera_height_m", "camera_pitch_deg",
    "corridor_half_width_m", "detector", "hfov_deg", "hood_fraction", "horizon_band", "image_fps",
    "intra_op_threads", "lane_corridor", "lead_max_distance_m", "model", "models_root", "nms_iou",
    "range_rate_window_s", "replay_path", "score_threshold", "spinning", "stride", "tiles", "track_buffer_s",
    "track_high_score", "track_images", "track_low_score", "track_match_iou", "track_new_score", "workers",
}  # fmt: skip

# The perception keys a client of `saferoad serve` could set, as listed by hand before.
CLIENT_BEFORE = {
    "detector", "score_threshold", "nms_iou", "track_high_score", "track_low_score",
    "track_new_score", "track_match_iou", "track_buffer_s", "hfov_deg", "auto_pitch",
    "lane_corridor", "corridor_half_width_m", "lead_max_distance_m", "range_rate_window_s",
    "hood_fraction",
}  # fmt: skip

# The errors a bad value gave before (file and key named), measured with the same commit.
ERRORS_BEFORE = [
    ("[perception]\nhfov_deg = 5\n", "perception.hfov_deg: Input should be greater than 10 (got 5)"),
    ("[perception]\ncamera_height_m = 0\n", "perception.camera_height_m: Input should be greater than 0 (got 0)"),
    ("[perception]\nband_margin_deg = -1\n", "perception.band_margin_deg: Input should be greater than or equal to 0 (got -1)"),
    ("[perception]\nlead_max_distance = 1\n", "perception.lead_max_distance: unknown key"),
    ("[perception]\nrange_rate_window_s = 0\n", "perception.range_rate_window_s: Input should be greater than 0 (got 0)"),
    ("[perception]\nauto_pitch = 'x'\n",
     "perception.auto_pitch: Input should be a valid boolean, unable to interpret input (got 'x')"),
]  # fmt: skip


@pytest.mark.parametrize(("keys", "digest"), SECTION_BEFORE)
def test_the_section_dumps_and_hashes_as_before(section_pins, keys: dict[str, object] | None, digest: str) -> None:
    section_pins.dumps_as_before("perception", keys, digest, KEYS_BEFORE)


def test_the_client_allow_list_is_unchanged() -> None:
    assert {k.split(".", 1)[1] for k in CLIENT_OPTIONS if k.startswith("perception.")} == CLIENT_BEFORE


@pytest.mark.parametrize(("body", "why"), ERRORS_BEFORE)
def test_a_bad_value_is_named_by_file_and_key_as_before(section_pins, body: str, why: str) -> None:
    section_pins.error_as_before(body, why)


def test_the_geometry_params_are_read_under_their_own_names() -> None:
    keys = SECTION_BEFORE[2][0]
    assert keys is not None
    got = geometry_params(load_config(None, {"perception": keys}))
    for name, value in keys.items():
        if name != "track_buffer_s":
            assert getattr(got, name) == pytest.approx(value), name


def test_every_geometry_parameter_is_a_documented_key_with_the_domain_default() -> None:
    model = type(load_config().perception)
    for name, _typ, default, info in flat_params(GeometryParams):
        f = model.model_fields[name]
        assert f.default == default and f.description == info.description and info.description
    assert geometry_params(load_config()) == GeometryParams()


def test_the_type_checker_names_of_the_geometry_keys_match_geometry_params() -> None:
    """``_PerceptionKeys`` names GeometryParams' fields for mypy only (``if TYPE_CHECKING``):
    the names and types there must be GeometryParams'."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(_PerceptionKeys)))
    block = next(n for n in ast.walk(tree) if isinstance(n, ast.If) and ast.unparse(n.test) == "TYPE_CHECKING")
    named = {ast.unparse(a.target): ast.unparse(a.annotation) for a in block.body if isinstance(a, ast.AnnAssign)}
    # both modules use postponed annotations: the annotations are the source's text
    assert named == {f.name: f.type for f in dataclasses.fields(GeometryParams)}


def test_the_config_pickles_through_the_derived_class(section_pins) -> None:
    cfg = load_config(None, {"perception": {"hfov_deg": 70.0, "camera_pitch_deg": 2.0}})
    again = section_pins.pickles(cfg)
    assert type(again.perception) is type(cfg.perception) and geometry_params(again).camera_pitch_deg == 2.0

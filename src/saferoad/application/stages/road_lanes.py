"""The road stage's lane part: lane rules over the lane observations the camera feed
collected, the camera's lane changes fused into the motion stage's events, ``lanes.parquet``.

``lanes.parquet`` (one row a video frame): ``frame``, ``t_s``, ``left_y_m`` / ``right_y_m``
(the ego lane's lines at the camera, vehicle frame, left +; null where not seen),
``left_confidence`` / ``right_confidence``, ``offset_m`` (the camera's offset from the lane
centre, left +) and ``width_m`` (null unless both lines are seen at ``lanes.min_line_confidence``),
``confidence`` (the smaller line confidence). The same offset, width and confidence go into
``timeline.parquet`` as ``lane_offset_m``, ``lane_width_m``, ``lane_confidence`` (the nearest
frame to each timeline row; NaN where none is near or the lane is unknown).
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from saferoad.application.context import AnalysisContext
from saferoad.config.lanes import LanesConfig
from saferoad.domain.lanes import (
    LaneObservation,
    LaneParams,
    LaneResult,
    fuse_lane_changes,
    lane_events,
)
from saferoad.domain.lanes.turn_signal import TurnSignals, quiet_signalled
from saferoad.domain.params import params_from
from saferoad.domain.types import Event, SpeedSeries


def lane_params(cfg: LanesConfig) -> LaneParams:
    """The domain's parameters from the config section (same names: the section's keys are
    derived from them, config/lanes.py)."""
    return params_from(LaneParams, cfg)


def run_lanes(
    ctx: AnalysisContext, observations: list[LaneObservation], speed: SpeedSeries | None, seconds: float
) -> tuple[list[Event], dict[str, Any]]:
    """``lane_departure`` events of the trip; the motion stage's ``aggressive_lane_change``
    events in ``ctx.events`` get the camera's direction; the summary's ``lanes`` entry."""
    params = lane_params(ctx.config.lanes)
    res = lane_events(
        observations,
        speed.t_s if speed is not None else None,
        speed.speed_mps if speed is not None else None,
        params,
    )
    # the blinker quiets the departures toward its side (domain/lanes/turn_signal.py)
    departures, signalled = quiet_signalled(
        res.events, TurnSignals.from_series(ctx.recording.turn_signal), params.turn_signal_quiet_s
    )
    fused = fuse_lane_changes(ctx.events, res.lane_changes, params)
    ctx.events[:] = fused
    if ctx.out_dir is not None:
        ctx.adapters.outputs.write_lanes(
            ctx.out_dir / "lanes.parquet", lanes_rows(observations, params.min_line_confidence)
        )
        timeline = ctx.artefacts.get("timeline")
        if isinstance(timeline, dict) and "t_s" in timeline and len(res.t_s):
            merged = {**timeline, **lane_timeline(np.asarray(timeline["t_s"], dtype=np.float64), res)}
            ctx.adapters.outputs.write_timeline(ctx.out_dir / "timeline.parquet", merged)
            ctx.artefacts["timeline"] = merged
    n = len(observations)
    summary = {
        "detector": ctx.config.lanes.detector,
        "frames": n,
        "frames_both_lines": res.frames_both,
        "frames_left_line": res.frames_left,
        "frames_right_line": res.frames_right,
        "both_lines_share": round(res.frames_both / n, 4) if n else None,
        "speed_known": res.speed_known,
        "lane_changes": [lc.to_dict() for lc in res.lane_changes],
        "departures": len(departures),
        "departures_signalled": len(signalled),
        "turn_signal": ctx.recording.turn_signal is not None,
        "ms_per_frame": round(1000.0 * seconds / n, 3) if n else None,
    }
    return departures, summary


def lane_timeline(t_s: np.ndarray, res: LaneResult) -> dict[str, np.ndarray]:
    """``lane_offset_m``, ``lane_width_m``, ``lane_confidence`` at the timeline's times: the
    nearest frame's, when one lies within half the frames' median interval (NaN otherwise)."""
    ft = res.t_s
    step = float(np.median(np.diff(ft))) if len(ft) > 1 else 0.1
    j = np.clip(np.searchsorted(ft, t_s), 1, max(len(ft) - 1, 1))
    i = np.where(np.abs(ft[j - 1] - t_s) <= np.abs(ft[np.minimum(j, len(ft) - 1)] - t_s), j - 1, np.minimum(j, len(ft) - 1))
    near = np.abs(ft[i] - t_s) <= step / 2.0 + 1e-9
    return {
        "lane_offset_m": np.where(near, res.offset_m[i], np.nan),
        "lane_width_m": np.where(near, res.width_m[i], np.nan),
        "lane_confidence": np.where(near, res.confidence[i], np.nan),
    }


LANES_COLUMNS = (
    "frame", "t_s", "left_y_m", "right_y_m", "left_confidence", "right_confidence",
    "offset_m", "width_m", "confidence",
)
"""``lanes.parquet``'s columns (docs/recording-format.md); the outputs adapter writes them."""


def lanes_rows(observations: list[LaneObservation], min_conf: float) -> dict[str, list[Any]]:
    """``lanes.parquet``'s rows, a list per column (``None`` for a null): the ego lane's lines
    of each frame, offset and width only where the frame's confidence reaches ``min_conf``."""

    def num(v: float | None) -> float | None:
        return None if v is None or not math.isfinite(v) else round(float(v), 4)

    rows: dict[str, list[Any]] = {name: [] for name in LANES_COLUMNS}
    for o in observations:
        rows["frame"].append(o.frame)
        rows["t_s"].append(round(o.t_s, 6))
        rows["left_y_m"].append(num(o.left.a) if o.left is not None else None)
        rows["right_y_m"].append(num(o.right.a) if o.right is not None else None)
        rows["left_confidence"].append(num(o.left.confidence) if o.left is not None else 0.0)
        rows["right_confidence"].append(num(o.right.confidence) if o.right is not None else 0.0)
        ok = o.confidence >= min_conf
        rows["offset_m"].append(num(o.offset_m) if ok else None)
        rows["width_m"].append(num(o.width_m) if ok else None)
        rows["confidence"].append(num(o.confidence))
    return rows

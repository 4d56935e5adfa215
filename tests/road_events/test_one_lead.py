"""One lead computation (issue 16): the lead's range rate and time to collision in
``tracks.parquet`` come from the same domain ``LeadTracker`` (same parameters, same history)
as the forward-collision rule, so the two agree frame by frame on a simulated lead braking."""

from __future__ import annotations

from pathlib import Path

import pyarrow.parquet as pq
import pytest

from saferoad.adapters.recording import open_recording
from saferoad.config import load_config
from saferoad.entrypoints.wiring import analyze_recording, simulate


def test_tracks_parquet_lead_ttc_equals_the_forward_collision_rule(tmp_path: Path) -> None:
    cfg = load_config(None, {"perception": {"detector": "replay"}})
    rec = tmp_path / "rec"
    simulate(
        "lead_braking", rec, seed=3, video=False, config=cfg,
        assignments=["speed_kmh=70", "lead_decel_g=0.8", "ego_decel_g=0.85", "reaction_s=1.3",
                     "headway_s=1.3", "at_s=5", "duration_s=16"],
    )
    out = tmp_path / "out"
    res = analyze_recording(open_recording(rec), cfg, out)
    fcw = [e for e in res.events if e.type.value == "forward_collision_warning"]
    assert fcw, "the scenario must give a forward-collision warning"
    rows = pq.read_table(out / "tracks.parquet").to_pylist()
    lead_rows = {r["frame"]: r for r in rows if r["is_lead"]}
    # the forward-collision rule is driven by these very frames: at the rule's key frame the
    # lead row of tracks.parquet has the rule's minimum TTC ...
    for ev in fcw:
        key = lead_rows[ev.evidence["key_frame"]]
        assert key["track_id"] == ev.evidence["lead_track_id"]
        assert key["ttc_s"] == pytest.approx(ev.peak["min_ttc_s"], abs=1e-3)
        # ... and no lead row inside the event has a smaller one
        inside = [
            r["ttc_s"] for f, r in lead_rows.items()
            if ev.evidence["first_frame"] <= f <= ev.evidence["last_frame"] and r["ttc_s"] is not None
        ]
        assert min(inside) == pytest.approx(ev.peak["min_ttc_s"], abs=1e-3)
    # the lead's range rate is a fit of the road-event window, not perception's 1 s one:
    # finite on the lead rows once three samples are in
    finite = [r for r in lead_rows.values() if r["range_rate_mps"] is not None]
    assert len(finite) > 0.9 * len(lead_rows)
    closing = [r for r in finite if r["range_rate_mps"] < -1.0]  # rounded to 1 mm/s
    assert closing and all(
        r["ttc_s"] == pytest.approx(r["distance_m"] / -r["range_rate_mps"], rel=2e-3) for r in closing
    )


def test_frames_without_objects_keep_the_lead_history_as_the_rule_does() -> None:
    """Frames with no objects still advance the lead's clock, so a stretch of empty frames
    (each closer than max_frame_gap_s to the next) is no gap for perception's lead either; with a
    range-rate window longer than that stretch the rule keeps its history and so must the
    tracks. Domain level: FrameGeometry against a LeadTracker fed every frame, as the engine is."""
    import numpy as np

    from saferoad.domain.frame_geometry import FrameGeometry, GeometryParams, PerceptionStats
    from saferoad.domain.road_events import RoadEventParams
    from saferoad.domain.road_events.lead import LeadTracker
    from saferoad.domain.types import Frame as DFrame
    from saferoad.domain.types import RoadClass, TrackedObject

    lp = RoadEventParams(range_rate_window_s=3.0, max_frame_gap_s=0.5)
    geo = FrameGeometry(None, GeometryParams(), None, True, PerceptionStats(), lp)
    rule = LeadTracker(None, None, lp.corridor_half_width_m, lp.range_rate_window_s)
    image = np.zeros((360, 640, 3), dtype=np.uint8)
    got, want = [], []
    for k in range(40):
        t = 0.1 * k
        empty = 10 <= k < 18  # 0.8 s without objects, frames 0.1 s apart
        objs = [] if empty else [
            TrackedObject(7, RoadClass.VEHICLE, 0.9, (300.0, 200.0, 340.0, 230.0), 40.0 - 2.0 * t)
        ]
        out = geo.apply(DFrame(k, t, image), objs, k, frozenset({7}))
        state = rule.update(t, tuple(out), 15.0, False)
        if out:
            assert out[0].is_lead
            got.append(out[0].attributes.get("range_rate_mps"))
            want.append(None if state is None or not np.isfinite(state.range_rate_mps)
                        else round(state.range_rate_mps, 3))
    assert got == want and got[-1] == pytest.approx(-2.0, abs=1e-3)

"""A simulated drive with a posted limit writes speed_zones.geojson, which analyze reads when
the config sets no limit (issue 15: speeding recall was 0 on simulated fleets)."""

from __future__ import annotations

import json
from pathlib import Path

from saferoad.adapters.recording import open_recording
from saferoad.config import load_config
from saferoad.entrypoints.wiring import analyze_recording, simulate


def test_simulated_limit_is_read_by_analyze(tmp_path: Path) -> None:
    cfg = load_config(None)
    rec = tmp_path / "rec"
    written = simulate("speeding", rec, assignments=["speed_kmh=75", "limit_kmh=50"], video=False, config=cfg).written
    assert "speed_zones.geojson" in written.files
    zone = json.loads((rec / "speed_zones.geojson").read_text())["features"][0]
    assert zone["properties"]["speed_limit_kmh"] == 50.0
    labels = [lb for lb in written.labels if lb.type == "speeding"]
    assert len(labels) == 1
    events = [e for e in analyze_recording(open_recording(rec), cfg, None).events if e.type.value == "speeding"]
    assert len(events) == 1
    assert abs(events[0].start_s - labels[0].start_s) < 1.0 and abs(events[0].end_s - labels[0].end_s) < 1.0
    # a limit in the config wins over the recording's own
    high = load_config(overrides={"road_events": {"speed_limit_kmh": 120.0}})
    assert not [e for e in analyze_recording(open_recording(rec), high, None).events if e.type.value == "speeding"]
    # a drive without a posted limit writes no zone
    calm = simulate("harsh_braking", tmp_path / "calm", video=False, config=cfg).written
    assert "speed_zones.geojson" not in calm.files

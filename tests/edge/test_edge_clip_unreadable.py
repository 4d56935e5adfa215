"""A clip the cutter wrote but that cannot be read back (the file gone, a read error) does not
stop the recorder: counted as failed and logged, the event spooled without its clip, as a clip
that cannot be cut is. Before, ``ClipCutter`` read the clip outside its guard: the replay
failed with the read's FileNotFoundError."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

from saferoad.adapters.recording import open_recording
from saferoad.application.edge import EdgeRecorder, event_id_for
from saferoad.config import load_config, parse_assignments
from saferoad.entrypoints.wiring import analysis_ports, open_spool, simulate
from saferoad.ports.clips import ClipResult


def test_a_clip_that_cannot_be_read_back_is_a_failed_clip_not_a_failed_drive(tmp_path: Path) -> None:
    rec_dir = tmp_path / "rec"
    simulate("lead_braking", rec_dir, assignments=["duration_s=12", "at_s=4", "camera.fps=10", "camera.width=320",
                                                   "camera.height=180"], seed=1)  # fmt: skip
    rec = open_recording(rec_dir)
    cfg = load_config(None, parse_assignments([
        "perception.detector=replay", f"perception.replay_path={rec_dir / 'detections.json'}", "lanes.enabled=false",
    ]))  # fmt: skip
    base = analysis_ports()
    asked: list[str] = []

    def cut_then_lose(video: Any, requests: Any, tracks: Any, out_dir: Path, **kw: Any) -> list[ClipResult]:
        """The real cutter, then the clip's file removed before the recorder reads it."""
        results = base.cut_clips(video, requests, tracks, out_dir, **kw)
        for res in results:
            asked.append(requests[0].name)
            if res.clip is not None:
                res.clip.unlink()
        return results

    spool = open_spool(cfg.edge, tmp_path / "spool.db")
    try:
        recorder = EdgeRecorder(cfg, ports=replace(base, cut_clips=cut_then_lose), spool=spool, clip_dir=tmp_path / "cutting")
        report = recorder.replay(rec, speed=0)
        ids = {event_id_for(report.trip_id, e) for e in report.events}
        assert report.events and report.clips == 0
        assert asked and set(asked) <= ids  # clips were asked for, and each was lost
        assert report.new_in_spool == len(report.events)  # every event spooled all the same
        assert {e["event_id"] for e in spool.events()} == ids
        assert recorder._clips is not None and recorder._clips.failed == len(asked)
        assert not (spool.clip_dir.exists() and any(spool.clip_dir.glob("*.mp4")))  # no clip spooled
        assert not [p for p in (tmp_path / "cutting").rglob("*") if p.is_file()]  # nothing left behind
    finally:
        spool.close()

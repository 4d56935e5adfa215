"""Live clips: the live recorder records the road camera's own video loop (segments named by
absolute time) and cuts each final event's clip from it, boxes drawn from the live tracks, into
the spool beside the event - as a replay cuts it from the recording's video. A simulated
lead-braking drive played live (video through ffmpeg at 10 fps, IMU over UDP, GPS NMEA on a pty)
in 4 s video segments: both events' clips (12 s windows, over several segments) are spooled
and show the very frames the replay's clips show, within one frame. That drive is
test_edge_live's (``check_clips_cut_from_the_loop`` is called from there): one 24 s drive on the
wall clock for its events and its clips."""

from __future__ import annotations

import io
import itertools
import json
from pathlib import Path
from typing import Any

import av
import numpy as np
from typer.testing import CliRunner

from saferoad.adapters.recording import open_recording
from saferoad.adapters.video.loop_video import video_segments
from saferoad.application.edge import (
    ClipCutter,
    EdgeRecorder,
    RecentTracks,
    event_id_for,
)
from saferoad.application.stages.road import _key_t
from saferoad.config import load_config, parse_assignments
from saferoad.entrypoints.cli.app import app
from saferoad.entrypoints.edge_live import build_live_recorder
from saferoad.entrypoints.wiring import analysis_ports, open_spool, simulate

FPS = 10.0


def _gray_frames(data: bytes) -> np.ndarray:
    """The clip's frames, grey, below the caption band (the caption names the key time)."""
    with av.open(io.BytesIO(data)) as c:
        frames = [f.to_ndarray(format="gray").astype(np.float32) for f in c.decode(video=0)]
    return np.stack(frames)[:, 40:, :]


def _best_shift(live: np.ndarray, replay: np.ndarray, max_shift: int = 4) -> tuple[int, dict[int, float]]:
    """The frame shift k (live frame i = replay frame i + k) with the smallest mean difference."""
    diffs = {}
    for k in range(-max_shift, max_shift + 1):
        i0, i1 = max(0, -k), min(len(live), len(replay) - k)
        diffs[k] = float(np.mean(np.abs(live[i0:i1] - replay[i0 + k : i1 + k])))
    return min(diffs, key=lambda k: diffs[k]), diffs


def check_clips_cut_from_the_loop(d: Any, tmp_path: Path) -> None:
    """The clips of a live drive with the video loop on (``d``: test_edge_live.LiveDrive, the
    24 s lead-braking drive, 4 s video segments) against the replay's of the same recording.
    Called by test_edge_live's test of that drive: one live drive for its two checks."""
    rec, common, loop = d.rec, d.common, d.loop
    assert rec.video is not None and rec.imu is not None and rec.gps is not None

    # the replay: clips cut from the recording's video
    rcfg = load_config(None, parse_assignments(common))
    rspool = open_spool(rcfg.edge, tmp_path / "replay.db")
    replay = EdgeRecorder(rcfg, ports=analysis_ports(), spool=rspool, clip_dir=tmp_path / "replay.cutting").replay(rec, speed=0)
    r_clips = {e.type.value: (_key_t(e), (rspool.clip_dir / f"{event_id_for(replay.trip_id, e)}.mp4").read_bytes())
               for e in replay.events}  # fmt: skip
    assert set(r_clips) == {"harsh_braking", "forward_collision_warning"}

    # live: the camera's loop in 4 s segments (edge.loop_video_segment_s), clips cut from it
    live, report, spool = d.live, d.report, d.spool
    zero = d.t_wall0 - live.origin

    segs = video_segments(loop)
    assert len(segs) >= 6, segs  # 24+ s of video in 4 s segments, continuous
    # one stream: each segment starts where the one before ended, named as the recorder timed
    # their first frames - the frame clock's estimate moves with the decoder's delay, never by
    # more than the largest lag it saw. Not the last: at the file's end ffmpeg hands out the
    # frames its filters and encoder held at once, and the least-delayed arrival moves earlier
    assert live.camera is not None and live.camera.clock is not None
    steps = [b.start - a.end for a, b in itertools.pairwise(segs)]
    assert all(a.run == b.run for a, b in itertools.pairwise(segs))
    assert max(abs(x) for x in steps[:-1]) <= live.camera.clock.max_lag_s + 1 / FPS, (steps, live.camera.clock.max_lag_s)
    assert report.clips == 2, (report.clips, [(e.type.value, e.start_s) for e in report.events])
    assert report.loop["segments_written"] >= 2  # the sensor segments beside them
    status = json.loads(CliRunner().invoke(app, ["edge", "--status", "--spool", str(d.spool_path)]).output)
    assert status["clips"] == {"queued": 2}  # for the uploader, after the events' metadata
    assert not list((d.dir / "spool.db.cutting").rglob("*.mp4"))  # cut, moved into the spool
    assert not list((d.dir / "spool.db.cutting").rglob("*.ts"))  # the joined loop video removed

    for ev in report.events:
        if ev.type.value not in r_clips:
            continue
        key_b, r_data = r_clips[ev.type.value]
        key_l = _key_t(ev) - zero  # on the drive's clock
        l_data = (spool.clip_dir / f"{event_id_for(report.trip_id, ev)}.mp4").read_bytes()
        lf, rf = _gray_frames(l_data), _gray_frames(r_data)
        # the window: as long as the replay's, where it lies follows the event's own time
        assert abs(len(lf) - len(rf)) <= 1, (ev.type.value, len(lf), len(rf))
        expected = round((key_l - key_b) * FPS)  # frames the live event's key lies after the replay's
        shift, diffs = _best_shift(lf, rf)
        print(f"{ev.type.value}: live key - replay key {key_l - key_b:+.3f} s, frames {len(lf)} / {len(rf)}, "
              f"content shift {shift} frames (expected {expected}; mean difference by shift {({k: round(v, 2) for k, v in diffs.items()})}), steps {[round(x, 3) for x in steps]}")  # fmt: skip
        # the live clip shows the frames the recorder's clock says, within one frame
        assert abs(shift - expected) <= 1, (ev.type.value, shift, expected, key_l, key_b, diffs)
        if ev.type.value == "harsh_braking":  # IMU timing: the same window as the replay's
            assert abs(key_l - key_b) <= 1 / FPS, (key_l, key_b)


def test_live_video_loop_keeps_to_its_budget(tmp_path: Path) -> None:
    """The live recorder runs retention as video segments land (no sensor feed here, so no sensor
    segment ever triggers it): the oldest go first, what is left fits the budget."""
    rec_dir = tmp_path / "rec"
    simulate("lead_braking", rec_dir, assignments=["duration_s=12", "at_s=4"], seed=1)
    loop = tmp_path / "loop"
    budget_mb = 0.08  # about three of its 1 s segments (640x360 at 10 fps: ~26 kB each here)
    cfg = load_config(None, parse_assignments([
        "perception.detector=replay", f"perception.replay_path={rec_dir / 'detections.json'}", "lanes.enabled=false",
        f"edge.camera={rec_dir / 'video.mp4'}", "edge.camera_width=640", "edge.camera_height=360", "edge.camera_fps=10",
        f"edge.loop_dir={loop}", "edge.loop_video_segment_s=1", f"edge.loop_budget_mb={budget_mb}",
    ]))  # fmt: skip
    live = build_live_recorder(cfg, sinks=[], spool=None, status_path=None)
    try:
        report = live.run(duration_s=7.0)
    finally:
        live.close()
    left = video_segments(loop)
    sizes = sum(s.path.stat().st_size for s in left)
    print(f"video loop: {report.loop}, {len(left)} segments left, {sizes} bytes (budget {budget_mb * 2**20:.0f})")
    # the folder, finished + unfinished segments, at every pass (before its deletions) within the
    # budget, so no overflow. The reservation may still lack room (max_reserve_short_bytes, not
    # asserted): under load a pass can find a finished part not yet moved beside the growing one
    # (reserved at the largest segment + 1.5 s): ~3.5 segments reserved over a ~3-segment budget
    # (docs/edge.md)
    assert report.loop["segments_deleted"] >= 2 and report.loop["segments_locked"] == 0, report.loop
    assert report.loop["max_used_bytes"] <= budget_mb * 2**20, report.loop
    assert report.loop["max_over_budget_bytes"] == 0, report.loop
    assert left and sizes <= budget_mb * 2**20
    # the newest kept: what is left runs without a gap to the end of the recording
    assert all(abs(b.start - a.end) <= 2 / FPS for a, b in itertools.pairwise(left))
    assert left[-1].end - live.start_wall >= 6.0


def test_an_unreadable_video_costs_the_clip_not_the_recorder(tmp_path: Path) -> None:
    """A loop segment that cannot be decoded (a disk error, a half-written file): the clip is
    counted as failed and logged; the event stays spooled, the recorder goes on."""
    bad = tmp_path / "segment.ts"
    bad.write_bytes(b"\x47" + bytes(1000))
    cfg = load_config(None, parse_assignments([]))
    cutter = ClipCutter(cfg, RecentTracks(60.0), tmp_path / "cutting", analysis_ports(), lambda a, b, k: (bad, a))
    simulate("harsh_braking", tmp_path / "rec", assignments=["duration_s=20", "at_s=6"], seed=1, video=False)
    rec = open_recording(tmp_path / "rec")
    rep = EdgeRecorder(cfg, ports=analysis_ports()).replay(rec, speed=0)
    (ev,) = rep.events
    cutter.add("e1", ev)
    assert cutter.finish() == [] and cutter.failed == 1 and cutter.cut == 0

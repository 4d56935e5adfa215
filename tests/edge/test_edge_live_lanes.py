"""Lane markings live: the live camera's inference stage runs the replay's lane-marking
detector on each inferred frame; the observations feed the windowed ``lane_departure`` stream
and its fast alert. A simulated lane-departure drive with video, played as a live camera (ffmpeg
on the file at its own pace) with its IMU over UDP and its GPS as NMEA on a serial line, gives
analyze's departure (same side and severity, its times on the recorder's clock), announced at
the completing frame and confirmed by the final departure."""

from __future__ import annotations

from pathlib import Path

from saferoad.adapters.recording import open_recording
from saferoad.application.edge import CallbackSink
from saferoad.config import load_config, parse_assignments
from saferoad.domain.alerts import Alert
from saferoad.domain.types import EventType
from saferoad.entrypoints.edge_live import build_live_recorder
from saferoad.entrypoints.wiring import analyze_recording, simulate

from .test_edge_live import _drive_live, _live_config


def test_live_camera_gives_analyzes_lane_departure(tmp_path: Path) -> None:
    rec_dir = tmp_path / "rec"
    common = ["perception.detector=replay", "road_events.clips=false"]
    # 12 s: the drift out 4-7 s, back 8-11 s; the departure 5.9-9.0 s (16 s before: same times)
    simulate("lane_departure", rec_dir, assignments=["duration_s=12", "at_s=4", "direction=right"], seed=5,
             config=load_config(None, parse_assignments(common)))  # fmt: skip
    common.append(f"perception.replay_path={rec_dir / 'detections.json'}")
    rec = open_recording(rec_dir)
    (batch,) = [e for e in analyze_recording(rec, load_config(None, parse_assignments(common))).events
                if e.type is EventType.LANE_DEPARTURE]  # fmt: skip
    assert rec.imu is not None and rec.gps is not None and rec.video is not None and rec.meta.start_utc is not None

    cfg, imu_port, master, slave = _live_config(common, rec, rec_dir)
    alerts: list[Alert] = []
    live = build_live_recorder(cfg, sinks=[CallbackSink(alerts.append)], spool=None, status_path=None)
    assert live.camera is not None and live.camera.lane_detector is not None
    report, t_wall0 = _drive_live(live, rec, imu_port, master, slave)

    status = live.last_status.get("camera")
    got = [e for e in report.events if e.type is EventType.LANE_DEPARTURE]
    assert len(got) == 1, (got, batch, report.lanes, status)
    (ev,) = got
    assert (ev.direction, ev.severity) == (batch.direction, batch.severity)
    # frames are timed by their arrival from the decoder: the drive's zero on the recorder's
    # clock plus the decode latency (measured well under 0.25 s, as the live FCW test)
    zero = t_wall0 - live.origin
    frame = 1.0 / 10
    assert abs(ev.start_s - zero - batch.start_s) < 0.25, (ev, batch, zero, status)
    assert abs((ev.end_s - ev.start_s) - (batch.end_s - batch.start_s)) <= 2 * frame + 1e-6, (ev, batch)
    assert report.lanes["frames"] >= 0.8 * rec.duration_s * 10, (report.lanes, status)
    assert status is not None and status["lanes"] and status["dropped_lanes_queue"] == 0, status
    # announced once, at the completing frame; the final departure confirmed it
    (alert,) = [a for a in alerts if a.event.type is EventType.LANE_DEPARTURE]
    assert alert.provisional and alert.event.direction == ev.direction
    assert abs(alert.event.start_s - ev.start_s) <= frame + 1e-6
    # sensor time from the completing frame to the step that ran it: a step, plus the frame's
    # own way through inference to the rules (the camera's lag bound above, 0.25 s)
    (lag,) = report.fast_lane_lag_s
    assert 0.0 <= lag <= cfg.edge.tick_s + 0.25, (lag, status)
    assert report.fast_lanes["confirmed"] == 1 and report.fast_lanes["retracted"] == 0

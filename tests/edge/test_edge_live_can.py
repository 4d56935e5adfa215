"""The live recorder with a vehicle-bus feed and speed zones, with real parts: a simulated
drive's IMU, GPS and CAN (``can.csv``'s lines, as a CAN gateway sends them) over UDP on
127.0.0.1 on the wall clock, the configured speed-zone file applied live. The speed the rules
use is the CAN's fused with the IMU/GPS as in ``analyze`` and the replay of the recording (same
source, same distance), and the speeding event is theirs on the same drive and zones."""

from __future__ import annotations

import socket
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from saferoad.adapters.recording import open_recording
from saferoad.adapters.sensors import UdpCanFeed
from saferoad.application.edge import EdgeRecorder
from saferoad.config import load_config, parse_assignments
from saferoad.domain.types import EventType
from saferoad.entrypoints.cli.app import app
from saferoad.entrypoints.edge_live import build_live_recorder
from saferoad.entrypoints.wiring import analysis_ports, analyze_recording, simulate


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _send_rows(rows: np.ndarray, port: int, t_wall0: float, stop: threading.Event) -> None:
    """CSV lines of ``rows`` (first column: the sensor's own t_s) over UDP, each when its time
    has come on the wall clock from ``t_wall0``; the lines due together in one datagram."""
    t_first = float(rows[0, 0])
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
        i = 0
        while i < len(rows) and not stop.is_set():
            wait = t_wall0 + (rows[i, 0] - t_first) - time.monotonic()
            if wait > 0:
                time.sleep(min(wait, 0.02))
                continue
            now_t = time.monotonic() - t_wall0 + t_first
            j = i
            while j < len(rows) and rows[j, 0] <= now_t and j - i < 50:
                j += 1
            lines = "\n".join(",".join("" if np.isnan(v) else f"{v:.6f}" for v in r) for r in rows[i:j])
            tx.sendto(lines.encode(), ("127.0.0.1", port))
            i = j


def test_live_can_speed_and_speed_zones_give_analyzes_speeding(tmp_path: Path) -> None:
    rec_dir = tmp_path / "rec"
    written = simulate("speeding", rec_dir, assignments=["duration_s=16", "at_s=2", "over_s=8", "speed_kmh=75", "limit_kmh=50",
                                                         "can.enabled=true"], video=False, detections=False).written  # fmt: skip
    assert {"can.csv", "speed_zones.geojson"} <= set(written.files)
    rec = open_recording(rec_dir)
    assert rec.imu is not None and rec.gps is not None and rec.can_speed is not None and rec.imu.gyro is not None
    # the zones file configured (as a fleet would); a shorter minimum duration than the 60 s
    # default keeps the wall-clock drive short, the same in both: 16 s, over the limit from the
    # ramp (5.5 s) to the drive's end, 10.5 s >= 8 s (24 s before, the event 5.4-24.0 s)
    zones = [f"road_events.speed_zones={rec_dir / 'speed_zones.geojson'}", "road_events.speeding_min_duration_s=8"]
    out = tmp_path / "analyze"
    batch = analyze_recording(rec, load_config(None, parse_assignments(zones)), out)
    (sp_b,) = [e for e in batch.events if e.type is EventType.SPEEDING]
    summary = batch.summary
    assert summary["speed_source"] is not None and "can" in summary["speed_source"], summary["speed_source"]
    # the replay of the recording (can.csv read from the file) is analyze's too: the baseline
    replay = EdgeRecorder(load_config(None, parse_assignments(zones)), ports=analysis_ports()).replay(rec, speed=0)
    (sp_r,) = [e for e in replay.events if e.type is EventType.SPEEDING]
    assert (sp_r.start_s, sp_r.end_s) == pytest.approx((sp_b.start_s, sp_b.end_s), abs=1e-6)
    assert replay.speed_source == summary["speed_source"]

    ports = {k: _free_udp_port() for k in ("imu", "gps", "can")}
    cfg = load_config(None, parse_assignments([
        *zones, f"edge.imu_udp=127.0.0.1:{ports['imu']}", f"edge.gps_udp=127.0.0.1:{ports['gps']}",
        f"edge.can_udp=127.0.0.1:{ports['can']}", f"edge.device_meta={rec_dir / 'meta.toml'}", "edge.status_interval_s=1",
    ]))  # fmt: skip
    live = build_live_recorder(cfg, sinks=[], spool=None, status_path=None)
    g = rec.gps
    series = {
        "imu": np.column_stack([rec.imu.t_s, rec.imu.acc, rec.imu.gyro]),
        "gps": np.column_stack([g.t_s, g.lat, g.lon, g.speed_mps, g.course_deg, g.alt_m]),
        "can": np.column_stack([rec.can_speed.t_s, rec.can_speed.speed_mps]),
    }
    stop = threading.Event()
    t_wall0 = time.monotonic() + 0.2
    senders = [threading.Thread(target=_send_rows, args=(series[k], ports[k], t_wall0, stop), daemon=True) for k in series]
    for s in senders:
        s.start()
    try:
        report = live.run(duration_s=(t_wall0 - live.origin) + rec.duration_s + 1.0)
    finally:
        stop.set()
        live.close()
        for s in senders:
            s.join(timeout=5)
    st = live.last_status
    assert st["sensors"]["can_udp"]["samples"] == len(rec.can_speed) and st["sensors"]["can_udp"]["bad"] == 0, st["sensors"]
    assert "can_udp" in st["heartbeats_s"]
    # the zones' GPS fixes waited for their final speed (about guard + hop of 10 Hz fixes), none given up
    assert st["speeding"]["dropped_no_speed"] == 0 and 0 < st["speeding"]["max_fixes_waiting"] <= 10 * (
        cfg.edge.motion_guard_s + cfg.edge.motion_hop_s + 2 * cfg.edge.tick_s + cfg.road_events.max_gap_s
    ), st["speeding"]
    # the CAN speed went into the fusion: analyze's speed source, and its distance to the metre
    # per kilometre (the live clocks are aligned per feed at their first sample)
    assert report.speed_source == summary["speed_source"]
    assert report.distance_km == pytest.approx(summary["distance_km"], rel=0.01)
    # the speeding event from the configured zones, live: analyze's, shifted by the senders' start
    (sp_l,) = [e for e in report.events if e.type is EventType.SPEEDING]
    zero = t_wall0 - live.origin
    print(
        f"\nlive CAN: speed source {report.speed_source} ({summary['speed_source']}), distance {report.distance_km:.4f} km "
        f"({summary['distance_km']:.4f}); speeding {sp_l.start_s - zero:.3f}..{sp_l.end_s - zero:.3f} s "
        f"({sp_b.start_s:.3f}..{sp_b.end_s:.3f})"
    )
    tick = 1.0 / cfg.road_events.tick_hz
    assert sp_l.start_s - zero == pytest.approx(sp_b.start_s, abs=tick + 0.05)
    assert sp_l.end_s - zero == pytest.approx(sp_b.end_s, abs=tick + 0.05)
    assert sp_l.evidence.keys() == sp_b.evidence.keys()
    for k, v in sp_b.evidence.items():
        if isinstance(v, float):
            assert sp_l.evidence[k] == pytest.approx(v, rel=0.02, abs=0.5), k
        elif k != "clip_window_s":
            assert sp_l.evidence[k] == v, k


def test_udp_can_feed_gives_speed_and_turn_signal_and_names_bad_lines() -> None:
    port = _free_udp_port()
    feed = UdpCanFeed(f"127.0.0.1:{port}", origin=time.monotonic())
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
            tx.sendto(b"t_s,speed_mps,turn_signal\n10.00,20.0,0\n10.02,20.1,-1\n10.04,20.2\n10.06,20.3,2\n10.08,-1,0\n", ("127.0.0.1", port))
        end = time.monotonic() + 5
        while feed.stats.lines < 6 and time.monotonic() < end:
            time.sleep(0.02)
        speed, turn = feed.poll_can()
    finally:
        feed.close()
    assert feed.poll() == (None, None)  # no IMU or GPS from a CAN feed
    assert speed is not None and turn is not None
    assert speed.speed_mps.tolist() == [20.0, 20.1, 20.2] and speed.source == "can"
    # the sensor's spacing kept; a line without a turn signal gives a speed only
    assert np.diff(speed.t_s) == pytest.approx([0.02, 0.02], abs=1e-9)
    assert turn.state.tolist() == [0.0, -1.0] and turn.t_s.tolist() == speed.t_s[:2].tolist()
    assert feed.stats.bad == 2 and feed.stats.samples == 3
    assert feed.stats.last_error is not None and "datagram 1 line 6: field 'speed_mps'" in feed.stats.last_error


def test_live_can_feed_config_is_checked() -> None:
    with pytest.raises(ValueError, match=r"edge\.can_udp"):
        load_config(None, parse_assignments(["edge.can_udp=nohost"]))


def test_check_opens_the_can_feed_and_says_what_came(tmp_path: Path) -> None:
    port = _free_udp_port()

    def talk() -> None:
        time.sleep(0.7)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
            tx.sendto(b"0.00,13.9,0\n0.02,13.9,x\n", ("127.0.0.1", port))

    t = threading.Thread(target=talk, daemon=True)
    t.start()
    try:
        res = CliRunner().invoke(app, ["edge", "--check", "--spool", str(tmp_path / "s.db"), "--set", f"edge.can_udp=127.0.0.1:{port}"])
    finally:
        t.join()
    assert res.exit_code == 0, res.output
    out = " ".join(res.output.split())
    assert f"can_udp 127.0.0.1:{port}: open; 2 lines, 1 samples, 1 refused" in out and "field 'turn_signal'" in out, out

"""The recorder live, with real parts: a simulated drive's IMU sent as imu.csv lines over UDP on
127.0.0.1, its GPS as NMEA sentences through a pseudo-terminal (the serial port), its video
played by ffmpeg at its own rate through the live camera source, all on the wall clock. The
events are analyze's on the same drive: same types, times within the rules' sensor
resolution (motion) and the camera's decode latency (road). Each stage heartbeats into the
status; a slow detector makes the stride adapt, with every skipped frame counted."""

from __future__ import annotations

import json
import math
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np
import paho.mqtt.client as mqtt
import pynmea2
import pytest
from paho.mqtt.enums import CallbackAPIVersion
from typer.testing import CliRunner

from saferoad.adapters.recording import open_recording
from saferoad.adapters.spool import SqliteSpool
from saferoad.adapters.video.lanes import lane_horizon
from saferoad.adapters.video.live import FfmpegFrameSource
from saferoad.application.edge import CallbackSink, EdgeReport
from saferoad.application.edge_live import (
    Heartbeats,
    LiveCamera,
    LiveRecorder,
    LiveRoad,
    read_status,
)
from saferoad.config import SaferoadConfig, load_config, parse_assignments
from saferoad.domain.alerts import Alert
from saferoad.domain.event_specs import Family, spec
from saferoad.domain.recording import Recording, RecordingMeta
from saferoad.domain.types import Detections, Frame, GpsSeries, ImuSeries
from saferoad.entrypoints.cli.app import app
from saferoad.entrypoints.edge_live import build_live_recorder
from saferoad.entrypoints.wiring import analysis_ports, analyze_recording, open_spool, simulate

from .test_edge_live_clips import check_clips_cut_from_the_loop


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _ddmm(v: float, pos: str, neg: str, deg_digits: int) -> tuple[str, str]:
    a = abs(v)
    d = int(a)
    return f"{d:0{deg_digits}d}{(a - d) * 60:09.6f}", pos if v >= 0 else neg


def _nmea_epoch(t0_utc: Any, t: float, lat: float, lon: float, speed: float, course: float, alt: float) -> bytes:
    when = t0_utc + timedelta(seconds=t)
    hms = when.strftime("%H%M%S") + f".{when.microsecond // 10000:02d}"
    la, ns = _ddmm(lat, "N", "S", 2)
    lo, ew = _ddmm(lon, "E", "W", 3)
    kn = "" if math.isnan(speed) else f"{speed * 3600 / 1852:.4f}"
    crs = "" if math.isnan(course) else f"{course:.2f}"
    gga = pynmea2.types.talker.GGA("GP", "GGA", (hms, la, ns, lo, ew, "1", "09", "0.9", f"{alt:.1f}", "M", "0.0", "M", "", ""))
    rmc = pynmea2.types.talker.RMC("GP", "RMC", (hms, "A", la, ns, lo, ew, kn, crs, when.strftime("%d%m%y"), "", "", "A"))
    return f"{gga}\r\n{rmc}\r\n".encode()


def _send_imu(
    imu: ImuSeries, port: int, t_wall0: float, stop: threading.Event, sent: list[float] | None = None
) -> None:
    """Send the IMU rows as ``imu.csv`` lines, each datagram when its last row is due; ``sent``
    gets each datagram's send time (``time.monotonic()`` read just before ``sendto``)."""
    assert imu.gyro is not None
    rows = np.column_stack([imu.t_s, imu.acc, imu.gyro])
    t_first = float(imu.t_s[0])
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
        i = 0
        while i < len(rows) and not stop.is_set():
            due = t_wall0 + (rows[i, 0] - t_first)
            wait = due - time.monotonic()
            if wait > 0:
                time.sleep(min(wait, 0.02))
                continue
            j = i
            now_t = time.monotonic() - t_wall0 + t_first
            while j < len(rows) and rows[j, 0] <= now_t and j - i < 50:
                j += 1
            lines = "\n".join(",".join(f"{v:.6f}" for v in r) for r in rows[i:j])
            if sent is not None:
                sent.append(time.monotonic())
            tx.sendto(lines.encode(), ("127.0.0.1", port))
            i = j


def _send_gps(gps: GpsSeries, t0_utc: Any, master: int, t_wall0: float, stop: threading.Event) -> None:
    t_first = float(gps.t_s[0])
    for k in range(len(gps)):
        if stop.is_set():
            return
        wait = t_wall0 + (float(gps.t_s[k]) - t_first) - time.monotonic()
        if wait > 0:
            time.sleep(wait)
        os.write(master, _nmea_epoch(t0_utc, float(gps.t_s[k]), float(gps.lat[k]), float(gps.lon[k]),
                                     float(gps.speed_mps[k]), float(gps.course_deg[k]), float(gps.alt_m[k])))  # fmt: skip


def _live_config(common: list[str], rec: Any, rec_dir: Path) -> tuple[SaferoadConfig, int, int, int]:
    """The live recorder's settings for a simulated drive: its video as the camera (640x360 at
    10 fps), IMU on a free UDP port, GPS on a new pty: (config, IMU port, pty master, slave)."""
    imu_port = _free_udp_port()
    master, slave = os.openpty()
    cfg = load_config(None, parse_assignments([
        *common, f"edge.camera={rec.video}", "edge.camera_width=640", "edge.camera_height=360", "edge.camera_fps=10",
        f"edge.imu_udp=127.0.0.1:{imu_port}", f"edge.gps_serial={os.ttyname(slave)}",
        f"edge.device_meta={rec_dir / 'meta.toml'}", "edge.status_interval_s=1",
    ]))  # fmt: skip
    return cfg, imu_port, master, slave


def _drive_live(
    live: Any, rec: Any, imu_port: int, master: int, slave: int, imu_sent: list[float] | None = None
) -> tuple[Any, float]:
    """Play the recording's IMU (UDP) and GPS (NMEA on the pty) to the live recorder from the
    camera's first frame, run it for the drive and close it: (report, that frame's wall time).
    The video file starts "recording" when ffmpeg emits its first frame: the drive's time zero
    for the sensors too (a live camera and live sensors both start at capture). ``imu_sent``
    gets the IMU datagrams' send times."""
    assert live.camera is not None
    stop = threading.Event()
    end = time.monotonic() + 30
    while live.camera.source.last_frame_at is None and time.monotonic() < end:
        time.sleep(0.005)
    t_wall0 = live.camera.source.last_frame_at
    assert t_wall0 is not None, live.camera.source.stats
    senders = [
        threading.Thread(target=_send_imu, args=(rec.imu, imu_port, t_wall0, stop, imu_sent), daemon=True),
        threading.Thread(target=_send_gps, args=(rec.gps, rec.meta.start_utc, master, t_wall0, stop), daemon=True),
    ]
    for s in senders:
        s.start()
    try:
        report = live.run(duration_s=(t_wall0 - live.origin) + rec.duration_s + 1.0)
    finally:
        stop.set()
        live.close()
        for s in senders:
            s.join(timeout=5)
        os.close(master)
        os.close(slave)
    return report, float(t_wall0)


def _streamed(events: list[Any]) -> list[Any]:
    fams = {Family.MOTION, Family.ROAD}
    return sorted((e for e in events if spec(e.type).family in fams), key=lambda e: (e.start_s, e.type.value))


@dataclass
class LiveDrive:
    """A simulated drive played live into the live recorder, and what it left."""

    dir: Path
    rec_dir: Path
    rec: Recording
    common: list[str]
    """Settings the drive shares with its analyze and replay baselines (replay detector, no lanes)."""
    cfg: SaferoadConfig
    live: LiveRecorder
    """Closed after the drive: its origin, camera clock and last status."""
    report: EdgeReport
    t_wall0: float
    """The wall time of the camera's first frame: the drive's time zero."""
    alerts: list[Alert]
    statuses: list[dict[str, Any]]
    spool: SqliteSpool
    spool_path: Path
    status_file: Path
    loop: Path
    frames: dict[int, float]
    """The camera's frames the rules took: index -> time on the recorder's clock (frame clock)."""
    imu_sent: list[float]
    """The IMU datagrams' send times (``time.monotonic()``, the sender's)."""
    imu_received: list[tuple[float, float]]
    """The IMU feed's datagrams: (arrival as its clock stamped it, ``time.monotonic()`` once the
    feed had taken it), in the order received."""


def _play_lead_braking_live(tmp: Path) -> LiveDrive:
    """A 24 s lead-braking drive (braking at 10 s) played live on the wall clock - its video
    through ffmpeg at 10 fps as the road camera, IMU over UDP, GPS NMEA on a pty - into the live
    recorder with a spool, a status file, a sink keeping every alert and status, and the video
    loop on (4 s video segments, 10 s sensor segments), clips cut into the spool."""
    rec_dir = tmp / "rec"
    simulate("lead_braking", rec_dir, assignments=["duration_s=24", "at_s=10"], seed=1)
    common = ["perception.detector=replay", f"perception.replay_path={rec_dir / 'detections.json'}", "lanes.enabled=false"]
    rec = open_recording(rec_dir)
    loop = tmp / "loop"
    cfg, imu_port, master, slave = _live_config(
        [*common, f"edge.loop_dir={loop}", "edge.loop_video_segment_s=4", "edge.loop_segment_s=10"], rec, rec_dir
    )
    alerts: list[Alert] = []
    statuses: list[dict[str, Any]] = []

    class StatusSink(CallbackSink):
        def status(self, status: dict[str, Any]) -> None:
            statuses.append(status)

    spool_path, status_file = tmp / "spool.db", tmp / "status.json"
    spool = open_spool(cfg.edge, spool_path)
    live = build_live_recorder(cfg, sinks=[StatusSink(alerts.append)], spool=spool, status_path=status_file,
                               clip_dir=tmp / "spool.db.cutting")  # fmt: skip
    frames: dict[int, float] = {}
    take = live.camera.take  # called by run() only: wrapped before it starts

    def took() -> list[tuple[float, int, tuple[Any, ...]]]:
        items = take()
        frames.update((i, t) for t, i, _ in items)
        return items

    live.camera.take = took  # type: ignore[method-assign]
    imu_sent: list[float] = []
    imu_received: list[tuple[float, float]] = []
    (imu_feed,) = [f for f in live.feeds if f.name == "imu_udp"]
    feed = imu_feed.feed  # its reader thread calls it with the arrival its clock read

    def fed(data: bytes, arrival: float) -> None:
        feed(data, arrival)
        imu_received.append((arrival, time.monotonic()))

    imu_feed.feed = fed
    report, t_wall0 = _drive_live(live, rec, imu_port, master, slave, imu_sent)
    return LiveDrive(tmp, rec_dir, rec, common, cfg, live, report, t_wall0, alerts, statuses, spool, spool_path,
                     status_file, loop, frames, imu_sent, imu_received)  # fmt: skip


def test_live_drive_gives_analyzes_events_and_cuts_their_clips_from_the_loop(tmp_path: Path) -> None:
    """One live drive, two checks (each played the same 24 s drive on the wall clock before):
    its events are analyze's (below), and its clips, cut from the camera's video loop, show the
    replay's frames (test_edge_live_clips.check_clips_cut_from_the_loop)."""
    d = _play_lead_braking_live(tmp_path)
    try:
        _events_are_analyzes(d)
        check_clips_cut_from_the_loop(d, tmp_path)
    finally:
        d.spool.close()


def _events_are_analyzes(d: LiveDrive) -> None:
    rec, cfg, live, report, t_wall0, alerts, statuses = d.rec, d.cfg, d.live, d.report, d.t_wall0, d.alerts, d.statuses
    batch = _streamed(analyze_recording(rec, load_config(None, parse_assignments(d.common))).events)
    assert {e.type.value for e in batch} == {"harsh_braking", "forward_collision_warning"}
    assert rec.imu is not None and rec.gps is not None and rec.video is not None and rec.meta.start_utc is not None

    got = _streamed(report.events)
    # the same events as analyze; their order may differ where two start within the camera's
    # lag against the sensors (below): here the braking and the collision warning start together
    assert sorted(e.type.value for e in got) == sorted(e.type.value for e in batch), ([(e.type.value, e.start_s, e.end_s) for e in got], [(e.type.value, e.start_s, e.end_s) for e in batch], live.last_status.get("camera"), [s.get("camera", {}).get("stride") for s in statuses])
    # live times are the recorder's clock (seconds since it started); the sensors keep their
    # own spacing, aligned at the first sample: the IMU's clock is offset by the first
    # datagram's arrival on the recorder's clock less the first row's own time, and the harsh
    # braking (IMU only) starts that much later than analyze's (to one 100 Hz resample)
    (hb_b,) = [e for e in batch if e.type.value == "harsh_braking"]
    (hb_l,) = [e for e in got if e.type.value == "harsh_braking"]
    shift = hb_l.start_s - hb_b.start_s
    zero = t_wall0 - live.origin  # the drive's time zero on the recorder's clock
    assert d.imu_sent and d.imu_received, (len(d.imu_sent), len(d.imu_received), live.last_status.get("sensors"))
    arrival, taken = d.imu_received[0]
    first_row_t = float(rec.imu.t_s[0])  # the first datagram starts with the first row
    assert shift == pytest.approx(arrival - live.origin - first_row_t, abs=0.011), (shift, arrival - live.origin)
    # that arrival is the recorder's clock's (time.monotonic()), read between the first
    # datagram's send and the feed's taking it: causal, however long the transport and the
    # reader thread's wake-up took on a loaded machine; the sender started at the drive's zero
    assert zero <= d.imu_sent[0] - live.origin <= arrival - live.origin <= taken - live.origin, (
        zero, d.imu_sent[0] - live.origin, arrival - live.origin, taken - live.origin)  # fmt: skip
    print(f"live motion: first IMU datagram sent {d.imu_sent[0] - t_wall0:+.4f} s after the drive's zero, stamped "
          f"{(arrival - d.imu_sent[0]) * 1e3:.3f} ms after its send; braking shift {shift:.4f} s (zero {zero:.4f} s)")  # fmt: skip
    # the braking's length is the drive's own to one 100 Hz resample (samples kept their spacing)
    assert hb_l.end_s - hb_l.start_s == pytest.approx(hb_b.end_s - hb_b.start_s, abs=0.011)
    # the camera's frames are timed by the frame clock (edge.camera_fps): frame i at i x period
    # plus the least-delayed arrival's offset. The live warning starts at the clock's time of the
    # frame the replay's starts at - another one only by frames the rules did not get (the
    # adaptive stride, the ring) in the 3 s before: the relation holds whatever the load
    (fcw_b,) = [e for e in batch if e.type.value == "forward_collision_warning"]
    (fcw_l,) = [e for e in got if e.type.value == "forward_collision_warning"]
    assert cfg.edge.camera_fps is not None
    period = 1.0 / cfg.edge.camera_fps
    k_b = round(fcw_b.start_s / period)
    assert fcw_b.start_s == pytest.approx(k_b * period, abs=1e-6)  # the replay's frames are at the same rate
    (k_l,) = [i for i, t in d.frames.items() if t == pytest.approx(fcw_l.start_s, abs=1e-9)]
    missed = sum(i not in d.frames for i in range(min(k_b, k_l) - round(3.0 / period), max(k_b, k_l) + 1))
    assert abs(k_l - k_b) <= missed, (k_b, k_l, missed, live.last_status.get("camera"))
    # against the sensors' clock: the senders started at the first frame the test saw (zero: frame
    # 0's arrival, or a later frame's on a loaded machine), the camera's clock is the offset of the
    # frames' least-delayed arrival, so the lag is the start-up of two processes, not a fixed
    # figure; bounded by the rules' latency; the first frame was timed at its arrival, not after
    lag = fcw_l.start_s - zero - fcw_b.start_s
    first = min(d.frames)
    assert d.frames[first] - first * period <= zero + 1e-6, (first, d.frames[first], zero)
    assert abs(lag) <= cfg.edge.motion_guard_s + cfg.edge.motion_hop_s, lag
    print(f"live road: warning at frame {k_l} (replay {k_b}), lag {lag:+.3f} s against the sensors, clock offset "
          f"{d.frames[k_l] - k_l * period - zero:+.3f} s, first frame seen {zero - d.frames[first] + first * period:.3f} s "
          f"after frame {first}'s time; camera {live.last_status.get('camera')}")  # fmt: skip
    # alerts: the harsh braking announced early, the collision warning at once (grace 0)
    assert {a.event.type.value for a in alerts} >= {"harsh_braking", "forward_collision_warning"}
    # every stage beat; while recording none was stale
    running = [s for s in statuses if s.get("state") == "recording" and "heartbeats_s" in s]
    assert len(running) >= 10
    mid = running[len(running) // 2]
    assert set(mid["heartbeats_s"]) == {"camera", "inference", "imu_udp", "gps_serial", "rules"}
    assert mid["stale"] == [], mid
    assert all(a is not None and a <= cfg.edge.heartbeat_stale_s for a in mid["heartbeats_s"].values()), mid
    assert mid["camera"]["decoded"] > 0 and mid["camera"]["stride"] >= 1
    assert mid["budget"]["cpu_cores"] is not None and mid["budget"]["rss_mib"] > 50
    assert mid["sensors"]["gps_serial"]["bad"] == 0 and mid["sensors"]["imu_udp"]["samples"] > 0
    # the status file holds the last status, read back by edge --status
    on_disk = read_status(d.status_file)
    assert on_disk is not None and on_disk["state"] == "idle" and on_disk["trip_id"] == report.trip_id
    out = CliRunner().invoke(app, ["edge", "--status", "--spool", str(d.spool_path)])
    assert out.exit_code == 0, out.output
    # events are in the spool; the trip too (spooled at the end of the drive)
    assert report.new_in_spool == len(report.events)


class SlowDetector:
    """A detector far slower than the camera (sleeps ``delay_s`` per frame, finds nothing)."""

    name = "slow"

    def __init__(self, delay_s: float) -> None:
        self.delay_s = delay_s
        self.indices: list[int] = []

    def detect(self, frame: Frame) -> Detections:
        time.sleep(self.delay_s)
        self.indices.append(frame.index)
        return Detections(np.zeros((0, 4)), np.zeros(0), ())


def test_slow_inference_adapts_the_stride_and_counts_every_dropped_frame(shared_dir: Path) -> None:
    video = shared_dir / "data" / "video" / "highway_vehicles_720p.mp4"
    cfg = load_config(None, parse_assignments(["edge.max_stride=8"]))
    origin = time.monotonic()
    src = FfmpegFrameSource(str(video), 320, 180, realtime=True, ring=4, loop_file=True)
    det = SlowDetector(0.1)  # 100 ms per frame on a 30 fps camera: 3 frames' time
    cam = LiveCamera(src, det, cfg, RecordingMeta(), origin, Heartbeats(), width=320, height=180, nominal_fps=30.0,
                     horizon=lane_horizon).start()  # fmt: skip
    try:
        time.sleep(6.0)
        st = cam.status(time.monotonic())
    finally:
        cam.close()
    # at least 0.1 s x the camera's rate / 0.8 target load (4 at 30 fps; the rate is measured:
    # ffmpeg on a busy machine may deliver fewer), and not pinned at the maximum
    assert 20.0 <= st["fps_in"] <= 33.0, st
    assert math.ceil(0.1 * st["fps_in"] / 0.8) <= st["stride"] < 8, st
    assert st["inference_load"] <= 0.9, st
    # every decoded frame is inferred, skipped by the stride, dropped by the ring or waiting
    assert st["decoded"] >= st["inferred"] + st["dropped_stride"] + st["dropped_ring"] - 1
    assert st["dropped"] == st["dropped_ring"] + st["dropped_stride"] + st["dropped_queue"] + st["dropped_late"]
    assert st["dropped_stride"] > st["inferred"]  # most frames skipped on purpose, counted
    assert det.indices == sorted(det.indices)


def test_check_opens_the_feeds_and_says_what_came(tmp_path: Path) -> None:
    port = _free_udp_port()
    master, slave = os.openpty()
    tty = os.ttyname(slave)

    def talk() -> None:
        time.sleep(0.7)
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
            tx.sendto(b"0.00,0.1,0.2,9.8\n0.01,0.1,0.2,9.8\n0.02,x,0.2,9.8\n", ("127.0.0.1", port))
        os.write(master, b"$GPRMC,081500.00,A,3540.0000,N,13945.0000,E,10.0,90.0,201126,,,A*00\r\n")

    t = threading.Thread(target=talk, daemon=True)
    t.start()
    try:
        res = CliRunner().invoke(app, ["edge", "--check", "--spool", str(tmp_path / "s.db"),
                                       "--set", f"edge.imu_udp=127.0.0.1:{port}", "--set", f"edge.gps_serial={tty}"])  # fmt: skip
    finally:
        t.join()
        os.close(master)
        os.close(slave)
    assert res.exit_code == 0, res.output
    out = " ".join(res.output.split())
    assert f"imu_udp 127.0.0.1:{port}: open; 3 lines, 2 samples, 1 refused" in out
    assert "field 'ax': not a number" in out
    assert f"gps_serial {tty}: open; 1 lines, 0 samples, 1 refused" in out and "bad checksum" in out
    # two GPS feeds at once is a configuration error, named
    bad = CliRunner().invoke(app, ["edge", "--check", "--set", "edge.gps_udp=127.0.0.1:9", "--set", f"edge.gps_serial={tty}"])
    assert bad.exit_code != 0 and "one live GPS feed at a time" in bad.output


def test_cli_live_run_for_a_duration_writes_its_status(tmp_path: Path, ingest_server: Any) -> None:
    port = _free_udp_port()
    stop = threading.Event()

    def send() -> None:  # a resting device: gravity on z at 50 Hz
        t = 0.0
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as tx:
            while not stop.is_set():
                tx.sendto(f"{t:.3f},0.0,0.0,9.81".encode(), ("127.0.0.1", port))
                t += 0.02
                time.sleep(0.02)

    sender = threading.Thread(target=send, daemon=True)
    sender.start()
    spool = tmp_path / "spool.db"
    ingest_server.start()
    try:
        res = CliRunner().invoke(
            app, ["edge", "--duration", "3", "--spool", str(spool), "-o", str(tmp_path / "out"), "--upload",
                  "--set", f"edge.imu_udp=127.0.0.1:{port}", "--set", "edge.status_interval_s=0.5",
                  "--set", f"edge.ingest_url={ingest_server.url}"],
            env={"SAFEROAD_DEVICE_TOKEN": ingest_server.token},
        )  # fmt: skip
    finally:
        stop.set()
        sender.join()
    assert res.exit_code == 0, res.output
    figures = json.loads((tmp_path / "out" / "edge.json").read_text())
    assert figures["events"] == 0 and figures["ticks"] >= 20
    live = figures["live"]
    assert live["state"] == "idle" and set(live["heartbeats_s"]) == {"imu_udp", "rules"}
    assert live["sensors"]["imu_udp"]["samples"] >= 100 and live["sensors"]["imu_udp"]["bad"] == 0
    st = json.loads(CliRunner().invoke(app, ["edge", "--status", "--spool", str(spool)]).output)
    assert st["live"]["trip_id"] == live["trip_id"] and st["live"]["written_s_ago"] >= 0
    # --upload on a live drive: the trip opened at its start and its summary, each once, in order
    assert ingest_server.state.arrivals == [("trip", live["trip_id"]), ("summary", live["trip_id"])]
    assert ingest_server.state.trips[live["trip_id"]]["summary"]["duration_s"] > 2.0


def test_live_status_with_heartbeats_goes_out_on_mqtt(tmp_path: Path) -> None:
    exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(exe).exists():
        pytest.fail("mosquitto is not installed (scripts/system-deps.sh installs it)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        mqtt_port = s.getsockname()[1]
    conf = tmp_path / "mosquitto.conf"
    conf.write_text(f"listener {mqtt_port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    broker = subprocess.Popen([exe, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    got: list[dict[str, Any]] = []
    sub = mqtt.Client(CallbackAPIVersion.VERSION2)
    sub.on_message = lambda _c, _u, m: got.append(json.loads(m.payload))
    sub.on_connect = lambda cl, *_: cl.subscribe("saferoad/unknown/status", qos=1)
    try:
        deadline = time.monotonic() + 10
        while True:
            try:
                socket.create_connection(("127.0.0.1", mqtt_port), timeout=0.2).close()
                break
            except OSError:
                assert time.monotonic() < deadline, "mosquitto did not start"
                time.sleep(0.05)
        sub.connect("127.0.0.1", mqtt_port)
        sub.loop_start()
        port = _free_udp_port()  # a feed nobody sends on: its heartbeat never comes
        res = CliRunner().invoke(app, ["edge", "--duration", "2.5", "--no-spool", "--set", f"edge.imu_udp=127.0.0.1:{port}",
                                       "--set", "edge.mqtt_host=127.0.0.1", "--set", f"edge.mqtt_port={mqtt_port}",
                                       "--set", "edge.status_interval_s=0.5"])  # fmt: skip
        assert res.exit_code == 0, res.output
        time.sleep(0.5)
    finally:
        sub.loop_stop()
        sub.disconnect()
        broker.terminate()
        broker.wait(timeout=10)
    beats = [m for m in got if "heartbeats_s" in m]
    assert len(beats) >= 3, got
    assert all(m["stale"] == ["imu_udp"] for m in beats), beats  # the silent feed, named
    assert beats[-1]["heartbeats_s"]["rules"] < 1.0 and beats[-1]["heartbeats_s"]["imu_udp"] is None
    assert got[-1]["state"] == "offline"  # a clean stop says so (the last will covers a crash)


def test_frames_without_speed_are_bounded_and_counted() -> None:
    road = LiveRoad(SaferoadConfig(), fx=320.0, cx=320.0, max_waiting_frames=50)
    road.add([(0.1 * i, i, ()) for i in range(120)])  # a camera, no sensor: no final speed comes
    assert len(road.waiting) == 50 and road.dropped_no_speed == 70
    assert road.waiting[0][1] == 70  # the newest kept, the oldest dropped


def test_a_live_recorder_records_one_drive(tmp_path: Path) -> None:
    """run() records one drive: a second call on the same recorder is refused, naming why (it
    went on with the first run's state - its spool sink, with the first run's clip cutter, its
    clock's start, its closed camera - and the same trip id)."""
    spool = open_spool(SaferoadConfig().edge, tmp_path / "spool.db")
    try:
        live = LiveRecorder(SaferoadConfig(), ports=analysis_ports(), feeds=[], origin=time.monotonic(),
                            beats=Heartbeats(), spool=spool)  # fmt: skip
        report = live.run(duration_s=0.0)
        assert report.ticks == 0 and report.events == []
        with pytest.raises(RuntimeError, match=r"LiveRecorder\.run.*called once.*a new recorder"):
            live.run(duration_s=0.0)
    finally:
        spool.close()


def test_killed_decoder_in_the_live_recorder_is_back_and_the_gap_in_its_status(shared_dir: Path) -> None:
    video = shared_dir / "data" / "video" / "highway_vehicles_720p.mp4"
    cfg = load_config(None, parse_assignments(["edge.status_interval_s=0.5"]))
    origin = time.monotonic()
    beats = Heartbeats()
    src = FfmpegFrameSource(str(video), 320, 180, realtime=True, loop_file=True, fps=30, stall_s=2.0)
    cam = LiveCamera(src, SlowDetector(0.0), cfg, RecordingMeta(), origin, beats, width=320, height=180,
                     frame_period_s=1 / 30, horizon=lane_horizon).start()  # fmt: skip
    statuses: list[dict[str, Any]] = []

    class StatusSink(CallbackSink):
        def status(self, status: dict[str, Any]) -> None:
            statuses.append(status)

    live = LiveRecorder(cfg, ports=analysis_ports(), feeds=[], camera=cam, origin=origin, beats=beats, sinks=[StatusSink(lambda _a: None)],
                        decoder_pids=lambda: [] if src.pid is None else [src.pid])  # fmt: skip

    def kill_at(t: float) -> None:
        time.sleep(t)
        pid = src.pid
        assert pid is not None
        os.kill(pid, signal.SIGKILL)

    killer = threading.Thread(target=kill_at, args=(3.0,), daemon=True)
    killer.start()
    try:
        live.run(duration_s=8.0)
    finally:
        live.close()
        killer.join()
    cams = [s["camera"] for s in statuses if "camera" in s]
    last = cams[-1]
    assert last["restarts"] == 1 and len(last["gaps_s"]) == 1 and last["gaps_s"][0] <= 2.5, last
    # the camera's heartbeat went stale at most briefly and is fresh again by the end
    ages = [s["heartbeats_s"]["camera"] for s in statuses if "heartbeats_s" in s and s["state"] == "recording"]
    assert ages[-1] is not None and ages[-1] < 0.5, ages
    assert last["decoded"] > 30 * 4  # frames before and after the kill

"""The live drive recorder (``saferoad edge``): streaming rules, in-cab alerts, the on-device
spool and the uploader to the fleet's ingest API (docs/edge.md)."""

from __future__ import annotations

import string
from typing import Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from saferoad.config.base import Section
from saferoad.domain.motion.stream_params import StreamParams
from saferoad.domain.types import EventType


class UploadCap(Section):
    """At most so many uploads of one event type per clock hour and per day (UTC, event time)."""

    per_hour: int = Field(..., ge=0, description="Events of this type uploaded per hour at most.")
    per_day: int = Field(..., ge=0, description="Events of this type uploaded per day at most.")


def _type_keys(value: dict[str, object], key: str) -> dict[str, object]:
    known = {t.value for t in EventType}  # at call time: a rule module may define a type later
    for name in value:
        if name not in known:
            raise ValueError(f"edge.{key}: {name!r} is not an event type ({', '.join(sorted(known))})")
    return value


def mqtt_topic_prefix(template: str, device_id: str) -> str:
    """The MQTT topic prefix ``template`` (``edge.mqtt_topic``) gives for ``device_id``, trailing
    ``/`` dropped. ``{device_id}`` is its only placeholder (a literal brace is written twice); the
    prefix is a publish topic: not empty, no ``+`` or ``#`` wildcard, no NUL. A ValueError says
    what is wrong."""
    try:
        parts = list(string.Formatter().parse(template))
    except ValueError as err:
        raise ValueError(f"{template!r}: {err} (a literal brace is written twice: {{{{ }}}})") from None
    for _, name, spec, conversion in parts:
        if name is not None and (name != "device_id" or spec or conversion):
            field = "{" + name + ("!" + conversion if conversion else "") + (":" + spec if spec else "") + "}"
            raise ValueError(f"{template!r}: placeholder {field} is not known; the only one is {{device_id}}")
    prefix = template.format(device_id=device_id).rstrip("/")
    if not prefix:
        raise ValueError(f"{template!r}: the topic prefix is empty")
    bad = sorted({c for c in prefix if c in "+#\0"})
    if bad:
        raise ValueError(
            f"{template!r} gives the topic prefix {prefix!r}: {' and '.join(map(repr, bad))} may not be in a publish topic (MQTT wildcards, NUL)"
        )
    return prefix


class EdgeConfig(Section):
    """The live drive recorder: streaming rules, in-cab alerts, on-device spool and uploader."""

    recording: str | None = Field(
        None,
        description="Source of `saferoad edge --config`: a recording folder replayed as if live; `--replay REC` overrides it. Unset: the live recorder on camera, imu_udp, gps_udp / gps_serial.",
    )
    camera: str | None = Field(
        None,
        description="Live road camera: /dev/video0 (V4L2), rtsp:// or http:// URL, or a file (played at its own rate, as if live); decoded by an ffmpeg child process into a bounded ring, restarted by a watchdog; checked by `--check`.",
    )
    camera_width: int = Field(1280, gt=0, description="Width the live camera's frames are scaled to (even).")
    camera_height: int = Field(720, gt=0, description="Height the live camera's frames are scaled to (even).")
    camera_ring: int = Field(
        8, ge=1, le=256, description="Frames the live camera's ring holds; when inference falls behind the oldest are dropped and counted."
    )
    camera_stall_s: float = Field(
        2.0, gt=0, description="The watchdog restarts the camera's decoder when no frame came for this long (or it exited)."
    )
    camera_fps: float | None = Field(
        None,
        gt=0,
        description="Live camera's frame rate: ffmpeg delivers exactly this rate and each frame is timed by its index from the least-delayed arrival (decode bursts do not reach the road rules' kinematics). Unset: frames as they come, timed by arrival.",
    )
    cabin_camera: str | None = Field(
        None,
        description="Live cabin (driver-facing) camera: /dev/video1, rtsp:// or http:// URL, or a file (played at its own rate); read like the road camera (ffmpeg ring, watchdog), each frame through analyze's face pipeline and phone detector on a thread of its own, the cabin rules every step. Unset = no live cabin rules. A replay streams the recording's cabin.mp4 instead.",
    )
    cabin_camera_width: int = Field(640, gt=0, description="Width the live cabin camera's frames are scaled to (even).")
    cabin_camera_height: int = Field(360, gt=0, description="Height the live cabin camera's frames are scaled to (even).")
    cabin_camera_fps: float | None = Field(
        None,
        gt=0,
        description="Live cabin camera's frame rate: frames timed by index from the least-delayed arrival, as camera_fps. Unset: timed by arrival.",
    )
    imu_udp: str | None = Field(
        None,
        description="Live IMU feed: listen on this HOST:PORT (UDP) for lines in imu.csv's columns (t_s,ax,ay,az[,gx,gy,gz]; the sensor's own t_s, aligned to the recorder's clock at the first sample). Unset = no live IMU.",
    )
    gps_udp: str | None = Field(
        None,
        description="Live GPS feed: listen on this HOST:PORT (UDP) for lines in gps.csv's columns (t_s,lat,lon[,speed_mps,course_deg,alt_m]). Not with gps_serial.",
    )
    gps_serial: str | None = Field(
        None,
        description="Live GPS feed: an NMEA 0183 receiver on this serial port (/dev/ttyUSB0, /dev/ttyACM0); RMC, GGA and VTG are read, bad checksums counted and skipped. Not with gps_udp.",
    )
    gps_baud: int = Field(
        9600, gt=0, description="Baud rate of gps_serial (NMEA 0183 specifies 4800; most current receivers, u-blox among them, default to 9600)."
    )
    can_udp: str | None = Field(
        None,
        description="Live vehicle-bus feed: listen on this HOST:PORT (UDP) for lines in can.csv's columns (t_s,speed_mps[,turn_signal]; turn_signal -1 left, 0 off, 1 right), as a CAN gateway decodes them: the vehicle speed for the motion rules (as a recording's can.csv) and the turn signal that quiets lane_departure toward its side. Unset = no live CAN.",
    )
    device_meta: str | None = Field(
        None,
        description="The live device's installation, in a recording's meta.toml format: device/vehicle/driver ids, [imu] axes and mounting, [camera] intrinsics and mount. Unset: unknown ids, device axes, the camera from perception.hfov_deg.",
    )
    max_stride: int = Field(
        8, ge=1, le=64, description="Live camera: inference runs on every stride-th frame, the stride adapting to keep up (up to this); frames skipped are counted and reported per minute."
    )
    stride_target_load: float = Field(
        0.8, gt=0, le=1, description="Live camera: the stride is the smallest that keeps inference busy at most this share of the time (headroom for jitter)."
    )
    cpu_budget_cores: float | None = Field(
        2.0, gt=0, description="CPU budget of the live recorder (cores: its process and the camera decoder), measured every status interval; over it, the inference stride is raised. Unset = not enforced (still reported)."
    )
    memory_budget_mb: float | None = Field(
        1536.0, gt=0, description="Memory budget of the live recorder (resident MiB: its process and the camera decoder), measured and reported in the status; over it is logged and flagged. Unset = not checked."
    )
    status_interval_s: float = Field(
        5.0, gt=0, description="Live recorder: how often (wall s) its status - per-stage heartbeat ages, frames and drops, CPU and memory - goes to the status sinks (MQTT: retained) and the status file read by `edge --status`."
    )
    heartbeat_stale_s: float = Field(
        3.0, gt=0, description="Live recorder: a stage whose last heartbeat is older than this (wall s) is reported stale (three missed fixes of a 1 Hz GPS)."
    )
    speed: float = Field(
        1.0,
        ge=0,
        description="Replay speed: N times real time on a simulated clock; 0 = as fast as possible.",
    )
    tick_s: float = Field(
        0.1,
        gt=0,
        le=1.0,
        description="Sensor time delivered to the rules per step (s): the replay feeds samples in chunks of this length, as a live driver would read them.",
    )
    motion_window_s: float = Field(
        60.0,
        gt=0,
        description="Streaming motion rules: look-back (sensor s) re-analysed by the batch engine at each hop; at least 3 x guard + hop.",
    )
    motion_hop_s: float = Field(
        1.0, gt=0, description="Streaming motion rules: how often the window is re-analysed (sensor s)."
    )
    motion_guard_s: float = Field(
        10.0,
        ge=0,
        description="Streaming motion rules: an event is final (and alerted) once it ended this long before the newest sample; the rules' longest look-ahead (rebound_s 4 s + merge_gap_s 1.5 s + 1.5 s turn margin + filter settling). Alert latency <= guard + hop.",
    )
    motion_early_alert_s: float | None = Field(
        2.0,
        ge=0,
        description="Early in-cab alerts for harsh driving: alert once an event ended this long before the newest sample (the rules' merge gap, 1.5 s, plus margin), before it is final; the event is spooled when final (the alert is then confirmed) or the alert counts as retracted. Unset (or equal to motion_guard_s): alert only final events (latency guard + hop).",
    )
    alert_grace_s: dict[str, float] = Field(
        default_factory=lambda: {
            "harsh_braking": 10.0,
            "harsh_acceleration": 10.0,
            "harsh_cornering": 10.0,
            "aggressive_lane_change": 10.0,
            "tailgating": 60.0,
            "speeding": 60.0,
            "distraction": 10.0,
            "drowsiness": 0.0,
            "forward_collision_warning": 0.0,
            "camera_obstructed": 300.0,
        },
        description="Per event type: after an in-cab alert, alerts of the same type are held back this long (s) - they are still recorded and uploaded. Harsh driving 10 s (the span of Samsara's harsh-event clip), tailgating and speeding 60 s (Netradyne's 10-20 s correction window, then once a minute), distraction 10 s (openpilot escalates within 11 s), drowsiness and collision warnings never held back. A type not listed uses 10 s.",
    )
    alert_udp: str | None = Field(
        None,
        description="Send each in-cab alert as one JSON datagram to this loopback HOST:PORT (the cab display); never blocks the recorder.",
    )
    mqtt_host: str | None = Field(
        None, description="MQTT broker for alerts and status (e.g. 127.0.0.1); unset = no MQTT."
    )
    mqtt_port: int = Field(1883, ge=1, le=65535, description="MQTT broker port.")
    mqtt_topic: str = Field(
        "saferoad/{device_id}",
        description="Topic prefix ({device_id}: the recorder's device id, the only placeholder): alerts go to PREFIX/events (QoS 1, not retained), the recorder's status to PREFIX/status (retained; the broker publishes 'offline' as the last will).",
    )
    loop_dir: str | None = Field(
        None,
        description="Loop recording: folder of continuous sensor segments (IMU, GPS, CAN as received); unset = off. Oldest segments are deleted first within loop_budget_mb; segments holding an event not yet uploaded are locked.",
    )
    loop_segment_s: float = Field(60.0, gt=0, description="Loop recording: length of one segment (sensor s), as dashcams' 1-minute files.")
    loop_budget_mb: float = Field(
        1024.0, gt=0, description="Loop recording: disk budget of the segments (MiB); locked segments are kept even over it (reported)."
    )
    loop_video: bool = Field(
        True,
        description="Loop recording with a live road camera (edge.camera): the camera's ffmpeg also writes continuous MPEG-TS video segments into loop_dir (same budget and retention as the sensor segments); each final event's clip is cut from them into the spool. False = sensor segments only, no live clips.",
    )
    loop_video_segment_s: float | None = Field(
        None, gt=0, description="Loop recording: length of one video segment (s). Unset = loop_segment_s."
    )
    loop_video_codec: Literal["auto", "copy", "libx264"] = Field(
        "auto",
        description="How the video loop is written: copy = the source's H.264 packets as they come (no re-encoding; segments cut at the camera's key frames), libx264 = the decoded frames encoded (ultrafast, loop_video_crf; CPU cost in docs/edge.md), auto = copy for rtsp:// sources, libx264 otherwise (V4L2, MJPEG over HTTP, files).",
    )
    loop_video_crf: int = Field(
        23, ge=0, le=51, description="Loop recording, libx264: constant rate factor (x264's default 23; lower = better and larger)."
    )
    spool: str = Field(
        "edge-spool.db",
        description="On-device spool (SQLite, WAL, fsynced): trips, events, clips and their upload state. Relative to the working folder.",
    )
    ingest_url: str | None = Field(
        None,
        description="Base URL of the fleet's ingest API (e.g. https://fleet.example/api/v1/ingest); unset = record and spool only.",
    )
    device_token_env: str = Field(
        "SAFEROAD_DEVICE_TOKEN",
        description="Environment variable holding the device's bearer token for the ingest API (never stored in the config file).",
    )
    upload_caps: dict[str, UploadCap] = Field(
        default_factory=lambda: {"tailgating": UploadCap(per_hour=5, per_day=10)},
        description="Per event type: uploads per hour / per day (UTC, by event time); events over the cap stay on the device with status 'capped'. Default: Samsara's following-distance cap of 5 an hour and 10 a day.",
    )
    backoff_base_s: float = Field(
        1.0, gt=0, description="Uploader: first retry delay after a transient error (s), doubled per attempt."
    )
    backoff_max_s: float = Field(
        300.0, gt=0, description="Uploader: longest retry delay (s); each delay is drawn with full jitter below it."
    )
    request_timeout_s: float = Field(10.0, gt=0, description="Uploader: timeout of one HTTP request (s).")
    upload_poll_s: float = Field(
        1.0, gt=0, description="Uploader during the drive (`edge --replay REC --upload`): when its queue is empty, it looks for newly spooled entries this often (wall s)."
    )
    clip_chunk_bytes: int = Field(
        1 << 20, ge=1024, description="Uploader: clip bytes sent per resumable PATCH."
    )

    @field_validator("alert_grace_s")
    @classmethod
    def _grace_types(cls, v: dict[str, float]) -> dict[str, float]:
        _type_keys(dict(v), "alert_grace_s")
        if any(s < 0 for s in v.values()):
            raise ValueError("edge.alert_grace_s: grace periods must be >= 0")
        return v

    @field_validator("upload_caps")
    @classmethod
    def _cap_types(cls, v: dict[str, UploadCap]) -> dict[str, UploadCap]:
        _type_keys(dict(v), "upload_caps")
        return v

    @field_validator("alert_udp")
    @classmethod
    def _udp(cls, v: str | None) -> str | None:
        if v is not None:
            host, _, port = v.rpartition(":")
            if not host or not port.isdigit():
                raise ValueError(f"edge.alert_udp: {v!r} is not HOST:PORT")
        return v

    @field_validator("mqtt_topic")
    @classmethod
    def _topic(cls, v: str) -> str:
        """Checked at load, with a stand-in device id (the recorder's is known at run time)."""
        try:
            mqtt_topic_prefix(v, "device")
        except ValueError as err:
            raise ValueError(f"edge.mqtt_topic: {err}") from None
        return v

    @field_validator("imu_udp", "gps_udp", "can_udp")
    @classmethod
    def _feed_address(cls, v: str | None, info: ValidationInfo) -> str | None:
        if v is not None:
            host, _, port = v.rpartition(":")
            if not host or not port.isdigit() or not 0 < int(port) < 65536:
                raise ValueError(f"edge.{info.field_name}: {v!r} is not HOST:PORT")
        return v

    @model_validator(mode="after")
    def _one_gps(self) -> EdgeConfig:
        if self.gps_udp is not None and self.gps_serial is not None:
            raise ValueError("edge.gps_udp/gps_serial: one live GPS feed at a time, not both")
        return self

    @model_validator(mode="after")
    def _window(self) -> EdgeConfig:
        """The streaming rules' own checks (:class:`StreamParams`), named by these fields."""
        try:
            StreamParams(self.motion_window_s, self.motion_hop_s, self.motion_guard_s, self.motion_early_alert_s)
        except ValueError as err:
            raise ValueError(f"edge.motion_window_s/motion_hop_s/motion_guard_s/motion_early_alert_s: {err}") from None
        return self

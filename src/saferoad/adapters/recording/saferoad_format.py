"""saferoad's own recording layout (docs/recording-format.md): reader and writer.

The writer is what the simulator and converters call::

    write_recording(folder, meta, imu, gps, can=None, labels=None)

and the reader turns such a folder back into a :class:`~saferoad.domain.recording.Recording`.
"""

from __future__ import annotations

import difflib
import json
import math
import tomllib
from collections.abc import Sequence
from datetime import UTC, date, datetime, time
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from saferoad.adapters.arrow_columns import float_column
from saferoad.adapters.input_warnings import warn
from saferoad.adapters.recording._csv import (
    check_size,
    locate_bad_value,
    read_header,
    read_numeric_csv,
    read_numeric_groups,
)
from saferoad.adapters.recording.gps import read_gps_file
from saferoad.adapters.recording.labels import read_labels_jsonl, write_labels_jsonl
from saferoad.adapters.recording.registry import register
from saferoad.adapters.recording.series import (
    check_clocks,
    check_declared_duration,
    check_imu_units,
    check_video_clock,
    clean_can,
    clean_imu,
    cross_check_can,
    declared_duration,
    plausible_track,
)
from saferoad.domain.recording import Mounting, Recording, RecordingMeta
from saferoad.domain.types import (
    CameraIntrinsics,
    CameraMount,
    EventLabel,
    FloatArray,
    G,
    GpsSeries,
    ImuSeries,
    SpeedSeries,
    TurnSignalSeries,
)

FORMAT_NAME = "saferoad"
FORMAT_VERSION = 1
GPS_FILES = ("gps.csv", "gps.nmea", "gps.gpx")

__all__ = [
    "FORMAT_NAME",
    "can_read",
    "read_can_csv",
    "read_can_file",
    "read_imu_csv",
    "read_meta",
    "read_saferoad",
    "write_can_csv",
    "write_gps_csv",
    "write_imu_csv",
    "write_labels_jsonl",
    "write_meta",
    "write_recording",
]


# --------------------------------------------------------------------------- reading


def can_read(path: Path) -> bool:
    return path.is_dir() and (path / "meta.toml").is_file()


VEHICLE_TYPES = ("car", "van", "truck", "bus")
META_KEYS: dict[str, tuple[str, ...]] = {
    "recording": ("format_version", "start_utc", "timezone", "duration_s"),
    "fleet": ("id",),
    "vehicle": ("id", "type"),
    "driver": ("id",),
    "device": ("id",),
    "imu": ("mounting", "units", "gravity_removed", "frame", "highpass_tau_s"),
    "camera": (
        "width", "height", "fx", "fy", "cx", "cy", "hfov_deg",
        "height_m", "pitch_deg", "roll_deg", "lateral_offset_m", "time_offset_s", "fps",
    ),
    "cabin_camera": ("width", "height", "fx", "fy", "cx", "cy", "hfov_deg", "time_offset_s"),
}
"""Every table and key ``meta.toml`` may hold; anything else is reported (a misspelt key)."""


def _table(data: dict[str, Any], key: str, path: Path) -> dict[str, Any]:
    v = data.get(key, {})
    if not isinstance(v, dict):
        raise ValueError(f"{path}: [{key}] must be a table")
    return v


def _number(
    tbl: dict[str, Any], key: str, path: Path, table: str, *, lo: float, hi: float, default: float | None = None,
    integer: bool = False, lo_open: bool = False,
) -> float:
    """A TOML number in [lo, hi] (lo excluded when ``lo_open``), else a ValueError naming it."""
    where = f"{path}: [{table}] {key}"
    if key not in tbl:
        if default is None:
            raise ValueError(f"{where}: missing")
        return default
    v = tbl[key]
    if isinstance(v, bool) or not isinstance(v, int | float) or (integer and not isinstance(v, int)):
        kind = "an integer" if integer else "a number"
        raise ValueError(f"{where}: must be {kind}, got {v!r}")
    x = float(v)
    if not math.isfinite(x) or x > hi or x < lo or (lo_open and x == lo):
        lo_txt = f"> {lo:g}" if lo_open else f">= {lo:g}"
        raise ValueError(f"{where}: {v!r} out of range (must be {lo_txt} and <= {hi:g})")
    return x


def _camera(tbl: dict[str, Any], path: Path, key: str) -> CameraIntrinsics | None:
    if not tbl:
        return None
    for need in ("width", "height"):
        if need not in tbl:
            raise ValueError(f"{path}: [{key}] needs width and height (missing '{need}')")
    w = int(_number(tbl, "width", path, key, lo=1, hi=100_000, integer=True))
    h = int(_number(tbl, "height", path, key, lo=1, hi=100_000, integer=True))
    if "fx" in tbl:
        fx = _number(tbl, "fx", path, key, lo=0.0, hi=1e7, lo_open=True)
        return CameraIntrinsics(
            fx,
            _number(tbl, "fy", path, key, lo=0.0, hi=1e7, lo_open=True, default=fx),
            _number(tbl, "cx", path, key, lo=-w, hi=2 * w, default=w / 2),
            _number(tbl, "cy", path, key, lo=-h, hi=2 * h, default=h / 2),
            w,
            h,
        )
    for k in ("fy", "cx", "cy"):
        if k in tbl:
            raise ValueError(f"{path}: [{key}] {k}: given without fx (give fx, or hfov_deg alone)")
    hfov = _number(tbl, "hfov_deg", path, key, lo=0.0, hi=179.0, lo_open=True, default=90.0)
    return CameraIntrinsics.from_fov(w, h, hfov)


def _check_keys(data: dict[str, Any], path: Path) -> None:
    """Warn about tables and keys saferoad does not read (most often a misspelling)."""
    for table, body in data.items():
        if table not in META_KEYS:
            near = difflib.get_close_matches(table, META_KEYS, n=1)
            hint = f" (did you mean [{near[0]}]?)" if near else ""
            warn(f"{path}: [{table}]: unknown table{hint}: ignored")
            continue
        if not isinstance(body, dict):
            continue
        for key in body:
            if key not in META_KEYS[table]:
                near = difflib.get_close_matches(key, META_KEYS[table], n=1)
                hint = f" (did you mean '{near[0]}'?)" if near else ""
                warn(f"{path}: [{table}] {key}: unknown key{hint}: ignored")


def _load_toml(path: Path) -> dict[str, Any]:
    if not path.is_file():
        raise FileNotFoundError(f"{path}: file not found")
    raw = path.read_bytes()
    if len(raw) > MAX_META_BYTES:
        raise ValueError(f"{path}: {len(raw)} bytes; a meta.toml is at most {MAX_META_BYTES} bytes")
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as err:
        line = raw.count(b"\n", 0, err.start) + 1
        raise ValueError(f"{path}:{line}: not UTF-8 text (byte {raw[err.start]:#04x}); is this a meta.toml?") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as err:
        raise ValueError(f"{path}: not valid TOML: {err}") from None


MAX_META_BYTES = 1 << 20
"""A meta.toml is a few hundred bytes; anything over a mebibyte is not one."""
MAX_DURATION_S = 30 * 86400.0
"""The longest ``[recording] duration_s`` accepted: a month, far beyond any one recording."""


def declared_duration_s(raw: dict[str, Any], path: Path) -> float | None:
    """``[recording] duration_s``: the recording's length in seconds from time zero, as the
    device declares it (optional; every ``t_s`` should lie in ``0..duration_s``)."""
    rec = _table(raw, "recording", path)
    if "duration_s" not in rec:
        return None
    return _number(rec, "duration_s", path, "recording", lo=0.0, hi=MAX_DURATION_S, lo_open=True)


def read_meta(path: Path, *, warnings: bool = True) -> tuple[RecordingMeta, dict[str, Any]]:
    """Parse and check ``meta.toml``; returns the meta and the raw TOML (for format-specific keys).

    Errors name the file, table and key; documented repairs (unknown keys ignored, a start time
    without a zone read as UTC) warn unless ``warnings`` is false (a second read of the same file).
    """
    data = _load_toml(path)
    if warnings:
        _check_keys(data, path)
    rec = _table(data, "recording", path)
    version = rec.get("format_version", FORMAT_VERSION)
    if isinstance(version, bool) or version != FORMAT_VERSION:
        raise ValueError(
            f"{path}: [recording] format_version: {version!r} is not supported "
            f"(this saferoad reads version {FORMAT_VERSION})"
        )
    start = rec.get("start_utc")
    if start is None:
        raise ValueError(f"{path}: [recording] start_utc is required")
    if isinstance(start, date) and not isinstance(start, datetime):
        start = datetime.combine(start, time(0), UTC)
    if not isinstance(start, datetime):
        raise ValueError(f"{path}: [recording] start_utc must be a TOML date-time, got {start!r}")
    if start.tzinfo is None:
        if warnings:
            warn(f"{path}: [recording] start_utc: {start.isoformat()} has no zone: read as UTC")
        start = start.replace(tzinfo=UTC)
    tz = rec.get("timezone", "UTC")
    try:
        if not isinstance(tz, str):
            raise ValueError
        ZoneInfo(tz)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            f"{path}: [recording] timezone: {tz!r} is not an IANA time zone (e.g. 'Asia/Tokyo')"
        ) from None
    declared_duration_s(data, path)  # checked here with the rest; read_saferoad uses it
    vehicle = _table(data, "vehicle", path)
    vtype = vehicle.get("type", "car")
    if vtype not in VEHICLE_TYPES:
        raise ValueError(
            f"{path}: [vehicle] type: {vtype!r} is not one of {', '.join(VEHICLE_TYPES)}"
        )
    imu = _table(data, "imu", path)
    try:
        mounting = Mounting.from_rows(imu.get("mounting"))
    except (ValueError, TypeError) as err:
        raise ValueError(f"{path}: [imu] mounting: {err}") from None
    cam = _table(data, "camera", path)
    mount = CameraMount(
        height_m=_number(cam, "height_m", path, "camera", lo=0.0, hi=10.0, lo_open=True, default=1.3),
        pitch_deg=_number(cam, "pitch_deg", path, "camera", lo=-89.0, hi=89.0, default=0.0),
        roll_deg=_number(cam, "roll_deg", path, "camera", lo=-89.0, hi=89.0, default=0.0),
        lateral_offset_m=_number(cam, "lateral_offset_m", path, "camera", lo=-5.0, hi=5.0, default=0.0),
    )
    offsets = {
        key: _number(_table(data, key, path), "time_offset_s", path, key, lo=-3600.0, hi=3600.0, default=0.0)
        for key in ("camera", "cabin_camera")
    }
    meta = RecordingMeta(
        vehicle_id=_ident(vehicle, "vehicle", path, "unknown"),
        driver_id=_ident(_table(data, "driver", path), "driver", path, "unknown"),
        device_id=_ident(_table(data, "device", path), "device", path, "unknown"),
        fleet_id=_ident(_table(data, "fleet", path), "fleet", path, "default"),
        vehicle_type=str(vtype),
        start_utc=start,
        timezone=tz,
        mounting=mounting,
        camera=_camera(cam, path, "camera"),
        camera_mount=mount,
        cabin_camera=_camera(_table(data, "cabin_camera", path), path, "cabin_camera"),
        camera_pitch_known="pitch_deg" in cam,
        camera_time_offset_s=offsets["camera"],
        camera_fps=_number(cam, "fps", path, "camera", lo=0.0, hi=1000.0, lo_open=True) if "fps" in cam else None,
    )
    return meta, data


def _ident(tbl: dict[str, Any], table: str, path: Path, default: str) -> str:
    v = tbl.get("id", default)
    if isinstance(v, bool) or not isinstance(v, str | int) or str(v).strip() == "":
        raise ValueError(f"{path}: [{table}] id: must be a non-empty string, got {v!r}")
    return str(v)


IMU_FRAMES = ("device", "earth", "vehicle")


def imu_layout(raw: dict[str, Any], path: Path) -> tuple[str, bool, float | None]:
    """``[imu] frame``, ``gravity_removed`` and ``highpass_tau_s`` of ``meta.toml``: the axes
    of ``imu.csv`` (``device`` by default; ``earth``: z up, x/y horizontal, as phones log their
    linear acceleration; ``vehicle``: x forward, y left, z up), whether its accelerometer has
    gravity removed, and where the source also high-passes the horizontal acceleration (a
    phone's sensor fusion: a sustained push fades), that filter's time constant in seconds (a
    prior the engine measures again from the turns; docs/events.md)."""
    imu = _table(raw, "imu", path)
    frame = imu.get("frame", "device")
    if frame not in IMU_FRAMES:
        raise ValueError(f"{path}: [imu] frame: {frame!r} is not one of {', '.join(IMU_FRAMES)}")
    removed = imu.get("gravity_removed", False)
    if not isinstance(removed, bool):
        raise ValueError(f"{path}: [imu] gravity_removed: must be true or false, got {removed!r}")
    tau = None
    if "highpass_tau_s" in imu:
        if not removed:
            raise ValueError(
                f"{path}: [imu] highpass_tau_s: only with gravity_removed = true (a source that "
                "removes gravity by filtering is what high-passes the acceleration)"
            )
        tau = _number(imu, "highpass_tau_s", path, "imu", lo=0.0, hi=60.0, lo_open=True)
    return str(frame), removed, tau


def read_imu_csv(
    path: Path,
    *,
    units: str = "mps2",
    frame: str = "device",
    gravity_removed: bool = False,
    highpass_tau_s: float | None = None,
) -> ImuSeries:
    """``imu.csv``: ``t_s,ax,ay,az[,gx,gy,gz]`` in m/s² and rad/s, in ``frame`` axes, gravity
    included unless ``gravity_removed`` (see :func:`imu_layout`)."""
    # Read straight into the (N, 3) arrays ImuSeries holds: no per-column copies to stack.
    t, acc, gyro = read_numeric_groups(
        path, [["t_s"], ["ax", "ay", "az"], ["gx", "gy", "gz"]], ["gx", "gy", "gz"]
    )
    assert t is not None and acc is not None  # required columns
    if gyro is not None:
        if np.isnan(gyro).all():
            gyro = None  # columns present but empty: no gyroscope
        elif not np.isfinite(gyro).all():
            raise ValueError(locate_bad_value(path, ["gx", "gy", "gz"], (), read_header(path)))
    if units == "g":
        acc = acc * G
    elif units != "mps2":
        raise ValueError(f"{path}: units must be 'mps2' or 'g', got {units!r}")
    imu = ImuSeries(
        t[:, 0], acc, gyro, frame=frame, gravity_removed=gravity_removed,
        horizontal_highpass_tau_s=highpass_tau_s,
    )
    check_imu_units(imu, path)
    return clean_imu(imu, path)


def read_can_csv(path: Path) -> SpeedSeries:
    """``can.csv``: ``t_s,speed_mps`` (the turn signal: :func:`read_can_file`)."""
    return read_can_file(path)[0]


def read_can_file(path: Path) -> tuple[SpeedSeries, TurnSignalSeries | None]:
    """``can.csv``: ``t_s,speed_mps[,turn_signal]``; ``turn_signal`` -1 left, 0 off, 1 right
    on every row where the column is present (anything else names the row)."""
    cols = read_numeric_csv(path, ["t_s", "speed_mps"], ["turn_signal"])
    if (cols["speed_mps"] < 0).any():
        i = int(np.flatnonzero(cols["speed_mps"] < 0)[0])
        raise ValueError(f"{path}: data row {i + 1}: field 'speed_mps': negative speed")
    turn = cols.get("turn_signal")
    if turn is not None:
        bad = np.flatnonzero(~np.isin(turn, (-1.0, 0.0, 1.0)))
        if bad.size:
            i = int(bad[0])
            raise ValueError(
                f"{path}: data row {i + 1}: field 'turn_signal': {turn[i]:g} is not -1 (left), 0 (off) or 1 (right)"
            )
    return clean_can(SpeedSeries(cols["t_s"], cols["speed_mps"], "can"), turn, path)


def read_saferoad(path: Path) -> Recording:
    meta, raw = read_meta(path / "meta.toml")
    for name in ("imu.csv", *GPS_FILES, "can.csv", "labels.jsonl", "detections.json", "cabin.csv"):
        if (path / name).is_file():
            check_size(path / name)  # every input refused over input.max_file_mb, before reading
    units = str(_table(raw, "imu", path / "meta.toml").get("units", "mps2"))
    frame, removed, tau = imu_layout(raw, path / "meta.toml")
    duration = declared_duration_s(raw, path / "meta.toml")
    with declared_duration(duration):  # the readers drop samples outside it, with a warning
        imu = (
            read_imu_csv(path / "imu.csv", units=units, frame=frame, gravity_removed=removed, highpass_tau_s=tau)
            if (path / "imu.csv").exists()
            else None
        )
        gps: GpsSeries | None = None
        gps_path = path / GPS_FILES[0]
        for name in GPS_FILES:
            if (path / name).exists():
                gps_path = path / name
                gps = plausible_track(read_gps_file(gps_path, start_utc=meta.start_utc), gps_path)
                break
        can, turn = read_can_file(path / "can.csv") if (path / "can.csv").exists() else (None, None)
    if imu is None and gps is None:
        raise ValueError(f"{path}: neither imu.csv nor a GPS file ({', '.join(GPS_FILES)})")
    series: tuple[tuple[Path, ImuSeries | GpsSeries | SpeedSeries | None], ...] = (
        (path / "imu.csv", imu), (gps_path, gps), (path / "can.csv", can)
    )
    clocks = {p: s.t_s for p, s in series if s is not None}
    check_clocks(clocks)
    if duration is not None:
        check_declared_duration(clocks, duration, path / "meta.toml")
    video_span = _video_span(path / "video.mp4", meta.camera_time_offset_s)
    if video_span is not None:
        check_video_clock(path / "video.mp4", video_span, clocks, duration)
    if can is not None and gps is not None:
        can = cross_check_can(can, gps, path / "can.csv", gps_path)
    labels = (
        tuple(read_labels_jsonl(path / "labels.jsonl"))
        if (path / "labels.jsonl").exists()
        else None
    )

    def opt(name: str) -> Path | None:
        return path / name if (path / name).exists() else None

    return Recording(
        path=path,
        source_format=FORMAT_NAME,
        meta=meta,
        imu=imu,
        gps=gps,
        can_speed=can,
        turn_signal=turn,
        video=opt("video.mp4"),
        cabin_video=opt("cabin.mp4"),
        detections=opt("detections.json"),
        labels=labels,
    )


def _video_span(path: Path, offset_s: float) -> tuple[float, float] | None:
    """The first and last frame time of ``path`` on the recording's clock, from the container's
    header (nothing decoded; about 30 ms), or None when there is no video or its header does not
    say (a video cut short: the road stage checks and recovers it and reports the damage)."""
    if not path.is_file():
        return None
    import av  # deferred: PyAV (FFmpeg) is loaded only for a recording that has a video

    try:
        with av.open(str(path)) as container:
            if not container.streams.video:
                return None
            stream = container.streams.video[0]
            if stream.duration is not None and stream.time_base is not None:
                start = float((stream.start_time or 0) * stream.time_base)
                length = float(stream.duration * stream.time_base)
            elif container.duration is not None:
                start = float(container.start_time or 0) / 1e6
                length = float(container.duration) / 1e6
            else:
                return None
    except (av.FFmpegError, OSError, ValueError):
        return None
    if not (math.isfinite(start) and math.isfinite(length)) or length <= 0:
        return None
    return offset_s + start, offset_s + start + length


# --------------------------------------------------------------------------- writing


def _toml_scalar(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, datetime):
        return v.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(v, int | float):
        return repr(float(v)) if isinstance(v, float) else str(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_scalar(x) for x in v) + "]"
    # A TOML basic string: JSON's escapes are valid TOML for the BMP; keep other characters
    # literal (JSON would write surrogate pairs, which TOML rejects) and escape DEL.
    return json.dumps(str(v), ensure_ascii=False).replace("\x7f", "\\u007F")


def write_meta(
    path: Path,
    meta: RecordingMeta,
    *,
    camera_time_offset_s: float = 0.0,
    imu: ImuSeries | None = None,
    duration_s: float | None = None,
) -> None:
    """Write ``meta.toml`` for ``meta`` (``start_utc`` defaults to now if unset); ``imu``'s
    frame, gravity removal and high-pass go to ``[imu]`` where they are not the defaults;
    ``duration_s``, where given, to ``[recording]`` (the recording's length from time zero)."""
    start = meta.start_utc or datetime.now(UTC).replace(microsecond=0)
    recording: dict[str, Any] = {"format_version": FORMAT_VERSION, "start_utc": start, "timezone": meta.timezone}
    if duration_s is not None:
        recording["duration_s"] = float(duration_s)
    tables: list[tuple[str, dict[str, Any]]] = [
        ("recording", recording),
        ("fleet", {"id": meta.fleet_id}),
        ("vehicle", {"id": meta.vehicle_id, "type": meta.vehicle_type}),
        ("driver", {"id": meta.driver_id}),
        ("device", {"id": meta.device_id}),
    ]
    imu_table: dict[str, Any] = {}
    if meta.mounting.rotation is not None:
        imu_table["mounting"] = meta.mounting.rotation.tolist()
    if imu is not None and imu.frame != "device":
        imu_table["frame"] = imu.frame
    if imu is not None and imu.gravity_removed:
        imu_table["gravity_removed"] = True
        if imu.horizontal_highpass_tau_s is not None:
            imu_table["highpass_tau_s"] = float(imu.horizontal_highpass_tau_s)
    if imu_table:
        tables.append(("imu", imu_table))
    if meta.camera is not None:
        c, m = meta.camera, meta.camera_mount
        tables.append(
            (
                "camera",
                {
                    "width": c.width,
                    "height": c.height,
                    "fx": c.fx,
                    "fy": c.fy,
                    "cx": c.cx,
                    "cy": c.cy,
                    "height_m": m.height_m,
                    "pitch_deg": m.pitch_deg,
                    "roll_deg": m.roll_deg,
                    "lateral_offset_m": m.lateral_offset_m,
                    "time_offset_s": camera_time_offset_s,
                }
                | ({"fps": meta.camera_fps} if meta.camera_fps is not None else {}),
            )
        )
    if meta.cabin_camera is not None:
        c = meta.cabin_camera
        tables.append(
            (
                "cabin_camera",
                {"width": c.width, "height": c.height, "fx": c.fx, "fy": c.fy, "cx": c.cx, "cy": c.cy},
            )
        )
    lines: list[str] = []
    for name, body in tables:
        lines.append(f"[{name}]")
        lines += [f"{k} = {_toml_scalar(v)}" for k, v in body.items()]
        lines.append("")
    path.write_text("\n".join(lines), encoding="utf-8")


def _write_columns(path: Path, columns: dict[str, Any]) -> None:
    arrays = {k: float_column(v) for k, v in columns.items()}
    with path.open("wb") as fh:
        fh.write((",".join(arrays) + "\n").encode())
        pacsv.write_csv(
            pa.Table.from_arrays(list(arrays.values()), names=list(arrays)), fh, pacsv.WriteOptions(include_header=False, quoting_style="none")
        )


def write_imu_csv(path: Path, imu: ImuSeries) -> None:
    """Write ``imu.csv`` (m/s², rad/s; its axes and gravity removal go to meta.toml, see
    :func:`write_meta`)."""
    cols: dict[str, Any] = {"t_s": imu.t_s, "ax": imu.acc[:, 0], "ay": imu.acc[:, 1], "az": imu.acc[:, 2]}
    if imu.gyro is not None:
        cols |= {"gx": imu.gyro[:, 0], "gy": imu.gyro[:, 1], "gz": imu.gyro[:, 2]}
    _write_columns(path, cols)


def write_gps_csv(path: Path, gps: GpsSeries) -> None:
    """Write ``gps.csv``; NaN speed, course or altitude become empty fields."""
    _write_columns(
        path,
        {
            "t_s": gps.t_s,
            "lat": gps.lat,
            "lon": gps.lon,
            "speed_mps": gps.speed_mps,
            "course_deg": gps.course_deg,
            "alt_m": gps.alt_m,
        },
    )


def write_can_csv(path: Path, can: SpeedSeries, turn_signal: FloatArray | None = None) -> None:
    """Write ``can.csv``; ``turn_signal`` (-1 left, 0 off, 1 right; one per speed sample) as
    its optional column."""
    cols: dict[str, Any] = {"t_s": can.t_s, "speed_mps": can.speed_mps}
    if turn_signal is not None:
        cols["turn_signal"] = turn_signal
    _write_columns(path, cols)


def write_recording(
    folder: Path,
    meta: RecordingMeta,
    imu: ImuSeries | None,
    gps: GpsSeries | None,
    can: SpeedSeries | None = None,
    labels: Sequence[EventLabel] | None = None,
    *,
    camera_time_offset_s: float = 0.0,
    duration_s: float | None = None,
) -> Path:
    """Write a recording folder in saferoad's format; returns ``folder``. ``duration_s``: the
    recording's length from time zero, declared in ``meta.toml`` (every ``t_s`` within it).

    Video, cabin video and ``detections.json`` are written by their owners beside these files
    (``video.mp4``, ``cabin.mp4``, ``detections.json``); the reader picks them up by name.
    """
    if imu is None and gps is None:
        raise ValueError("a recording needs IMU or GPS samples")
    folder.mkdir(parents=True, exist_ok=True)
    write_meta(folder / "meta.toml", meta, camera_time_offset_s=camera_time_offset_s, imu=imu, duration_s=duration_s)
    if imu is not None:
        write_imu_csv(folder / "imu.csv", imu)
    if gps is not None:
        write_gps_csv(folder / "gps.csv", gps)
    if can is not None:
        write_can_csv(folder / "can.csv", can)
    if labels is not None:
        write_labels_jsonl(folder / "labels.jsonl", labels)
    return folder


register(FORMAT_NAME, can_read, read_saferoad, expects="meta.toml", priority=0)

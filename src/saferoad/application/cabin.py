"""Driver monitoring use case: cabin video (or a recorded ``cabin.csv`` track) plus ego
speed in; per-frame signals and ``drowsiness`` / ``distraction`` / ``camera_obstructed`` /
``phone_use`` events out (a phone from the phone detector on video frames, from the track's
``phone_score``/``phone_at`` columns on a ``cabin.csv``). Used by ``saferoad cabin`` and by the cabin stage of ``analyze``."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from saferoad.config.cabin import CabinConfig, default_cabin
from saferoad.domain.cabin.monitor import CabinMonitor, CabinState, CabinThresholds
from saferoad.domain.cabin.phone import Box
from saferoad.domain.cabin.registry import thresholds_from
from saferoad.domain.cabin.signals import CabinSample
from saferoad.domain.types import CameraIntrinsics, Event, Frame, SpeedSeries
from saferoad.observability import get_logger
from saferoad.ports.cabin import CabinPorts, ClosablePhoneDetector, FaceAnalyzer
from saferoad.ports.phone import PhoneDetector


def thresholds_from_config(cfg: CabinConfig) -> CabinThresholds:
    """The rules' thresholds, each read by its name from the section derived from
    :class:`CabinThresholds` and the registered cabin rules' params (config/cabin.py)."""
    return thresholds_from(cfg)


def _phone_summary(mon: CabinMonitor, detector: str) -> dict[str, Any]:
    return {"detector": detector, "frames_with_phone": mon.phone.frames_with_phone}


def _face_box(ana: FaceAnalyzer) -> Box | None:
    lm = ana.last_landmarks
    if lm is None or len(lm.points) == 0:
        return None
    p = lm.points
    return (float(p[:, 0].min()), float(p[:, 1].min()), float(p[:, 0].max()), float(p[:, 1].max()))


class _SpeedLookup:
    """Ego speed at a time: linear interpolation, ``None`` without a speed series, NaN gaps
    ignored; outside the series the nearest end is used."""

    def __init__(self, speed: SpeedSeries | None) -> None:
        self.t: np.ndarray[Any, np.dtype[np.float64]] | None = None
        if speed is not None and len(speed):
            ok = np.isfinite(speed.t_s) & np.isfinite(speed.speed_mps)
            if ok.any():
                self.t = speed.t_s[ok]
                self.v = speed.speed_mps[ok]

    def __call__(self, t: float) -> float | None:
        if self.t is None:
            return None
        return float(np.interp(t, self.t, self.v))


@dataclass
class CabinResult:
    samples: list[CabinSample]
    states: list[CabinState]
    events: list[Event]
    summary: dict[str, Any] = field(default_factory=dict)

    def write(self, out_dir: Path, ports: CabinPorts) -> Path:
        path = out_dir / "cabin.parquet"
        ports.write_track(path, self.samples, self.states)
        return path


def _finish(
    mon: CabinMonitor,
    samples: list[CabinSample],
    states: list[CabinState],
    events: list[Event],
    source: str,
) -> CabinResult:
    events += mon.finish()
    events.sort(key=lambda e: (e.start_s, e.type.value))
    faces = [s for s in samples if s.face]
    summary: dict[str, Any] = {"source": source, **mon.summary()}
    perclos = [st.perclos for st in states if math.isfinite(st.perclos)]
    summary["perclos_max"] = round(max(perclos), 4) if perclos else None
    summary["face_share"] = round(len(faces) / len(samples), 4) if samples else 0.0
    duration = samples[-1].t_s - samples[0].t_s if len(samples) > 1 else 0.0
    summary["blinks_per_min"] = (
        round(mon.counts["blinks"] / duration * 60.0, 2) if duration > 0 else None
    )
    return CabinResult(samples, states, events, summary)


@dataclass(frozen=True)
class CabinSource:
    """What ``saferoad cabin SOURCE`` analyses: a video (or GIF, image folder, URL) or a
    ``cabin.csv`` signal track, and the cabin camera's intrinsics where the recording's
    ``meta.toml`` gives them (``[cabin_camera]``; else head pose uses ``cabin.hfov_deg``)."""

    source: str
    track: bool
    intrinsics: CameraIntrinsics | None = None
    meta: Path | None = None
    """The ``meta.toml`` the intrinsics were read from."""


def resolve_cabin_source(source: str, ports: CabinPorts) -> CabinSource:
    """Resolve a ``saferoad cabin`` argument. A recording folder stands for its
    ``cabin.mp4``, else its ``cabin.csv``. The intrinsics come from ``[cabin_camera]`` of the
    recording's ``meta.toml`` when the source is a recording folder or that folder's
    ``cabin.mp4`` (a video anywhere else has no recording around it). A ``meta.toml`` that
    cannot be read is a ``ValueError`` naming it, never silently ignored."""
    src = Path(source)
    folder: Path | None = None
    if src.is_dir() and (src / "cabin.mp4").is_file():
        folder, src = src, src / "cabin.mp4"
        source = str(src)
    elif src.is_dir() and (src / "cabin.csv").is_file():
        src = src / "cabin.csv"
    elif src.name == "cabin.mp4" and src.is_file():
        folder = src.parent
    if src.suffix.lower() == ".csv":
        return CabinSource(str(src), track=True)
    if "://" not in source and not src.exists():
        raise FileNotFoundError(f"{source}: not found")
    meta = folder / "meta.toml" if folder is not None else None
    if meta is None or not meta.is_file():
        return CabinSource(source, track=False)
    return CabinSource(source, track=False, intrinsics=ports.read_camera(meta), meta=meta)


def cabin_models(
    ports: CabinPorts, cfg: CabinConfig, intrinsics: CameraIntrinsics | None, models_root: Path | None
) -> tuple[FaceAnalyzer, ClosablePhoneDetector | None]:
    """The face pipeline and (unless ``cabin.phone_detector = "none"``) the phone detector
    analyze's cabin stage builds from ``ports``, with ``cfg``'s settings; the caller closes
    them. A phone detector that fails to build closes the face pipeline before its error is
    raised (a failure of that close is noted on the error)."""
    ana = ports.face_analyzer(cfg, intrinsics, models_root)
    if cfg.phone_detector == "none":
        return ana, None
    try:
        phone = ports.phone_detector(
            models_root=models_root, near_face=cfg.phone_near_face, hand_zone=cfg.phone_hand_zone,
            threads=cfg.intra_op_threads,
        )  # fmt: skip
    except BaseException as err:
        try:
            ana.close()
        except Exception as close_err:  # the failure to build is the error to raise
            err.add_note(f"closing the face pipeline after that failure also failed: {close_err!r}")
        raise
    return ana, phone


def frame_samples(
    frames: Iterable[Frame],
    analyzer: FaceAnalyzer,
    phone: PhoneDetector | None = None,
    time_offset_s: float = 0.0,
) -> Iterator[CabinSample]:
    """Each cabin frame's :class:`CabinSample`: the face pipeline, then the phone detector
    near the face; a frame whose time does not increase is skipped with a warning. Lazy, one
    frame at a time: analyze's cabin stage and the edge recorder's cabin stream share it."""
    log = get_logger("cabin")
    last_t = -math.inf
    for frame in frames:
        if frame.t_s <= last_t:
            log.warning("cabin_frame_time_not_increasing", frame=frame.index, t_s=frame.t_s)
            continue
        last_t = frame.t_s
        s = analyzer.analyze(frame)
        if phone is not None:
            ph = phone.detect(frame, _face_box(analyzer))
            s = replace(s, phone_score=ph.score, phone_at=ph.position)
        if time_offset_s:
            s = replace(s, t_s=s.t_s + time_offset_s)
        yield s


def run_cabin_video(
    source: str | Path,
    config: CabinConfig | None = None,
    *,
    ports: CabinPorts,
    speed: SpeedSeries | None = None,
    intrinsics: CameraIntrinsics | None = None,
    time_offset_s: float = 0.0,
    models_root: Path | None = None,
    analyzer: FaceAnalyzer | None = None,
    phone_detector: PhoneDetector | None = None,
) -> CabinResult:
    """Run the face pipeline, the phone detector and the monitors over a cabin video (or
    GIF, image folder); ``ports``: the adapters (``saferoad.entrypoints.wiring``). What this
    builds (the face pipeline and phone detector not given, the video) is closed at the end,
    and also when a later part fails to open or the run fails."""
    cfg = config or default_cabin()
    mon = CabinMonitor(thresholds_from_config(cfg), classify_eyes=True)
    speed_at = _SpeedLookup(speed)
    samples: list[CabinSample] = []
    states: list[CabinState] = []
    events: list[Event] = []
    with contextlib.ExitStack() as built:  # closed last built first: video, phone, face
        ana = analyzer
        if ana is None:
            ana = ports.face_analyzer(cfg, intrinsics, models_root)
            built.callback(ana.close)
        phone = phone_detector
        if phone is None and cfg.phone_detector != "none":
            phone = ports.phone_detector(
                models_root=models_root, near_face=cfg.phone_near_face, hand_zone=cfg.phone_hand_zone,
                threads=cfg.intra_op_threads,
            )  # fmt: skip
            built.callback(getattr(phone, "close", lambda: None))
        frames = ports.open_video(source)
        built.callback(frames.close)
        for s in frame_samples(frames, ana, phone, time_offset_s):
            state, evs = mon.update(s, speed_at(s.t_s))
            samples.append(
                replace(s, eyes_closed=state.eyes_closed)
                if s.eyes_closed != state.eyes_closed
                else s
            )
            states.append(state)
            events += evs
    res = _finish(mon, samples, states, events, str(source))
    res.summary["phone"] = _phone_summary(mon, phone.name if phone is not None else "none")
    return res


def run_cabin_track(
    samples: list[CabinSample] | Path,
    config: CabinConfig | None = None,
    *,
    ports: CabinPorts,
    speed: SpeedSeries | None = None,
) -> CabinResult:
    """Run the monitor over a recorded signal track (``cabin.csv`` path or samples); each
    sample's ``eyes_closed`` is trusted as recorded."""
    cfg = config or default_cabin()
    source = str(samples) if isinstance(samples, Path) else "samples"
    rows = ports.read_track(samples) if isinstance(samples, Path) else samples
    mon = CabinMonitor(thresholds_from_config(cfg), classify_eyes=False)
    speed_at = _SpeedLookup(speed)
    states: list[CabinState] = []
    events: list[Event] = []
    for s in rows:
        state, evs = mon.update(s, speed_at(s.t_s))
        states.append(state)
        events += evs
    res = _finish(mon, list(rows), states, events, source)
    res.summary["phone"] = _phone_summary(mon, "cabin.csv")
    return res

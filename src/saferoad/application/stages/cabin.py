"""The cabin stage of analyze: driver monitoring from the cabin camera.

Runs when the recording has a cabin video (``recording.cabin_video``), else when a
``cabin.csv`` signal track lies in the recording folder (a replay of recorded or simulated
driver-monitoring signals). Drowsiness and distraction count only while the ego speed (set
by the motion stage in ``ctx.speed``) is at least ``cabin.min_speed_kmh``; without a speed the
vehicle is taken to be moving. Writes ``cabin.parquet`` and adds the events.
"""

from __future__ import annotations

from pathlib import Path

from saferoad.application.cabin import CabinResult, run_cabin_track, run_cabin_video
from saferoad.application.context import AnalysisContext
from saferoad.observability import get_logger, span

TRACK_NAME = "cabin.csv"


def _track_path(ctx: AnalysisContext) -> Path | None:
    path = ctx.recording.path
    candidate = path / TRACK_NAME if path.is_dir() else path.parent / TRACK_NAME
    return candidate if candidate.is_file() else None


def run(ctx: AnalysisContext) -> None:
    video = ctx.recording.cabin_video
    track = None if video is not None else _track_path(ctx)
    if video is None and track is None:
        return None
    log = get_logger("cabin")
    cfg = ctx.config.cabin
    if ctx.speed is None:
        log.warning(
            "cabin_no_speed", note="no ego speed: drowsiness and distraction rules assume moving"
        )
    result: CabinResult
    with span("cabin.monitor", source=str(video or track)) as info:
        if video is not None:
            result = run_cabin_video(
                video, cfg, ports=ctx.adapters.cabin, speed=ctx.speed, intrinsics=ctx.recording.meta.cabin_camera
            )
        else:
            assert track is not None
            result = run_cabin_track(track, cfg, ports=ctx.adapters.cabin, speed=ctx.speed)
        info.update(frames=len(result.samples), events=len(result.events))
    if ctx.out_dir is not None:
        result.write(ctx.out_dir, ctx.adapters.cabin)
    ctx.artefacts["cabin"] = result
    ctx.summary["cabin"] = result.summary
    ctx.add_events(result.events)

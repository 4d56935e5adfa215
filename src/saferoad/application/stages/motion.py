"""The motion stage of analyze: harsh driving from the IMU and GPS, and the ego speed.

Runs the domain's inertial engine (``saferoad.domain.motion.engine``) on the recording's
IMU, GPS and CAN speed, adds its events, sets ``ctx.speed`` for the stages after it, puts
summary fields (distance, speed statistics, gaps, the vehicle frame found, time zero) in the
summary and, with an output folder, writes ``timeline.parquet`` (10 Hz ego motion).
"""

from __future__ import annotations

import numpy as np

from saferoad.application.context import AnalysisContext
from saferoad.config.motion import MotionConfig
from saferoad.domain.ego_speed import distance_km
from saferoad.domain.motion.engine import EngineParams, MotionResult, run_engine
from saferoad.domain.motion.rules.registry import engine_params_from
from saferoad.domain.recording import Recording, check_rotation
from saferoad.observability import get_logger, span

log = get_logger("motion")


def params_from_config(cfg: MotionConfig, recording: Recording | None = None) -> EngineParams:
    mounting = None
    if cfg.mounting is not None:
        mounting = np.asarray(cfg.mounting, dtype=np.float64)
        try:
            check_rotation(mounting)
        except ValueError as err:
            raise ValueError(f"motion.mounting: {err}") from None
    elif recording is not None and recording.meta.mounting.rotation is not None:
        mounting = recording.meta.mounting.rotation
    # every engine parameter read by its name from the section derived from EngineParams
    # and the registered motion rules' params (config/motion.py): no hand copy to keep in step
    params = engine_params_from(cfg, mounting=mounting)
    params.bands.check(params.harsh)
    return params


def _summary(ctx: AnalysisContext, res: MotionResult, params: EngineParams) -> dict[str, object]:
    rec = ctx.recording
    out: dict[str, object] = {
        "time_zero_utc": rec.meta.start_utc.isoformat() if rec.meta.start_utc else None,
        "motion_mode": res.mode,
        "imu_samples": len(rec.imu) if rec.imu is not None else 0,
        "gps_fixes": len(rec.gps) if rec.gps is not None else 0,
        "gaps": [{"from_s": round(a, 3), "to_s": round(b, 3)} for a, b in res.gaps],
        "motion_limitations": list(res.limitations),
    }
    if res.mode != "no-imu":
        # Without an IMU or enough GPS nothing was measured: no counts (the score then rests
        # on the events alone), rather than zeros that would read as a trip without any.
        out["manoeuvres"] = res.manoeuvre_counts.to_dict()
    if res.frame is not None:
        out["mounting"] = {
            "method": res.frame.method,
            "quality": round(res.frame.quality, 3),
            "angle_se_deg": None
            if res.frame.angle_se_deg is None or not np.isfinite(res.frame.angle_se_deg)
            else round(res.frame.angle_se_deg, 1),
            "rotation": None
            if res.frame.rotation is None
            else np.round(res.frame.rotation, 4).tolist(),
        }
    else:
        out["mounting"] = {"method": res.mode, "rotation": None}
    if res.highpass is not None:
        hp = res.highpass
        out["source_highpass"] = {
            "tau_s": hp.tau_s,
            "estimated": hp.estimated,
            "turns": hp.turns,
            "explained": None if np.isnan(hp.explained) else round(hp.explained, 3),
            "explained_unfiltered": None if np.isnan(hp.explained_unfiltered) else round(hp.explained_unfiltered, 3),
            "undone": params.undo_source_highpass,
        }
    if res.axes is not None:
        out["forward_from_turns"] = {
            "turns": res.axes.turns,
            "agreement": round(res.axes.agreement, 3),
            "gyro_bias_dps": round(res.axes.gyro_bias_dps, 3),
        }
    if res.speed is not None and len(res.speed):
        v = res.speed.speed_mps
        out["speed_source"] = res.speed.source
        out["distance_km"] = round(distance_km(res.speed), 3)
        out["speed_mps"] = {
            "mean": round(float(np.nanmean(v)), 3),
            "max": round(float(np.nanmax(v)), 3),
            "p95": round(float(np.nanpercentile(v, 95)), 3),
        }
    else:
        out["speed_source"] = None
        out["distance_km"] = None
    return out


def run(ctx: AnalysisContext) -> None:
    rec = ctx.recording
    if rec.imu is None and rec.gps is None and rec.can_speed is None:
        return
    params = params_from_config(ctx.config.motion, rec)
    with span(
        "motion.engine",
        imu_samples=len(rec.imu) if rec.imu is not None else 0,
        gps_fixes=len(rec.gps) if rec.gps is not None else 0,
    ) as s:
        res = run_engine(rec.imu, rec.gps, rec.can_speed, params)
        s.update(events=len(res.events), mode=res.mode)
    ctx.add_events(res.events)
    ctx.speed = res.speed
    ctx.artefacts["motion"] = res
    ctx.artefacts["timeline"] = res.timeline
    ctx.summary.update(_summary(ctx, res, params))
    if res.gaps:
        log.warning("sensor_gaps", count=len(res.gaps), longest_s=max(b - a for a, b in res.gaps))
    for limit in res.limitations:
        log.warning("motion_limited", reason=limit)
    if ctx.out_dir is not None and res.timeline:
        with span("motion.timeline", rows=len(res.timeline["t_s"])):
            ctx.adapters.outputs.write_timeline(ctx.out_dir / "timeline.parquet", res.timeline)

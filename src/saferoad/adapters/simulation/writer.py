"""Write a simulated scenario as a recording in saferoad's format (docs/recording-format.md):
``meta.toml``, ``imu.csv``, ``gps.csv`` (and ``can.csv``) through the format's own writer,
plus ``detections.json`` (exact per-frame boxes for the replay detector), ``labels.jsonl``
(ground truth), ``cabin.csv`` (cabin signal track) and ``video.mp4`` (rendered road camera).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.csv as pacsv

from saferoad.adapters.recording.saferoad_format import write_recording
from saferoad.adapters.simulation.render import SceneRenderer, encode_video
from saferoad.domain.recording import Mounting, RecordingMeta
from saferoad.domain.simulation.camera import ObjectView, frame_times, object_views
from saferoad.domain.simulation.model import Scenario
from saferoad.domain.simulation.sensors import (
    CABIN_COLUMNS,
    simulate_cabin,
    simulate_can,
    simulate_gps,
    simulate_imu,
)
from saferoad.domain.types import CameraIntrinsics, CameraMount, EventLabel, GpsSeries
from saferoad.observability import span
from saferoad.ports.simulation import WrittenRecording


def recording_meta(sc: Scenario, base: RecordingMeta) -> RecordingMeta:
    """``base`` (who, when) completed with the scenario's camera and mounting."""
    cam = sc.camera
    mounting = Mounting(sc.imu.rotation()) if sc.imu.write_mounting else Mounting(None)
    return RecordingMeta(
        vehicle_id=base.vehicle_id,
        driver_id=base.driver_id,
        device_id=base.device_id,
        fleet_id=base.fleet_id,
        vehicle_type=base.vehicle_type,
        start_utc=base.start_utc,
        timezone=base.timezone,
        mounting=mounting,
        camera=CameraIntrinsics.from_fov(cam.width, cam.height, cam.hfov_deg),
        camera_mount=CameraMount(height_m=cam.height_m, pitch_deg=cam.pitch_deg),
        cabin_camera=base.cabin_camera,
        camera_fps=float(cam.fps),
    )


def detections_document(sc: Scenario, t: np.ndarray, views: Sequence[ObjectView]) -> dict[str, Any]:
    """The ``detections.json`` document: every listed object of every frame, in track order
    (the views are visited in a stable track order, so each frame's list comes out sorted)."""
    frames: list[dict[str, Any]] = []
    per_frame: list[list[dict[str, Any]]] = [[] for _ in range(t.shape[0])]
    for view in sorted(views, key=lambda v: v.track_id):
        idx = np.flatnonzero(view.visible)
        boxes, dist = view.xyxy[idx].tolist(), view.distance_m[idx].tolist()
        for k, f in enumerate(idx.tolist()):
            obj: dict[str, Any] = {
                "track_id": view.track_id,
                "cls": view.cls,
                "score": 1.0,
                "xyxy": [round(x, 2) for x in boxes[k]],
                "distance_m": round(dist[k], 3),
            }
            if view.attributes:
                obj["attributes"] = view.attributes[f]
            per_frame[f].append(obj)
    for f, t_f in enumerate(t.tolist()):
        frames.append({"frame": f, "t_s": round(t_f, 4), "objects": per_frame[f]})
    cam = sc.camera
    return {"width": cam.width, "height": cam.height, "fps": cam.fps, "frames": frames}


def write_cabin_csv(path: Path, cols: dict[str, np.ndarray]) -> None:
    """``cabin.csv`` in the column order of docs/recording-format.md; ``frame``, ``face``
    and ``eyes_closed`` as integers (1 = true)."""
    arrays = {}
    for name in CABIN_COLUMNS:
        v = cols[name]
        if name in ("frame", "face", "eyes_closed"):
            arrays[name] = pa.array(np.asarray(v).astype(np.int64))
        else:
            arrays[name] = pa.array(np.round(np.asarray(v, dtype=np.float64), 4))
    if "phone_score" in cols:  # a drive with phone episodes: the phone detector's columns
        score = np.round(np.asarray(cols["phone_score"], dtype=np.float64), 4)
        arrays["phone_score"] = pa.array(score)
        arrays["phone_at"] = pa.array(
            ["" if s <= 0 else "face" if f > 0.5 else "hand" for s, f in zip(score, cols["phone_face"], strict=True)],
            pa.string(),
        )
    pacsv.write_csv(pa.table(arrays), path)


SPEED_ZONES = "speed_zones.geojson"
"""A recording's own speed limits (docs/recording-format.md), read by the road stage when the
config sets none: how a simulated drive says what its posted limit is."""


def write_speed_zone(path: Path, gps: GpsSeries, limit_mps: float, margin_deg: float = 0.01) -> bool:
    """One GeoJSON zone with ``limit_mps`` covering the drive (its fixes' bounding box, widened
    by ``margin_deg``, about 1 km); ``False`` (nothing written) without a position."""
    ok = np.isfinite(gps.lat) & np.isfinite(gps.lon)
    if not ok.any():
        return False
    lat0, lat1 = float(gps.lat[ok].min()) - margin_deg, float(gps.lat[ok].max()) + margin_deg
    lon0, lon1 = float(gps.lon[ok].min()) - margin_deg, float(gps.lon[ok].max()) + margin_deg
    ring = [[lon0, lat0], [lon1, lat0], [lon1, lat1], [lon0, lat1], [lon0, lat0]]
    doc = {
        "type": "FeatureCollection",
        "features": [
            {
                "type": "Feature",
                "properties": {"name": "simulated road", "speed_limit_kmh": round(limit_mps * 3.6, 3)},
                "geometry": {"type": "Polygon", "coordinates": [[[round(x, 6), round(y, 6)] for x, y in ring]]},
            }
        ],
    }
    path.write_text(json.dumps(doc, indent=1) + "\n", encoding="utf-8")
    return True


def write_simulation(
    sc: Scenario,
    folder: Path,
    labels: Sequence[EventLabel],
    base_meta: RecordingMeta,
    *,
    video: bool = True,
    camera: tuple[np.ndarray, list[ObjectView]] | None = None,
    detections: bool = True,
) -> WrittenRecording:
    """Write ``sc`` to ``folder``; the sensor noise comes from ``np.random.default_rng(sc.seed)``
    in a fixed order (IMU, GPS, CAN, cabin), so a seed fixes every byte but the video's.
    ``detections=False`` leaves out ``detections.json``; with ``video=False`` too the recording
    is sensor-only and no camera view is computed here."""
    rng = np.random.default_rng(sc.seed)
    folder.mkdir(parents=True, exist_ok=True)
    files = ["meta.toml", "labels.jsonl"]
    with span("simulate.sensors", scenario=sc.name) as res:
        imu = simulate_imu(sc, sc.imu, rng)
        gps = simulate_gps(sc, sc.gps, rng)
        can = simulate_can(sc, 50.0, rng) if sc.params.get("can.enabled") else None
        cabin = simulate_cabin(sc, sc.cabin, rng)[0] if sc.cabin is not None else None
        res["imu_samples"] = len(imu)
        res["gps_fixes"] = len(gps)
    with span("simulate.write_sensors", scenario=sc.name):
        meta = recording_meta(sc, base_meta)
        write_recording(folder, meta, imu, gps, can=can, labels=list(labels), duration_s=sc.duration_s)
        files += ["imu.csv", "gps.csv"] + (["can.csv"] if can is not None else [])
        if sc.speed_limit_mps is not None and write_speed_zone(folder / SPEED_ZONES, gps, sc.speed_limit_mps):
            files.append(SPEED_ZONES)
        if cabin is not None:
            write_cabin_csv(folder / "cabin.csv", cabin)
            files.append("cabin.csv")
    n = 0
    if not (video or detections):
        return WrittenRecording(folder, list(labels), n, files)
    t, views = camera if camera is not None else (None, None)
    if t is None or views is None:
        t = frame_times(sc.duration_s, sc.camera.fps)
        views = object_views(sc, t)
    if detections:
        with span("simulate.camera_truth", scenario=sc.name, frames=int(t.shape[0])):
            doc = detections_document(sc, t, views)
            (folder / "detections.json").write_text(json.dumps(doc, separators=(",", ":")), encoding="utf-8")
            files.append("detections.json")
    if video:
        with span("simulate.render", scenario=sc.name, frames=int(t.shape[0])):
            renderer = SceneRenderer(sc, t, views)
            n = encode_video(folder / "video.mp4", renderer.frames(), sc.camera.fps, sc.camera.width, sc.camera.height)
            files.append("video.mp4")
    return WrittenRecording(folder, list(labels), n, files)

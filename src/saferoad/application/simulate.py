"""Use cases of the simulator: one scenario to a recording, and a fleet of mixed trips.

Ground truth follows the *configured* definitions: the thresholds come from the same config
sections the rules read (``motion``, ``road_events``, ``cabin``), so a recording simulated
with ``--config`` or ``--set`` overrides is labelled by the definitions it will be analysed
with.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, fields, replace
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import yaml

from saferoad.config import SaferoadConfig
from saferoad.domain.recording import RecordingMeta
from saferoad.domain.scoring import week_start
from saferoad.domain.simulation import SCENARIOS, get_scenario, ground_truth
from saferoad.domain.simulation.params import split_assignment
from saferoad.domain.simulation.profiles import SENSOR_PROFILES, profile_assignments
from saferoad.domain.simulation.truth import (
    CabinDefinitions,
    Definitions,
    LaneDefinitions,
    MotionDefinitions,
    RoadDefinitions,
    camera_views,
)
from saferoad.observability import get_logger, span
from saferoad.ports.simulation import RecordingWriter, WrittenRecording

META_KEYS = ("fleet_id", "vehicle_id", "vehicle_type", "driver_id", "device_id", "timezone", "start_utc")
"""``--set meta.KEY=VALUE`` keys: who and when, written to meta.toml."""

DEFAULT_START = datetime(2026, 11, 20, 8, 15, tzinfo=UTC)
"""Time zero of a simulated drive unless ``meta.start_utc`` is set (fixed, so a seed fixes
every byte)."""

# Road and cabin definitions by the config field that holds each threshold.
_CABIN_FIELDS = {
    "drowsy_closure_s": "long_closure_s",
    "drowsiness_min_speed_mps": "drowsiness_min_speed_mps",
    "distraction_yaw_deg": "distraction_yaw_deg",
    "distraction_pitch_deg": "distraction_pitch_deg",
    "distraction_min_s": "distraction_min_s",
    "distraction_min_speed_mps": "distraction_min_speed_mps",
    "phone_min_s": "phone_min_s",
    "phone_min_speed_mps": "phone_min_speed_mps",
}


def definitions_from_config(cfg: SaferoadConfig) -> Definitions:
    """The event definitions the rules use, with the thresholds of ``cfg``.

    Motion, road and cabin thresholds are read from ``motion``, ``road_events`` and ``cabin``
    by their field names (``drowsy_closure_s`` is ``cabin.long_closure_s``)."""
    motion_kw = {f.name: getattr(cfg.motion, f.name) for f in fields(MotionDefinitions)}
    road_kw = {f.name: getattr(cfg.road_events, f.name) for f in fields(RoadDefinitions)}
    cabin_kw = {k: getattr(cfg.cabin, v) for k, v in _CABIN_FIELDS.items()}
    lanes_kw = {f.name: getattr(cfg.lanes, f.name) for f in fields(LaneDefinitions)}
    return Definitions(
        replace(MotionDefinitions(), **motion_kw),
        replace(RoadDefinitions(), **road_kw),
        replace(CabinDefinitions(), **cabin_kw),
        replace(LaneDefinitions(), **lanes_kw),
    )


def split_meta(assignments: Sequence[str]) -> tuple[list[str], dict[str, str]]:
    """Separate ``meta.*`` assignments (who/when) from scenario parameters."""
    rest: list[str] = []
    meta: dict[str, str] = {}
    for item in assignments:
        key, raw = split_assignment(item)
        if key.startswith("meta."):
            name = key.split(".", 1)[1]
            if name not in META_KEYS:
                raise ValueError(f"--set {key}: unknown meta key (known: {', '.join(META_KEYS)})")
            meta[name] = raw
        else:
            rest.append(item)
    return rest, meta


def base_meta(values: dict[str, str]) -> RecordingMeta:
    start = DEFAULT_START
    if "start_utc" in values:
        try:
            start = datetime.fromisoformat(values["start_utc"].replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"--set meta.start_utc={values['start_utc']!r}: not an ISO 8601 time") from None
        if start.tzinfo is None:
            start = start.replace(tzinfo=UTC)
    return RecordingMeta(
        fleet_id=values.get("fleet_id", "sim-fleet"),
        vehicle_id=values.get("vehicle_id", "SIM-001"),
        vehicle_type=values.get("vehicle_type", "car"),
        driver_id=values.get("driver_id", "SIM-DRIVER"),
        device_id=values.get("device_id", "SIM-DEVICE"),
        timezone=values.get("timezone", "Asia/Tokyo"),
        start_utc=start,
    )


@dataclass
class SimulationResult:
    scenario: str
    seed: int
    written: WrittenRecording
    params: dict[str, Any] = field(default_factory=dict)


def simulate(
    name: str,
    out: Path,
    *,
    writer: RecordingWriter,
    assignments: Sequence[str] = (),
    seed: int = 0,
    video: bool = True,
    config: SaferoadConfig | None = None,
    detections: bool = True,
    sensor_profile: str = SENSOR_PROFILES[0],
) -> SimulationResult:
    """Build scenario ``name`` with ``assignments`` (``key=value``; ``meta.*`` for who and
    when), derive its ground truth by ``config``'s definitions, and write the recording.

    ``detections=False`` writes no ``detections.json``; with ``video=False`` too the recording
    is sensor-only: the camera's view is computed only for the labels (road events need it),
    and every file written is byte for byte the one the full path writes. ``writer`` writes the
    folder (``wiring.simulate`` passes saferoad's format writer). ``sensor_profile``: the device
    that records it (``dashcam``, the default, or ``phone``; :mod:`~saferoad.domain.simulation.profiles`),
    its sensor parameters put before ``assignments`` so that ``--set`` still overrides them."""
    cfg = config or SaferoadConfig()
    spec = get_scenario(name)
    params, meta = split_meta(assignments)
    params = profile_assignments(sensor_profile, seed) + params
    with span("simulate.build", scenario=name, seed=seed):
        sc = spec.make(params, seed=seed)
        camera = camera_views(sc, for_labels=not (video or detections))
        labels = ground_truth(sc, definitions_from_config(cfg), camera)
    written = writer(sc, out, labels, base_meta(meta), video=video, camera=camera, detections=detections)
    get_logger("simulate").info("simulated", scenario=name, seed=seed, out=str(out), labels=len(labels))
    return SimulationResult(name, seed, written, dict(sc.params))


# ------------------------------------------------------------------------------ fleet


@dataclass(frozen=True, slots=True)
class DriverStyle:
    """How a driver's style shifts scenario parameters: harsher ``g``, shorter headways,
    quicker lane changes, rolling stops; and how often they do each risky thing."""

    name: str
    g_scale: float
    headway_s: float
    lane_change_s: float
    stop_min_kmh: float
    risky_share: float


STYLES = {
    "careful": DriverStyle("careful", 0.6, 2.0, 6.0, 0.0, 0.1),
    "normal": DriverStyle("normal", 1.0, 1.2, 4.0, 0.0, 0.35),
    "aggressive": DriverStyle("aggressive", 1.4, 0.5, 2.4, 15.0, 0.7),
}

_RISKY = ("harsh_braking", "harsh_acceleration", "cornering", "aggressive_lane_change", "tailgating",
          "lead_braking", "stop_sign", "red_light", "speeding", "drowsy", "distracted")  # fmt: skip
_CALM = ("normal", "lane_change", "pedestrian_crossing", "stop_sign")


def _fleet_params(scenario: str, style: DriverStyle, rng: np.random.Generator) -> list[str]:
    """Scenario parameters for one trip of a driver of ``style`` (jittered per trip)."""
    j = float(rng.uniform(0.9, 1.1))
    g = style.g_scale * j
    out: list[str] = []
    if scenario == "harsh_braking":
        out.append(f"decel_g={0.35 * g:.3f}")
    elif scenario == "harsh_acceleration":
        out.append(f"accel_g={0.3 * g:.3f}")
    elif scenario == "cornering":
        out += [f"lat_g={0.32 * g:.3f}", f"direction={rng.choice(['left', 'right'])}"]
    elif scenario in ("aggressive_lane_change", "lane_change"):
        out += [f"manoeuvre_s={style.lane_change_s * j:.2f}", f"direction={rng.choice(['left', 'right'])}"]
    elif scenario == "tailgating":
        out.append(f"headway_s={style.headway_s * j:.2f}")
    elif scenario == "stop_sign":
        out.append(f"min_speed_kmh={style.stop_min_kmh * j:.1f}")
    elif scenario == "red_light":
        out.append(f"stops={'false' if style.name == 'aggressive' else 'true'}")
    elif scenario == "speeding":
        out.append(f"speed_kmh={60 + 25 * style.g_scale * j:.1f}")
    elif scenario == "drowsy":
        out.append(f"closure_s={2.5 if style.name != 'careful' else 0.8:.1f}")
    elif scenario == "distracted":
        out.append(f"look_s={4.0 * style.g_scale * j:.1f}")
    return out


def simulate_fleet(
    out: Path,
    trips: int,
    *,
    writer: RecordingWriter,
    seed: int = 0,
    video: bool = False,
    config: SaferoadConfig | None = None,
    drivers: int = 3,
    vehicles: int = 3,
    weeks: int = 4,
    fleet_id: str = "sim-fleet",
    detections: bool = True,
    sensor_profile: str = SENSOR_PROFILES[0],
) -> Path:
    """Write ``trips`` mixed trips under ``out`` (one folder each) and ``out/manifest.yaml``
    (``recordings: [{path, labels, tags}]``, paths relative to ``out``). Drivers cycle
    through the styles careful, normal, aggressive; dates spread over ``weeks`` weeks."""
    if trips < 1:
        raise ValueError("--trips must be at least 1")
    profile_assignments(sensor_profile, seed)  # an unknown profile fails before anything is written
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    style_names = list(STYLES)
    roster = [(f"D-{i + 1:03d}", STYLES[style_names[i % len(style_names)]]) for i in range(max(drivers, 1))]
    start0 = DEFAULT_START - timedelta(weeks=weeks)
    entries: list[dict[str, Any]] = []
    width = max(3, int(math.log10(trips)) + 1)
    with span("simulate.fleet", trips=trips):
        for k in range(trips):
            driver, style = roster[k % len(roster)]
            vehicle = f"V-{(k % max(vehicles, 1)) + 1:03d}"
            risky = rng.random() < style.risky_share
            scenario = str(rng.choice(_RISKY if risky else _CALM))
            params = _fleet_params(scenario, style, rng)
            day = float(rng.uniform(0, weeks * 7))
            start = start0 + timedelta(days=math.floor(day), hours=float(rng.uniform(7, 19)))
            start = start.replace(microsecond=0)
            meta = [
                f"meta.fleet_id={fleet_id}", f"meta.driver_id={driver}", f"meta.vehicle_id={vehicle}",
                f"meta.device_id=SR-{vehicle}", f"meta.start_utc={start.isoformat()}",
            ]  # fmt: skip
            name = f"trip-{k:0{width}d}-{scenario}"
            trip_seed = int(rng.integers(0, 2**31 - 1))
            res = simulate(scenario, out / name, writer=writer, assignments=meta + params, seed=trip_seed, video=video, config=config,
                           detections=detections, sensor_profile=sensor_profile)  # fmt: skip
            entries.append(_manifest_entry(name, res, driver, style.name, vehicle, start, params, sensor_profile))
    return _write_manifest(out, {"fleet": fleet_id, "seed": seed, "trips": trips, "recordings": entries})


def _manifest_entry(
    name: str,
    res: SimulationResult,
    driver: str,
    style: str,
    vehicle: str,
    start: datetime,
    params: list[str],
    sensor_profile: str = SENSOR_PROFILES[0],
) -> dict[str, Any]:
    """One trip of a fleet manifest: its folder, labels and tags (``sensor_profile`` only where
    it is not the default, so default manifests stay as they were)."""
    tags: dict[str, Any] = {
        "scenario": res.scenario,
        "driver": driver,
        "style": style,
        "vehicle": vehicle,
        "start_utc": start.isoformat().replace("+00:00", "Z"),
        "seed": res.seed,
        "params": params,
        "events": sorted({lb.type for lb in res.written.labels if lb.type != "normal"}),
    }
    if sensor_profile != SENSOR_PROFILES[0]:
        tags["sensor_profile"] = sensor_profile
    return {"path": name, "labels": f"{name}/labels.jsonl", "tags": tags}


def _write_manifest(out: Path, doc: dict[str, Any]) -> Path:
    manifest = out / "manifest.yaml"
    manifest.write_text(yaml.safe_dump(doc, sort_keys=False, allow_unicode=True), encoding="utf-8")
    return manifest


# Mixed driver-weeks: each trip one `mixed_drive`. A style sets how firmly the driver does
# every manoeuvre (gentle_*: everyday braking, acceleration, turns, lane changes) and how often
# (risky_share) a manoeuvre is done its hard way (decel_g ...); intensities are jittered ±10 %.
# Calibrated (docs/simulator.md, "Driver-weeks") so that the normal driver makes about 25 harsh
# events per 1,000 km, the rate of docs/scoring.md's normal city week, and the aggressive one
# about five times that. The careful driver's hard way stays under every threshold (0.38 g
# braking, 0.37 g acceleration, 0.38 g cornering, 0.3 g lane change = 2πW/T² at 3.5 m, 0.7 s
# headway, stop 2.68 m/s): its firmest manoeuvres (6 %) are graded moderate (from 0.23 g;
# 0.18 g for a lane change), not harsh. The normal driver's hard way sits at the thresholds
# (crossing about half the time) and its everyday braking (0.23 g) is graded moderate about
# half the time; the aggressive driver's everyday manoeuvres are all moderate.
MIXED_STYLES: dict[str, dict[str, float]] = {
    "careful": {"risky_share": 0.06, "decel_g": 0.26, "accel_g": 0.25, "lat_g": 0.26, "lane_change_s": 3.3,
                "headway_s": 1.5, "stop_min_kmh": 0.0, "speed_kmh": 45.0, "gentle_decel_g": 0.15,
                "gentle_accel_g": 0.12, "gentle_lat_g": 0.13, "gentle_lane_change_s": 6.5},
    "normal": {"risky_share": 0.015, "decel_g": 0.38, "accel_g": 0.37, "lat_g": 0.38, "lane_change_s": 2.6,
               "headway_s": 0.9, "stop_min_kmh": 8.0, "speed_kmh": 50.0, "gentle_decel_g": 0.23,
               "gentle_accel_g": 0.17, "gentle_lat_g": 0.18, "gentle_lane_change_s": 5.0},
    "aggressive": {"risky_share": 0.035, "decel_g": 0.5, "accel_g": 0.45, "lat_g": 0.48, "lane_change_s": 2.4,
                   "headway_s": 0.5, "stop_min_kmh": 15.0, "speed_kmh": 55.0, "gentle_decel_g": 0.26,
                   "gentle_accel_g": 0.22, "gentle_lat_g": 0.24, "gentle_lane_change_s": 4.0},
}  # fmt: skip
"""`mixed_drive` parameters per driver style (simulate-fleet --mixed)."""


def iso_week_monday(week: str) -> date:
    """The Monday of ISO week ``YYYY-Www`` (the domain's ``week_start``)."""
    try:
        return week_start(week)
    except ValueError:
        raise ValueError(f"--week {week!r}: expected an ISO week such as 2026-W47") from None


def simulate_fleet_week(
    out: Path,
    *,
    writer: RecordingWriter,
    week: str = "2026-W47",
    drivers: int = 3,
    trips_per_day: int = 4,
    days: int = 7,
    segments: int = 10,
    seed: int = 0,
    video: bool = False,
    config: SaferoadConfig | None = None,
    fleet_id: str = "sim-fleet",
    timezone: str = "Asia/Tokyo",
    detections: bool = True,
    sensor_profile: str = SENSOR_PROFILES[0],
) -> Path:
    """Driver-weeks of mixed trips: for each of ``days`` days of ISO ``week`` and each driver
    (styles cycle careful, normal, aggressive; driver ``i`` drives vehicle ``i``),
    ``trips_per_day`` `mixed_drive` trips of ``segments`` segments, starting between 08:00 and
    19:00 local time (``timezone``). Writes one folder per trip and ``out/manifest.yaml`` as
    :func:`simulate_fleet` does. Deterministic for ``seed``."""
    if drivers < 1 or trips_per_day < 1 or not 1 <= days <= 7 or segments < 1:
        raise ValueError("--drivers, --trips-per-day and --segments must be at least 1, --days in 1..7")
    profile_assignments(sensor_profile, seed)  # an unknown profile fails before anything is written
    monday = iso_week_monday(week)
    tz = ZoneInfo(timezone)
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    style_names = list(MIXED_STYLES)
    entries: list[dict[str, Any]] = []
    n = 0
    with span("simulate.fleet_week", week=week, drivers=drivers):
        for day in range(days):
            for i in range(drivers):
                driver, style = f"D-{i + 1:03d}", style_names[i % len(style_names)]
                vehicle = f"V-{i + 1:03d}"
                # trips start in ordered, non-overlapping slots of the local day
                slot_h = 11.0 / trips_per_day
                for k in range(trips_per_day):
                    hour = 8.0 + slot_h * (k + float(rng.uniform(0.0, 0.5)))
                    local = datetime.combine(monday + timedelta(days=day), time(0, 0), tz) + timedelta(hours=hour)
                    start = local.astimezone(UTC).replace(microsecond=0)
                    params = [f"{key}={val:g}" for key, val in MIXED_STYLES[style].items()]
                    params += [f"segments={segments}", f"plan_seed={int(rng.integers(0, 2**31 - 1))}"]
                    meta = [
                        f"meta.fleet_id={fleet_id}", f"meta.driver_id={driver}", f"meta.vehicle_id={vehicle}",
                        f"meta.device_id=SR-{vehicle}", f"meta.start_utc={start.isoformat()}",
                        f"meta.timezone={timezone}",
                    ]  # fmt: skip
                    name = f"{driver}-{local.date().isoformat()}-{k:02d}"
                    trip_seed = int(rng.integers(0, 2**31 - 1))
                    res = simulate("mixed_drive", out / name, writer=writer, assignments=meta + params, seed=trip_seed,
                                   video=video, config=config, detections=detections,
                                   sensor_profile=sensor_profile)  # fmt: skip
                    n += 1
                    entries.append(_manifest_entry(name, res, driver, style, vehicle, start, params, sensor_profile))
    return _write_manifest(out, {"fleet": fleet_id, "seed": seed, "week": week, "trips": n, "recordings": entries})


def scenario_names() -> list[str]:
    return list(SCENARIOS)

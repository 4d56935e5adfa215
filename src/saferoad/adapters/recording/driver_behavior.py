"""driverBehaviorDataset trip folders (Ferreira Júnior et al., PLOS ONE 2017), read as they are.

``acelerometro_terra.csv`` (Earth frame, z up, gravity included, m/s²) and
``giroscopio_terra.csv`` (Earth frame, rad/s) with columns ``timestamp,uptimeNanos,x,y,z``;
time zero is ``firstCollectionUptimeNanos`` of ``viagem.json``; the gyroscope is interpolated
onto the accelerometer's timestamps. ``groundTruth.csv`` gives the labels.

The phone's Earth-frame rotation follows the accelerometer slowly, so even the
gravity-included file's horizontal x/y equal the gravity-removed ``aceleracaoLinear_terra.csv``
x/y: both are high-passed (about 1 s; ``../shared/design/published-practice.md``). The reader
says so with ``ImuSeries.horizontal_highpass_tau_s`` = :data:`HIGHPASS_TAU_S`, a prior the
engine refines from the trip's own turns (``domain/motion/highpass.py``).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from saferoad.adapters.jsonl import read_json
from saferoad.adapters.recording._csv import read_numeric_csv
from saferoad.adapters.recording.labels import read_ground_truth_csv
from saferoad.adapters.recording.registry import register
from saferoad.adapters.recording.series import check_imu_units, clean_imu
from saferoad.domain.recording import Recording, RecordingMeta
from saferoad.domain.types import ImuSeries

FORMAT_NAME = "driver-behavior-dataset"
ACC_FILE = "acelerometro_terra.csv"
GYRO_FILE = "giroscopio_terra.csv"
HIGHPASS_TAU_S = 1.0
"""The source's horizontal high-pass time constant, as published practice describes it (~1 s)."""


def can_read(path: Path) -> bool:
    return path.is_dir() and (path / ACC_FILE).is_file() and (path / "viagem.json").is_file()


def _xyz(path: Path, t0_ns: int) -> tuple[np.ndarray, np.ndarray]:
    c = read_numeric_csv(path, ["uptimeNanos", "x", "y", "z"])
    # uptimeNanos exceeds 2**53 only after ~104 days of uptime; float64 is exact below that.
    t = (c["uptimeNanos"] - float(t0_ns)) * 1e-9
    return t, np.column_stack([c["x"], c["y"], c["z"]])


def read_driver_behavior(path: Path) -> Recording:
    vpath = path / "viagem.json"
    trip = read_json(vpath)
    raw = trip.get("firstCollectionUptimeNanos") if isinstance(trip, dict) else None
    if raw is None:
        raise ValueError(f"{vpath}: field 'firstCollectionUptimeNanos': missing")
    try:
        t0_ns = int(raw)
    except (TypeError, ValueError):
        raise ValueError(
            f"{vpath}: field 'firstCollectionUptimeNanos': expected an integer (ns), got {raw!r}"
        ) from None
    t_acc, acc = _xyz(path / ACC_FILE, t0_ns)
    gyro = None
    if (path / GYRO_FILE).exists():
        t_g, g = _xyz(path / GYRO_FILE, t0_ns)
        order = np.argsort(t_g, kind="stable")
        t_g, g = t_g[order], g[order]
        gyro = np.column_stack([np.interp(t_acc, t_g, g[:, k]) for k in range(3)])
    imu = ImuSeries(t_acc, acc, gyro, frame="earth", gravity_removed=False)
    check_imu_units(imu, path / ACC_FILE)
    imu = replace(clean_imu(imu, path / ACC_FILE), horizontal_highpass_tau_s=HIGHPASS_TAU_S)
    start = None
    if "start" in trip:
        try:
            start = datetime.strptime(trip["start"], "%Y-%m-%d %H:%M:%S.%f%z").astimezone(UTC)
        except ValueError:
            start = None
    labels = None
    if (path / "groundTruth.csv").exists():
        labels = tuple(read_ground_truth_csv(path / "groundTruth.csv"))
    meta = RecordingMeta(
        vehicle_id="honda-civic-2011",
        device_id=str(trip.get("smartphoneModel", "unknown")),
        start_utc=start,
        timezone="America/Sao_Paulo",
    )
    return Recording(
        path=path, source_format=FORMAT_NAME, meta=meta, imu=imu, labels=labels
    )


register(
    FORMAT_NAME, can_read, read_driver_behavior,
    expects="acelerometro_terra.csv + viagem.json", label="driverBehaviorDataset", priority=10,
)

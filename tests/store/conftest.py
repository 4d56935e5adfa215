"""Fixtures of the store tests: both databases, and small synthetic ``analyze`` outputs.

``db_url`` runs a test once on a fresh SQLite file and once on a fresh PostgreSQL database
(created on the server ``SAFEROAD_TEST_PG_URL`` points at, dropped afterwards). Without that
variable the PostgreSQL case skips on a developer machine and fails in CI (``CI=true``).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import os
import shutil
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from saferoad.adapters.outputs import finish_folder
from saferoad.domain.scoring import Exposure, ScoringRules, safety_score
from saferoad.ports.store import ScoreRecord

STYLES: dict[str, dict[str, float]] = {
    # mean events per 10 minutes of city driving, per type
    "careful": {"harsh_braking": 0.1},
    "average": {"harsh_braking": 0.2, "harsh_cornering": 0.1, "tailgating": 0.1},
    "aggressive": {
        "harsh_braking": 0.5,
        "harsh_acceleration": 0.4,
        "harsh_cornering": 0.3,
        "tailgating": 0.3,
        "speeding": 0.3,
        "forward_collision_warning": 0.1,
    },
}
VIDEO_TYPES = {"tailgating", "forward_collision_warning", "rolling_stop", "red_light"}


def _pg_server_url() -> str | None:
    url = os.environ.get("SAFEROAD_TEST_PG_URL")
    if not url:
        if os.environ.get("CI") == "true":
            pytest.fail(
                "SAFEROAD_TEST_PG_URL is not set: CI must run the store tests on PostgreSQL"
            )
        return None
    return url


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test."""
    server = _pg_server_url()
    if server is None:
        pytest.skip("SAFEROAD_TEST_PG_URL not set (source scripts/services.sh && start_services)")
    name = f"saferoad_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        # drop connections the test may have left open, then the database
        with admin.connect() as conn:
            conn.execute(
                text(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE datname = :n AND pid <> pg_backend_pid()"
                ),
                {"n": name},
            )
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}"'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'store.db'}"
    url: str = request.getfixturevalue("pg_url")
    return url


def _jpeg(path: Path, label: str, seed: int) -> None:
    rng = np.random.default_rng(seed)
    img = np.zeros((180, 320, 3), np.uint8)
    img[:90] = (200, 160, 120)  # sky
    img[90:] = (70, 70, 70)  # road
    cv2.fillConvexPoly(img, np.array([[150, 90], [170, 90], [260, 180], [60, 180]]), (90, 90, 90))
    x = int(rng.integers(110, 180))
    cv2.rectangle(img, (x, 100), (x + 50, 135), (40, 40, 160), -1)
    cv2.putText(img, label[:24], (8, 20), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1)
    path.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(path), img)


def _clip(path: Path, seed: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), 10.0, (160, 96))
    for i in range(10):
        frame = np.full((96, 160, 3), 60 + (seed * 13 + i * 10) % 150, np.uint8)
        writer.write(frame)
    writer.release()


def style_events(
    style: str, rng: np.random.Generator, duration_s: float, trip_index: int = 0
) -> list[dict[str, Any]]:
    """Events a driver of ``style`` has in ``duration_s``: the style's mean count, spread evenly
    over the driver's successive trips (``trip_index``) so a week holds what the style says;
    random times, figures and severities."""
    events: list[dict[str, Any]] = []
    for etype, per10 in STYLES[style].items():
        lam = per10 * duration_s / 600.0
        n = math.floor((trip_index + 1) * lam + 0.5) - math.floor(trip_index * lam + 0.5)
        for _ in range(n):
            start = float(rng.uniform(30.0, duration_s - 30.0))
            length = 30.0 if etype in ("tailgating", "speeding") else 2.0
            ev: dict[str, Any] = {
                "type": etype,
                "start_s": round(start, 3),
                "end_s": round(start + length, 3),
                "direction": ("left" if rng.random() < 0.5 else "right")
                if etype == "harsh_cornering"
                else None,
                "severity": str(rng.choice(["low", "medium", "high"])),
                "confidence": round(float(rng.uniform(0.6, 1.0)), 3),
                "peak": {},
                "evidence": {},
            }
            if etype.startswith("harsh"):
                g = float(rng.uniform(0.38, 0.6))
                ev["peak"] = {"accel_g": round(-g if etype == "harsh_braking" else g, 3)}
            elif etype == "tailgating":
                ev["peak"] = {"min_headway_s": round(float(rng.uniform(0.3, 0.9)), 2)}
            elif etype == "forward_collision_warning":
                ev["peak"] = {"min_ttc_s": round(float(rng.uniform(0.8, 2.0)), 2)}
            elif etype == "speeding":
                ev["peak"] = {"over_limit_kmh": round(float(rng.uniform(8, 25)), 1)}
            events.append(ev)
    events.sort(key=lambda e: (e["start_s"], e["type"]))
    return events


def write_analyze_output(
    out: Path,
    *,
    fleet: str = "tokyo-taxi",
    driver: str = "D-001",
    vehicle: str = "TX-1",
    device: str | None = None,
    start_utc: dt.datetime = dt.datetime(2026, 11, 17, 0, 30, tzinfo=dt.UTC),
    duration_s: float = 1200.0,
    events: list[dict[str, Any]] | None = None,
    style: str = "average",
    seed: int = 0,
    trip_index: int = 0,
    media: bool = True,
    timezone: str = "Asia/Tokyo",
) -> Path:
    """Write a small but complete ``saferoad analyze`` output (docs/recording-format.md)."""
    rng = np.random.default_rng(seed)
    out.mkdir(parents=True, exist_ok=True)
    t = np.arange(0.0, duration_s, 0.1)
    # speed: city driving with stops, 0-17 m/s
    base = (
        9.0 + 5.0 * np.sin(2 * math.pi * t / 240.0 + rng.uniform(0, 6)) + rng.normal(0, 0.3, t.size)
    )
    speed = np.clip(base, 0.0, 17.0)
    heading = np.cumsum(rng.normal(0, 0.004, t.size)) + rng.uniform(0, 2 * math.pi)
    dist = np.cumsum(speed * 0.1)
    lat0, lon0 = 35.68 + rng.uniform(-0.05, 0.05), 139.76 + rng.uniform(-0.05, 0.05)
    north = np.cumsum(speed * 0.1 * np.cos(heading))
    east = np.cumsum(speed * 0.1 * np.sin(heading))
    lat = lat0 + north / 111_320.0
    lon = lon0 + east / (111_320.0 * math.cos(math.radians(lat0)))
    long_acc = np.gradient(speed, 0.1)
    yaw = np.gradient(heading, 0.1)
    if events is None:
        events = style_events(style, rng, duration_s, trip_index)
    for i, ev in enumerate(events):
        if media and ev["type"] in VIDEO_TYPES:
            clip, snap = f"clips/event_{i:03d}.mp4", f"snapshots/event_{i:03d}.jpg"
            _clip(out / clip, seed * 100 + i)
            _jpeg(out / snap, ev["type"], seed * 100 + i)
            ev["evidence"] = {**ev.get("evidence", {}), "clip": clip, "snapshot": snap}
    pq.write_table(
        pa.table(
            {
                "t_s": t,
                "lat": lat,
                "lon": lon,
                "speed_mps": speed,
                "long_acc_mps2": long_acc,
                "lat_acc_mps2": speed * yaw,
                "yaw_rate_dps": np.degrees(yaw),
            }
        ),
        out / "timeline.parquet",
    )
    with (out / "events.jsonl").open("w", encoding="utf-8") as fh:
        for ev in events:
            fh.write(json.dumps(ev) + "\n")
    counts: dict[str, int] = {}
    for ev in events:
        counts[ev["type"]] = counts.get(ev["type"], 0) + 1
    summary = {
        "saferoad_version": "0.1.0",
        "recording": str(out),
        "source_format": "saferoad",
        "meta": {
            "fleet_id": fleet,
            "vehicle_id": vehicle,
            "vehicle_type": "car",
            "driver_id": driver,
            "device_id": device or f"SR-{vehicle}",
            "start_utc": start_utc.isoformat().replace("+00:00", "Z"),
            "timezone": timezone,
        },
        "duration_s": duration_s,
        "distance_km": round(float(dist[-1]) / 1000.0, 3),
        "event_counts": counts,
        "n_events": len(events),
        "config_fingerprint": "synthetic",
        "stages_s": {},
        "wall_s": float(rng.uniform(0.1, 1.0)),
    }
    (out / "summary.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    finish_folder(out)  # run.json: a finished run, as analyze leaves it
    return out


def write_week(
    root: Path,
    week_monday: dt.date = dt.date(2026, 11, 16),
    trips_per_driver: int = 6,
    drivers: dict[str, str] | None = None,
    duration_s: float = 1800.0,
    seed: int = 1,
) -> list[Path]:
    """A week of trips for three drivers of different styles (driver code -> style)."""
    drivers = drivers or {
        "D-careful": "careful",
        "D-average": "average",
        "D-aggressive": "aggressive",
    }
    outs = []
    for d_i, (code, style) in enumerate(drivers.items()):
        for k in range(trips_per_driver):
            day = week_monday + dt.timedelta(days=k % 6)
            start = dt.datetime.combine(day, dt.time(0, 0), dt.UTC) + dt.timedelta(
                hours=1 + 2 * (k // 6) + d_i, minutes=7 * k
            )
            outs.append(
                write_analyze_output(
                    root / f"{code}-{week_monday.isoformat()}-{k:02d}",
                    driver=code,
                    vehicle=f"TX-{d_i + 1}",
                    start_utc=start,
                    duration_s=duration_s,
                    style=style,
                    seed=seed * 1000 + d_i * 100 + k,
                    trip_index=k,
                )
            )
    return outs


@pytest.fixture
def make_output() -> Callable[..., Path]:
    return write_analyze_output


@pytest.fixture
def make_week() -> Callable[..., list[Path]]:
    return write_week


@pytest.fixture(scope="session")
def week_outputs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two weeks (W46 and W47 of 2026) of three drivers, written once per session."""
    root = tmp_path_factory.mktemp("fleet")
    write_week(root, dt.date(2026, 11, 9), seed=46, duration_s=1200.0)
    write_week(root, dt.date(2026, 11, 16), seed=47, duration_s=1200.0)
    return root


def copy_output(src: Path, dst: Path) -> Path:
    shutil.copytree(src, dst)
    return dst


def file_truth(outputs: list[Path]) -> dict[str, Exposure]:
    """Distance and event counts per driver read straight from the analyze outputs (what the
    store's figures must equal)."""
    out: dict[str, Exposure] = {}
    for o in outputs:
        summary = json.loads((o / "summary.json").read_text())
        counts: dict[str, int] = {}
        for line in (o / "events.jsonl").read_text().splitlines():
            if line.strip():
                t = json.loads(line)["type"]
                counts[t] = counts.get(t, 0) + 1
        e = Exposure(summary["distance_km"], counts, summary["duration_s"], 1)
        d = summary["meta"]["driver_id"]
        out[d] = out[d] + e if d in out else e
    return out


@pytest.fixture(name="file_truth")
def file_truth_fixture() -> Callable[[list[Path]], dict[str, Exposure]]:
    return file_truth


def check_stored_week(
    exposures: dict[str, Exposure],
    scores: dict[str, ScoreRecord | None],
    truth: dict[str, Exposure],
    rules: ScoringRules,
) -> None:
    """Per driver, the store holds what the outputs say (``file_truth``): the week's counts
    and distance, each rate per ``rules.rate_per_km``, and a score equal to one computed now."""
    for d, exp in exposures.items():
        assert dict(exp.counts) == dict(truth[d].counts)
        assert exp.distance_km == pytest.approx(truth[d].distance_km)
        stored = scores[d]
        assert stored is not None
        for etype, n in truth[d].counts.items():
            assert stored.score.rates[etype] == pytest.approx(
                n * rules.rate_per_km / truth[d].distance_km, abs=1e-3
            )
        assert stored.score.value == pytest.approx(safety_score(exp, rules).value, abs=1e-3)


@pytest.fixture(name="check_stored_week")
def check_stored_week_fixture() -> Callable[..., None]:
    return check_stored_week

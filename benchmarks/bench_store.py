"""Store benchmark: ingest and score N analyze outputs into SQLite and PostgreSQL; time a
driver-week report.

    .venv/bin/python benchmarks/bench_store.py [--trips 10000] [--pg-url URL] [--no-pg]

Without ``--pg-url`` (or ``$SAFEROAD_TEST_PG_URL``) a throw-away PostgreSQL is started with
``scripts/services.sh`` and stopped at the end. Each synthetic output is a 2-minute trip
(1,200 timeline rows at 10 Hz, ~2 events) of one of 60 drivers in 3 fleets over 8 weeks.

Figures printed, each with the baseline measured in the same run:
* ingest trips/s per database, against **parse only** (reading and checking the same outputs
  without a database: what the store itself adds is the difference);
* re-ingest (everything unchanged) trips/s: the cost of idempotency;
* rescoring every driver-week and fleet-week;
* a driver-week report: HTML and PDF, against gathering its data alone.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

from saferoad.adapters.sql import open_store  # noqa: E402
from saferoad.application import report as rep  # noqa: E402
from saferoad.application.ingest import (  # noqa: E402
    rescore_weeks,
    scoring_fingerprint,
)
from saferoad.config import load_config  # noqa: E402
from saferoad.entrypoints.wiring import ingest_outputs, load_output, report_ports  # noqa: E402

TYPES = ["harsh_braking", "harsh_acceleration", "harsh_cornering", "tailgating", "speeding"]
DURATION_S = 120.0
TEMPLATES = 16


def _timeline(path: Path, seed: int) -> float:
    rng = np.random.default_rng(seed)
    t = np.arange(0.0, DURATION_S, 0.1)
    speed = np.clip(10 + 4 * np.sin(t / 20 + seed) + rng.normal(0, 0.3, t.size), 0, 20)
    heading = np.cumsum(rng.normal(0, 0.004, t.size))
    lat = 35.68 + np.cumsum(speed * 0.1 * np.cos(heading)) / 111_320
    lon = 139.76 + np.cumsum(speed * 0.1 * np.sin(heading)) / 90_000
    pq.write_table(
        pa.table(
            {
                "t_s": t,
                "lat": lat,
                "lon": lon,
                "speed_mps": speed,
                "long_acc_mps2": np.gradient(speed, 0.1),
                "lat_acc_mps2": speed * 0.01,
                "yaw_rate_dps": np.zeros(t.size),
            }
        ),
        path,
    )
    return float(np.sum(speed * 0.1) / 1000)


def make_outputs(root: Path, n: int) -> list[Path]:
    """``n`` outputs; timelines are hard links to a few templates (the content the store keeps
    per trip differs through the summary and events)."""
    tmpl_dir = root / "_templates"
    tmpl_dir.mkdir(parents=True)
    dists = [_timeline(tmpl_dir / f"t{i}.parquet", i) for i in range(TEMPLATES)]
    rng = np.random.default_rng(0)
    monday = dt.datetime(2026, 9, 28, tzinfo=dt.UTC)
    outs = []
    for i in range(n):
        fleet, driver = f"fleet-{i % 3}", f"D-{i % 60:03d}"
        k = i % TEMPLATES
        out = root / f"trip-{i:05d}"
        out.mkdir()
        os.link(tmpl_dir / f"t{k}.parquet", out / "timeline.parquet")
        style = 0.3 + (i % 60) / 30  # drivers differ
        events = []
        for _ in range(int(rng.poisson(style))):
            s = float(rng.uniform(5, DURATION_S - 10))
            events.append(
                {
                    "type": str(rng.choice(TYPES)),
                    "start_s": round(s, 2),
                    "end_s": round(s + 2, 2),
                    "severity": "medium",
                    "confidence": 0.9,
                    "direction": None,
                    "peak": {"accel_g": 0.45},
                    "evidence": {},
                }
            )
        events.sort(key=lambda e: e["start_s"])
        (out / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
        counts: dict[str, int] = {}
        for e in events:
            counts[e["type"]] = counts.get(e["type"], 0) + 1
        start = monday + dt.timedelta(minutes=7 * i % (8 * 7 * 24 * 60))
        summary = {
            "meta": {
                "fleet_id": fleet,
                "vehicle_id": f"V-{i % 45}",
                "driver_id": driver,
                "device_id": f"SR-{i % 45}",
                "vehicle_type": "car",
                "start_utc": start.isoformat(),
                "timezone": "Asia/Tokyo",
            },
            "duration_s": DURATION_S,
            "distance_km": round(dists[k], 3),
            "event_counts": counts,
            "n_events": len(events),
        }
        (out / "summary.json").write_text(json.dumps(summary))
        outs.append(out)
    return outs


def _start_pg() -> tuple[str, str]:
    script = 'source scripts/services.sh && start_services >/dev/null && echo "$SAFEROAD_TEST_PG_URL $PGDATA_DIR"'
    out = subprocess.run(
        ["bash", "-c", script], cwd=REPO, capture_output=True, text=True, check=True
    )
    url, data = out.stdout.split()
    return url, data


def _stop_pg(data_dir: str) -> None:
    subprocess.run(
        ["bash", "-c", f"source scripts/services.sh && PGDATA_DIR={data_dir} stop_services"],
        cwd=REPO,
        check=False,
    )


def _fresh_pg_db(server: str) -> tuple[str, str]:
    from sqlalchemy import create_engine, text
    from sqlalchemy.engine import make_url

    name = f"bench_{uuid.uuid4().hex[:8]}"
    eng = create_engine(server, isolation_level="AUTOCOMMIT")
    with eng.connect() as c:
        c.execute(text(f'CREATE DATABASE "{name}"'))
    eng.dispose()
    return make_url(server).set(database=name).render_as_string(hide_password=False), name


def _drop_pg_db(server: str, name: str) -> None:
    from sqlalchemy import create_engine, text

    eng = create_engine(server, isolation_level="AUTOCOMMIT")
    with eng.connect() as c:
        c.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    eng.dispose()


def bench_db(
    label: str, url: str, outs: list[Path], cfg: object, parse_s: float
) -> dict[str, float]:
    store = open_store(url)
    try:
        t0 = time.perf_counter()
        res = ingest_outputs(store.unit_of_work, outs, cfg)  # type: ignore[arg-type]
        ingest_s = time.perf_counter() - t0
        assert len(res.added) == len(outs)
        t0 = time.perf_counter()
        again = ingest_outputs(store.unit_of_work, outs, cfg)  # type: ignore[arg-type]
        reingest_s = time.perf_counter() - t0
        assert len(again.unchanged) == len(outs)
        with store.unit_of_work() as uow:
            pairs = {(f, w) for f in uow.trips.fleets() for w in uow.trips.weeks(f)}
            t0 = time.perf_counter()
            rescore_weeks(uow, cfg.scoring.rules(), scoring_fingerprint(cfg), pairs)  # type: ignore[attr-defined]
            uow.commit()
            rescore_s = time.perf_counter() - t0
            n_trips, n_events = uow.trips.count()
            n_scores = uow.scores.count()
        n = len(outs)
        print(
            f"{label:10s} ingest+score {n} trips: {ingest_s:7.1f} s = {n / ingest_s:6.0f} trips/s "
            f"(parse-only baseline {n / parse_s:6.0f} trips/s; the store adds "
            f"{(ingest_s - parse_s) / n * 1e3:.1f} ms/trip)"
        )
        print(
            f"{label:10s} re-ingest, all unchanged: {reingest_s:7.1f} s = {n / reingest_s:6.0f} trips/s"
        )
        print(
            f"{label:10s} rescore {len(pairs)} fleet-weeks (driver-week + fleet-week scores): "
            f"{rescore_s:6.2f} s; stored {n_trips} trips, {n_events} events, {n_scores} scores"
        )
        return {"ingest_s": ingest_s, "reingest_s": reingest_s, "rescore_s": rescore_s}
    finally:
        store.close()


def bench_report(url: str, cfg: object, out_dir: Path) -> None:
    store = open_store(url)
    try:
        with store.unit_of_work() as uow:
            briefs = uow.trips.briefs("fleet-0")
        week, driver = briefs[len(briefs) // 2].local_week, briefs[len(briefs) // 2].ids.driver
        t0 = time.perf_counter()
        with store.unit_of_work() as uow:
            uow.trips.exposures("fleet-0", week)
            for b in uow.trips.briefs("fleet-0", week, driver):
                uow.trips.get(b.id)
        gather_s = time.perf_counter() - t0
        t0 = time.perf_counter()
        ctx = rep.driver_week_context(store, cfg, driver, week, ports=report_ports())  # type: ignore[arg-type]
        rep.write(ctx, out_dir / "driver.html", ports=report_ports())
        html_s = time.perf_counter() - t0
        n_trips, n_events = len(ctx["trips"]), ctx["n_events"]
        pdf_s = float("nan")
        if shutil.which("chromium"):
            t0 = time.perf_counter()
            rep.write(ctx, out_dir / "driver.pdf", ports=report_ports())
            pdf_s = time.perf_counter() - t0
        print(
            f"report     driver-week {driver} {week} ({n_trips} trips, {n_events} events): "
            f"HTML {html_s:.2f} s (figures included), PDF from it {pdf_s:.2f} s; "
            f"baseline: gathering its data {gather_s * 1e3:.0f} ms"
        )
    finally:
        store.close()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--trips", type=int, default=10_000)
    ap.add_argument("--pg-url", default=os.environ.get("SAFEROAD_TEST_PG_URL"))
    ap.add_argument("--no-pg", action="store_true")
    args = ap.parse_args()
    from saferoad.observability import configure_logging

    configure_logging("WARNING")
    cfg = load_config()
    work = Path(tempfile.mkdtemp(prefix="bench-store-"))
    pg_data = None
    try:
        t0 = time.perf_counter()
        outs = make_outputs(work / "outputs", args.trips)
        print(
            f"generated {len(outs)} analyze outputs in {time.perf_counter() - t0:.1f} s "
            f"({DURATION_S:.0f} s trips, {cpu_note()})"
        )
        t0 = time.perf_counter()
        for o in outs:
            load_output(o, cfg)
        parse_s = time.perf_counter() - t0
        print(f"parse-only baseline: {parse_s:.1f} s = {len(outs) / parse_s:.0f} trips/s")
        bench_db("sqlite", f"sqlite:///{work / 'bench.db'}", outs, cfg, parse_s)
        bench_report(f"sqlite:///{work / 'bench.db'}", cfg, work)
        if not args.no_pg:
            server = args.pg_url
            if not server:
                server, pg_data = _start_pg()
            url, name = _fresh_pg_db(server)
            try:
                bench_db("postgresql", url, outs, cfg, parse_s)
            finally:
                _drop_pg_db(server, name)
    finally:
        if pg_data:
            _stop_pg(pg_data)
        shutil.rmtree(work, ignore_errors=True)


def cpu_note() -> str:
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else math.nan
    return f"{os.cpu_count()} cores, load {load:.1f}"


if __name__ == "__main__":
    main()

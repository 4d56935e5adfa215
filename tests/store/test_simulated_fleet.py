"""The whole chain on simulator trips: simulate-fleet -> analyze -> ingest -> report."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from saferoad.adapters.recording import open_recording
from saferoad.adapters.sql import open_store
from saferoad.application.report import driver_week_context, fleet_context, write
from saferoad.config import load_config
from saferoad.entrypoints.wiring import (
    analyze_recording,
    find_outputs,
    ingest_outputs,
    report_ports,
    simulate_fleet,
)


@pytest.mark.slow
def test_simulated_fleet_through_the_store(tmp_path: Path, db_url: str) -> None:
    cfg = load_config(overrides={"scoring": {"min_distance_km": 0.0, "min_trip_distance_km": 0.0}})
    sim = tmp_path / "sim"
    simulate_fleet(sim, 6, seed=3, drivers=3, weeks=1, config=cfg)
    recordings = sorted(p.parent for p in sim.glob("*/meta.toml"))
    assert len(recordings) == 6
    for rec in recordings:
        analyze_recording(open_recording(rec), cfg, tmp_path / "out" / rec.name)
    outputs = find_outputs(tmp_path / "out")
    store = open_store(db_url)
    try:
        res = ingest_outputs(store.unit_of_work, outputs, cfg)
        assert len(res.added) == 6
        n_events = sum(len((o / "events.jsonl").read_text().splitlines()) for o in outputs)
        km = sum(json.loads((o / "summary.json").read_text())["distance_km"] for o in outputs)
        with store.unit_of_work() as uow:
            assert uow.trips.count() == (6, n_events)
            fleets = uow.trips.fleets()
            weeks = uow.trips.weeks(fleets[0])
            exps = {w: uow.trips.exposures(fleets[0], w) for w in weeks}
        assert sum(e.distance_km for ex in exps.values() for e in ex.values()) == pytest.approx(km)
        assert sum(e.n_events for ex in exps.values() for e in ex.values()) == n_events
        again = ingest_outputs(store.unit_of_work, outputs, cfg)
        assert len(again.unchanged) == 6
        week = weeks[-1]
        driver = sorted(exps[week])[0]
        html = write(driver_week_context(store, cfg, driver, week, ports=report_ports()), tmp_path / "d.html", ports=report_ports())
        assert (
            'data-part="route-map"' in html.read_text() or 'data-part="trips"' in html.read_text()
        )
        fleet = write(fleet_context(store, cfg, fleets[0], week, ports=report_ports()), tmp_path / "f.html", ports=report_ports())
        assert 'data-part="ranking"' in fleet.read_text()
    finally:
        store.close()

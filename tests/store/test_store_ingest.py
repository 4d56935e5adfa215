"""The trip store on SQLite and PostgreSQL: migrations, ingest, idempotency, atomicity, scores."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import inspect, select, text

from saferoad.adapters.sql import open_store
from saferoad.adapters.sql.migrate import current_revision, downgrade, head_revision, upgrade
from saferoad.adapters.sql.models import Base, ScoreRow
from saferoad.application.ingest import MalformedOutput
from saferoad.config import load_config
from saferoad.entrypoints.wiring import find_outputs, ingest_outputs

REPO = Path(__file__).resolve().parents[2]
SAFEROAD = str(Path(sys.executable).with_name("saferoad"))
TABLES = ("fleet", "vehicle", "driver", "device", "trip", "event", "score")


def _config(**scoring: Any) -> Any:
    return load_config(overrides={"scoring": scoring} if scoring else None)


def _dump(url: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row of every table, for before/after comparisons."""
    store = open_store(url)
    try:
        with store.engine.connect() as conn:
            return {
                t: sorted(
                    (tuple(str(v) for v in r) for r in conn.execute(text(f"SELECT * FROM {t}"))),
                )
                for t in TABLES
            }
    finally:
        store.close()


def test_migrations_build_the_models_schema(db_url: str) -> None:
    store = open_store(db_url)
    try:
        assert current_revision(store.engine) == head_revision()
        assert set(TABLES) <= set(inspect(store.engine).get_table_names())
        with store.engine.connect() as conn:
            diff = compare_metadata(MigrationContext.configure(conn), Base.metadata)
        assert diff == [], f"models and migrations disagree: {diff}"
        downgrade(store.engine, "base")
        assert "trip" not in inspect(store.engine).get_table_names()
        upgrade(store.engine)
        assert current_revision(store.engine) == head_revision()
    finally:
        store.close()


def test_sqlite_store_uses_wal(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'wal.db'}")
    try:
        with store.engine.connect() as conn:
            assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
            assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
    finally:
        store.close()


def test_week_of_three_drivers(
    db_url: str, week_outputs: Path, file_truth: Any, check_stored_week: Any
) -> None:
    """Careful scores highest, rates match the events ingested, re-ingesting changes nothing."""
    cfg = _config(min_distance_km=50.0)
    outputs = find_outputs(week_outputs)
    w47 = [o for o in outputs if "2026-11-16" in o.name]
    store = open_store(db_url)
    try:
        res = ingest_outputs(store.unit_of_work, outputs, cfg)
        assert len(res.added) == len(outputs) == 36
        with store.unit_of_work() as uow:
            n_trips, n_events = uow.trips.count()
            exps = uow.trips.exposures("tokyo-taxi", "2026-W47")
            scores = {d: uow.scores.get("driver_week", "tokyo-taxi", d, "2026-W47") for d in exps}
            fleet_score = uow.scores.get("fleet_week", "tokyo-taxi", "tokyo-taxi", "2026-W47")
        truth = file_truth(w47)
        assert n_trips == 36
        assert n_events == sum(e.n_events for e in file_truth(outputs).values())
        assert set(exps) == set(truth) == {"D-careful", "D-average", "D-aggressive"}
        check_stored_week(exps, scores, truth, cfg.scoring.rules())
        values = {d: s.score.value for d, s in scores.items() if s is not None}
        assert None not in values.values()
        assert values["D-careful"] > values["D-average"] > values["D-aggressive"]
        assert fleet_score is not None and fleet_score.score.n_events == sum(
            e.n_events for e in truth.values()
        )

        before = _dump(db_url)
        again = ingest_outputs(store.unit_of_work, outputs, cfg)
        assert len(again.unchanged) == 36 and not again.added and not again.replaced
        assert _dump(db_url) == before
    finally:
        store.close()


def test_reanalysed_output_replaces_its_trip(db_url: str, tmp_path: Path, make_output: Any) -> None:
    cfg = _config()
    out = make_output(tmp_path / "trip", style="aggressive", seed=5)
    store = open_store(db_url)
    try:
        ingest_outputs(store.unit_of_work, [out], cfg)
        with store.unit_of_work() as uow:
            _, n_events = uow.trips.count()
        assert n_events > 1
        # the same recording analysed again with fewer events
        lines = (out / "events.jsonl").read_text().splitlines()
        (out / "events.jsonl").write_text(lines[0] + "\n")
        summary = json.loads((out / "summary.json").read_text())
        summary["event_counts"] = {json.loads(lines[0])["type"]: 1}
        (out / "summary.json").write_text(json.dumps(summary))
        res = ingest_outputs(store.unit_of_work, [out], cfg)
        assert res.replaced == [str(out)]
        with store.unit_of_work() as uow:
            assert uow.trips.count() == (1, 1)
            assert uow.scores.count() == 3  # trip, driver week, fleet week
    finally:
        store.close()


def test_failure_half_way_leaves_store_as_it_was(
    db_url: str, tmp_path: Path, make_output: Any
) -> None:
    cfg = _config()
    first = make_output(tmp_path / "a", seed=1, driver="D-1")
    store = open_store(db_url)
    try:
        ingest_outputs(store.unit_of_work, [first], cfg)
        before = _dump(db_url)
        good = [
            make_output(
                tmp_path / f"b{i}",
                seed=10 + i,
                driver="D-2",
                start_utc=__import__("datetime").datetime(
                    2026, 11, 18, i, tzinfo=__import__("datetime").UTC
                ),
            )
            for i in range(3)
        ]
        bad = make_output(tmp_path / "c", seed=20, driver="D-3")
        with (bad / "events.jsonl").open("a") as fh:
            fh.write('{"type": "harsh_braking", "start_s": 5.0}\n{"type": "warp_drive"}\n')
        with pytest.raises(MalformedOutput, match=r"events\.jsonl:\d+: field 'end_s' is missing"):
            ingest_outputs(store.unit_of_work, [*good, bad], cfg)
        assert _dump(db_url) == before
    finally:
        store.close()


@pytest.mark.slow
def test_killed_ingest_leaves_no_partial_trip(db_url: str, week_outputs: Path) -> None:
    """SIGKILL an ingest in the middle of its transaction: nothing of it is stored."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    # the use case the CLI runs, without the CLI's start-up (every command's imports)
    script = (
        "import sys; from pathlib import Path\n"
        "from saferoad.observability import configure_logging\n"
        "from saferoad.adapters.sql import open_store\n"
        "from saferoad.entrypoints.wiring import find_outputs, ingest_outputs\n"
        "from saferoad.config import load_config\n"
        "configure_logging('INFO')\n"
        "store = open_store(sys.argv[2])\n"
        "ingest_outputs(store.unit_of_work, find_outputs(Path(sys.argv[1])), load_config())\n"
    )
    cmd = [sys.executable, "-c", script, str(week_outputs), db_url]
    proc = subprocess.Popen(
        cmd, stderr=subprocess.PIPE, stdout=subprocess.PIPE, env=env, cwd=REPO, text=True
    )
    seen: list[str] = []
    assert proc.stderr is not None
    for line in proc.stderr:
        seen.append(line)
        if '"trip_staged"' in line and '"n": 3,' in line:
            os.kill(proc.pid, signal.SIGKILL)
            break
    proc.wait(timeout=60)
    assert proc.returncode == -signal.SIGKILL, "".join(seen[-5:])
    assert not any("ingest_done" in s for s in seen)
    store = open_store(db_url)
    try:
        with store.unit_of_work() as uow:
            assert uow.trips.count() == (0, 0)
            assert uow.scores.count() == 0
            assert uow.trips.fleets() == []
        # and the store still works
        res = ingest_outputs(store.unit_of_work, find_outputs(week_outputs)[:2], _config())
        assert len(res.added) == 2
    finally:
        store.close()


def test_cli_ingest_reports_and_is_idempotent(tmp_path: Path, make_output: Any) -> None:
    from typer.testing import CliRunner

    from saferoad.entrypoints.cli.app import app

    out = make_output(tmp_path / "trip", seed=3)
    db = f"sqlite:///{tmp_path / 'cli.db'}"
    args = ["ingest", str(out), "--db", db, "--driver", "D-override"]
    first = CliRunner().invoke(app, args)
    assert first.exit_code == 0, first.output
    assert "1 added" in first.output
    second = CliRunner().invoke(app, args)
    assert "1 unchanged" in second.output
    store = open_store(db)
    try:
        with store.unit_of_work() as uow:
            assert [b.ids.driver for b in uow.trips.briefs()] == ["D-override"]
    finally:
        store.close()
    bad = CliRunner().invoke(app, ["ingest", str(tmp_path / "nowhere"), "--db", db])
    assert bad.exit_code == 2
    assert "no such file or folder" in " ".join(bad.output.split())


def test_scores_are_stored_for_every_scope(tmp_path: Path, make_week: Any) -> None:
    outs = make_week(tmp_path / "w", trips_per_driver=2, duration_s=600.0)
    store = open_store(f"sqlite:///{tmp_path / 's.db'}")
    try:
        ingest_outputs(store.unit_of_work, outs, _config())
        with store.engine.connect() as conn:
            scopes = sorted(r[0] for r in conn.execute(select(ScoreRow.scope)))
        assert scopes.count("trip") == 6
        assert scopes.count("driver_week") == 3
        assert scopes.count("fleet_week") == 1
        # 3 x 2 x 10 min of city driving is well under the 100 km a week needs
        with store.unit_of_work() as uow:
            s = uow.scores.get("driver_week", "tokyo-taxi", "D-careful", "2026-W47")
        assert s is not None and s.score.value is None and "100 km needed" in (s.score.reason or "")
    finally:
        store.close()

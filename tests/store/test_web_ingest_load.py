"""A small version of benchmarks/bench_web_ingest.py as a test: 5 devices x 20 events with
clips over loopback, some requests retried, some clip uploads cut mid-body; nothing lost,
nothing duplicated, every clip's SHA-256 right."""

from __future__ import annotations

import asyncio
import importlib.util
import sys
from pathlib import Path
from typing import Any

import pytest

from saferoad.adapters.sql import open_store
from saferoad.application.web import add_device
from saferoad.config import load_config
from saferoad.entrypoints.web import create_app

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")
REPO = Path(__file__).resolve().parents[2]


def _load(name: str, path: Path) -> Any:
    if name not in sys.modules:
        spec = importlib.util.spec_from_file_location(name, path)
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        spec.loader.exec_module(module)
    return sys.modules[name]


bench = _load("bench_web_ingest", REPO / "benchmarks" / "bench_web_ingest.py")
wh = _load("web_helpers", Path(__file__).with_name("web_helpers.py"))


def test_ingest_under_load_loses_and_duplicates_nothing(db_url: str, tmp_path: Path) -> None:
    cfg = load_config(overrides={"web": {"media_dir": str(tmp_path / "media")}})
    store = open_store(db_url)
    try:
        tokens = {f"dev-{i}": add_device(store, "load-fleet", f"dev-{i}") for i in range(5)}
        with wh.serve(create_app(store, cfg)) as base:
            res = asyncio.run(
                bench.run_load(base, "load-fleet", tokens, n_events=20, clip_bytes=4096,
                               health_per_device=2)
            )
    finally:
        store.close()
    assert res.unexpected == []
    assert len(res.sent_events) == 100 and res.cuts == 5 and res.retries > 20
    assert bench.check_store(db_url, "load-fleet", res) == []
    with open_store(db_url) as again, again.unit_of_work() as uow:
        assert uow.trips.count() == (5, 100)
        week = uow.scores.get("fleet_week", "load-fleet", "load-fleet", "2026-W47")
    assert week is not None and week.score.n_events == 100

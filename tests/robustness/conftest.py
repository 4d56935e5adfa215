"""Recordings made once per session by the simulator (sensors only), copied per test."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from saferoad.entrypoints.cli.app import app


@pytest.fixture(scope="session")
def braking_master(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rec = tmp_path_factory.mktemp("master") / "rec"
    res = CliRunner().invoke(app, ["simulate", "harsh_braking", "-o", str(rec), "--no-video", "--seed", "1"])
    assert res.exit_code == 0, res.output
    return rec


@pytest.fixture
def braking_rec(braking_master: Path, tmp_path: Path) -> Path:
    """A fresh copy of a simulated harsh-braking drive (IMU, GPS, labels), free to damage."""
    return Path(shutil.copytree(braking_master, tmp_path / "rec"))

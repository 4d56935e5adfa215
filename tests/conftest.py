"""Fixtures shared by every test.

``shared_dir`` is the real material (``SAFEROAD_SHARED``, default ``../shared`` beside the
repository). In CI (``CI=true``) it always exists, so a test that needs it fails there rather
than skipping; on a developer machine without it, such tests skip.
"""

from __future__ import annotations

import os
from pathlib import Path

# CLI output is checked as text: give Rich a wide, fixed console (no terminal under CI), set
# before any saferoad module creates its consoles.
os.environ["COLUMNS"] = "200"
os.environ.pop("FORCE_COLOR", None)

import pytest

REPO = Path(__file__).resolve().parents[1]


def shared_path() -> Path:
    return Path(os.environ.get("SAFEROAD_SHARED", REPO.parent / "shared")).resolve()


@pytest.fixture(scope="session")
def shared_dir() -> Path:
    path = shared_path()
    if not (path / "data").is_dir():
        if os.environ.get("CI") == "true":
            pytest.fail(f"shared material missing at {path} (set SAFEROAD_SHARED)")
        pytest.skip(f"shared material not found at {path}")
    return path


@pytest.fixture(scope="session")
def repo_root() -> Path:
    return REPO

"""Fixtures of the perception tests: real models from ../shared/models, real clips."""

from __future__ import annotations

from pathlib import Path

import pytest

from saferoad.adapters.onnx.backend import OnnxBackend
from saferoad.adapters.onnx.card import load_card
from saferoad.adapters.onnx.detector import ModelDetector


@pytest.fixture(scope="session")
def models_root(shared_dir: Path) -> Path:
    return shared_dir / "models"


@pytest.fixture(scope="session")
def yolox(models_root: Path) -> ModelDetector:
    card = load_card("yolox-nano")
    return ModelDetector(card, OnnxBackend(card.model_path(models_root)))


@pytest.fixture(scope="session")
def yolox_tiled(yolox: ModelDetector) -> ModelDetector:
    return ModelDetector(yolox.card, yolox.backend, tiles=3)


@pytest.fixture(scope="session")
def highway_clip(shared_dir: Path) -> Path:
    return shared_dir / "data" / "video" / "highway_vehicles_720p.mp4"

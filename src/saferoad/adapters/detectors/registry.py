"""The detector registry: a factory per ``perception.detector`` type.

Each module of this package is one detector plugin: it holds its config model (``type``
narrowed to a ``Literal``; a ``config.detectors.DetectorConfig``) and registers a factory for
it with :func:`register`; the package imports its modules on import (``__init__.py``), so the table
is built from the modules. A detector outside the package calls :func:`register` from its
own module with its own config model (``tests/perception/test_detector_plugins.py``).
"""

from __future__ import annotations

from collections.abc import Callable

from saferoad.config import SaferoadConfig
from saferoad.config.detectors import (
    DetectorConfig,
    detector_tag,
    register_detector_config,
    unregister_detector_config,
)
from saferoad.domain.plugin_registry import Registry
from saferoad.domain.recording import Recording
from saferoad.ports.detector import Detector, InferenceBackend

DetectorFactory = Callable[[SaferoadConfig, "Recording | None"], Detector]
"""Builds the detector from the whole config (``cfg.perception.detector`` is the plugin's
own config model) and the recording being analysed (``None`` for live or ad-hoc frames)."""

_DETECTORS: Registry[DetectorFactory] = Registry("detector")
DETECTORS: dict[str, DetectorFactory] = _DETECTORS.entries
"""Factories by ``perception.detector`` type: the one table ``build_detector`` reads."""

BACKENDS: dict[str, Callable[..., InferenceBackend]] = {}
"""Inference backends by type for the card-driven ``ModelDetector`` (``onnx``, ``grpc``): a
backend only runs tensors, pre- and post-processing stay the card's."""


def register(config: type[DetectorConfig], factory: DetectorFactory) -> None:
    """Register a detector: its config model joins the union ``perception.detector`` is
    validated by, its factory the table :func:`build_detector` reads."""
    register_detector_config(config)
    _DETECTORS.register(detector_tag(config), factory)


def unregister(tag: str) -> None:
    """Drop a registered detector, config model and factory (a test's plugin when it ends)."""
    _DETECTORS.unregister(tag)
    unregister_detector_config(tag)


def build_detector(cfg: SaferoadConfig, recording: Recording | None = None) -> Detector:
    """The detector ``cfg.perception.detector`` names, built by its plugin's factory."""
    factory = _DETECTORS.lookup(cfg.perception.detector.type, "perception.detector")
    return factory(cfg, recording)

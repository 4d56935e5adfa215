"""Build the configured :class:`~saferoad.ports.detector.Detector`: detector plugins keyed by
``perception.detector``'s ``type`` (Frigate's pattern).

Each module of this package is one detector: ``onnx`` (the model card on local ONNX
Runtime), ``grpc`` (the same card, tensors on a KServe v2 server), ``replay`` (a labels
file). A module names its config model (``CONFIG``, ``config/detectors.py``) and registers
a factory (``registry.register``); this package imports every module it holds on import, so
a new module here is found without editing a table. Plugin modules import ONNX Runtime,
gRPC and the recording readers inside their factories only.
"""

from __future__ import annotations

import importlib
import pkgutil

from saferoad.adapters.detectors.onnx import build_model_detector
from saferoad.adapters.detectors.registry import (
    BACKENDS,
    DETECTORS,
    DetectorFactory,
    build_detector,
    register,
    unregister,
)
from saferoad.adapters.detectors.replay import replay_detector

for _mod in pkgutil.iter_modules(__path__):  # every plugin module registers itself on import
    importlib.import_module(f"{__name__}.{_mod.name}")

__all__ = [
    "BACKENDS", "DETECTORS", "DetectorFactory", "build_detector", "build_model_detector", "register", "replay_detector",
    "unregister",
]

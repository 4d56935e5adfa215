"""Build the configured :class:`~saferoad.ports.detector.Detector`: detector plugins keyed by
``perception.detector``'s ``type`` (Frigate's pattern: one module per detector).

Each module of this package is one detector: ``onnx`` (the model card on local ONNX
Runtime), ``grpc`` (the same card, tensors on a KServe v2 server), ``replay`` (a labels
file). A module holds its config model (``CONFIG``: a ``config.detectors.DetectorConfig``
whose ``type`` is a ``Literal`` of its name, plus its own keys; only ``onnx``'s, the default,
lives in ``config/detectors.py``) and its factory, and ends with ``register(CONFIG, build)``;
this package imports every module it holds on import, so a new module here is found without
editing a table, a union or an entry point. Plugin modules import ONNX Runtime, gRPC and the
recording readers inside their factories only (every command loads the config).

The config cannot import this package (lint-imports: the application imports the config and
never the adapters, directly or through the config), so whatever loads a config imports it
first: ``entrypoints/wiring`` (and so the services, ``saferoad up``, the public API and the
evaluation workers, which unpickle its ports), the CLI's ``load_cli_config`` and ``config
docs``, ``saferoad.load_config``, and ``tests/conftest.py``. A config pickled to a worker
names its model's module, whose import registers the whole package.
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

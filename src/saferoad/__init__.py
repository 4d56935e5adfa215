"""saferoad: an AI drive recorder for fleets.

The public Python API is what this module exports (``saferoad.__all__``), documented in
``docs/api.md``; everything else is private and may change between versions. Names load on
first use, so ``import saferoad`` stays cheap (the CLI's start-up depends on it).

    import saferoad
    result = saferoad.analyze("drive/", out_dir="out/")
    for event in result.events:
        print(event.type, event.start_s, saferoad.event_spec(event.type).title)

The package is laid out as ports and adapters (docs/architecture.md):

- ``saferoad.domain``: pure, typed, deterministic logic (no I/O, no frameworks);
- ``saferoad.ports``: the small protocols the application needs from the world;
- ``saferoad.adapters``: implementations of the ports (files, ONNX Runtime, gRPC, SQL, Ray);
- ``saferoad.application``: use cases that wire domain and ports together (analyze, evaluate, ...);
- ``saferoad.entrypoints``: the CLI and the services, kept thin.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from saferoad._version import __version__

# public name -> (module, attribute): loaded on first access (PEP 562)
_EXPORTS: dict[str, tuple[str, str]] = {
    "analyze": ("saferoad._api", "analyze"),
    "open_recording": ("saferoad._api", "open_recording"),
    "Pipeline": ("saferoad._stream", "Pipeline"),
    "PerceptionFailed": ("saferoad._stream", "PerceptionFailed"),
    "load_config": ("saferoad.config", "load_config"),
    "SaferoadConfig": ("saferoad.config", "SaferoadConfig"),
    "ConfigError": ("saferoad.config", "ConfigError"),
    "AnalysisResult": ("saferoad.application.analyze", "AnalysisResult"),
    "Recording": ("saferoad.domain.recording", "Recording"),
    "Event": ("saferoad.domain.types", "Event"),
    "EventType": ("saferoad.domain.types", "EventType"),
    "Direction": ("saferoad.domain.types", "Direction"),
    "Severity": ("saferoad.domain.types", "Severity"),
    "EventSpec": ("saferoad.domain.event_specs", "EventSpec"),
    "event_spec": ("saferoad.domain.event_specs", "spec"),
}

__all__ = [
    "AnalysisResult",
    "ConfigError",
    "Direction",
    "Event",
    "EventSpec",
    "EventType",
    "PerceptionFailed",
    "Pipeline",
    "Recording",
    "SaferoadConfig",
    "Severity",
    "__version__",
    "analyze",
    "event_spec",
    "load_config",
    "open_recording",
]

if TYPE_CHECKING:
    from saferoad._api import analyze, open_recording
    from saferoad._stream import PerceptionFailed, Pipeline
    from saferoad.application.analyze import AnalysisResult
    from saferoad.config import ConfigError, SaferoadConfig, load_config
    from saferoad.domain.event_specs import EventSpec
    from saferoad.domain.event_specs import spec as event_spec
    from saferoad.domain.recording import Recording
    from saferoad.domain.types import Direction, Event, EventType, Severity


def __getattr__(name: str) -> Any:
    try:
        module, attr = _EXPORTS[name]
    except KeyError:
        raise AttributeError(f"module 'saferoad' has no attribute {name!r}") from None
    if module == "saferoad.config":
        # the in-tree detector plugins register their config models on import: a config
        # naming `replay` or `grpc` loads (saferoad/adapters/detectors/__init__.py)
        import_module("saferoad.adapters.detectors")
    value = getattr(import_module(module), attr)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted(__all__)

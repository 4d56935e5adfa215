"""Event sinks ``saferoad analyze --sink NAME[:ARG]`` hands the final events to, beside
``events.jsonl`` (one module per sink; the registry: ``registry.py``).

Each module of this package is one sink (``jsonl``: the events as JSON lines, to a file or
standard output) and ends with ``register(name, build, help=...)``; this package imports every
module it holds on import, so a new sink is one module dropped here, found without editing a
table or an entry point. The composition root (``entrypoints/wiring.event_sinks``) builds the
sinks the options name.
"""

from __future__ import annotations

import importlib
import pkgutil

from saferoad.adapters.sinks.registry import (
    STDOUT_ARG,
    SinkFactory,
    SinkPlugin,
    build_sink,
    register,
    registered,
    sinks,
    split_spec,
    unregister,
)

for _mod in pkgutil.iter_modules(__path__):  # every sink module registers itself on import
    importlib.import_module(f"{__name__}.{_mod.name}")

__all__ = [
    "STDOUT_ARG", "SinkFactory", "SinkPlugin", "build_sink", "register", "registered", "sinks", "split_spec",
    "unregister",
]

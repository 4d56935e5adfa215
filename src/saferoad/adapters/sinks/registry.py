"""The event-sink registry: one entry per sink ``saferoad analyze --sink NAME[:ARG]`` can build.

Each module of this package is one sink: it holds an
:class:`~saferoad.ports.events.EventSink` (``emit(event)``, ``close()``) and ends with one
:func:`register` call (its name, a factory taking the option's ``ARG``, a help line); the
package imports every module it holds on import (``__init__.py``), so a new sink is one module
dropped in the package. A sink kept outside the package calls :func:`register` from its own
module. A factory raises ``ValueError`` for a bad ``ARG``; :func:`build_sink` adds the option
and the registered sinks to the message.

Convention: an ``ARG`` of ``-`` means standard output (``jsonl:-``); ``analyze`` then prints
its own table on standard error, so the stream can be piped.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from saferoad.domain.plugin_registry import Registry
from saferoad.ports.events import EventSink

SinkFactory = Callable[["str | None"], EventSink]
"""Builds a sink from the text after ``NAME:`` (``None`` when the option has no ``:``)."""

STDOUT_ARG = "-"


@dataclass(frozen=True, slots=True)
class SinkPlugin:
    """One registered sink: ``name`` is what ``--sink`` names, ``help`` says what it does and
    what its ``ARG`` is."""

    name: str
    build: SinkFactory
    help: str


_SINKS: Registry[SinkPlugin] = Registry("sink", origin=lambda s: s.build.__module__)


def register(name: str, build: SinkFactory, *, help: str) -> SinkPlugin:
    """Register a sink; a name another module already registered is refused (two modules
    claiming one ``--sink`` name); the same module registering again (re-imported) replaces
    its entry."""
    if not name or ":" in name or not help:
        raise ValueError(f"sink {name!r}: the name must be non-empty without ':', and help must not be empty")
    return _SINKS.register(name, SinkPlugin(name, build, help))


def unregister(name: str) -> None:
    """Drop a registered sink (a test's sink when it ends)."""
    _SINKS.unregister(name)


def sinks() -> tuple[SinkPlugin, ...]:
    """Every registered sink, by name."""
    return _SINKS.ordered()


def registered() -> str:
    """What an error lists: ``jsonl (one JSON line ...); toy (...)``."""
    return "; ".join(f"{s.name} ({s.help})" for s in sinks()) or "none"


def split_spec(spec: str) -> tuple[str, str | None]:
    """``NAME[:ARG]`` as ``(NAME, ARG or None)``; the ARG may itself hold ``:``."""
    name, sep, arg = spec.partition(":")
    return name.strip(), (arg if sep else None)


def build_sink(spec: str, option: str = "--sink") -> EventSink:
    """The sink ``spec`` (``NAME[:ARG]``) names, built by its factory; an unknown name or a
    factory's ``ValueError`` is a ``ValueError`` naming ``option`` and the registered sinks."""
    name, arg = split_spec(spec)
    plugin = _SINKS.lookup(name, f"{option} {spec!r}", lambda: f"registered sinks: {registered()}")
    try:
        return plugin.build(arg)
    except ValueError as err:
        raise ValueError(f"{option} {spec!r}: {err} (registered sinks: {registered()})") from None

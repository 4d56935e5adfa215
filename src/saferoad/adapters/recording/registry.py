"""The recording-format registry: one entry per folder layout a reader module can read.

Each reader module of this package ends with one :func:`register` call (its name, its
``can_read`` check, its reader, the files it expects); the package imports every module it
holds on import (``__init__.py``), so a new layout is one module dropped in the package.
Modules that register nothing (``_csv``, ``gps``, ``labels``, ``series``, this one)
are helpers. A reader kept outside the package calls :func:`register` from its own module
(``tests/test_recording_formats.py``).

Order: layouts are tried by ``priority`` (lower first), then by name, never by import order:
saferoad's own format (priority 0) first, then driverBehaviorDataset (10), comma2k19 (20), then
any other at the default (100). The first layout whose ``can_read`` says yes reads the folder.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from saferoad.domain.plugin_registry import Registry
from saferoad.domain.recording import Recording

DEFAULT_PRIORITY = 100


@dataclass(frozen=True, slots=True)
class RecordingFormat:
    """One folder layout: ``name`` is the recording's ``source_format``; ``expects`` says what
    marks the layout (the "not a recording folder" message lists it, followed by ``label``, the
    name people know the layout by, in parentheses)."""

    name: str
    can_read: Callable[[Path], bool]
    read: Callable[[Path], Recording]
    expects: str
    label: str
    priority: int = DEFAULT_PRIORITY


_FORMATS: Registry[RecordingFormat] = Registry(
    "recording format", origin=lambda f: f.read.__module__, order=lambda f: (f.priority, f.name)
)


def register(
    name: str,
    can_read: Callable[[Path], bool],
    read: Callable[[Path], Recording],
    *,
    expects: str,
    label: str | None = None,
    priority: int = DEFAULT_PRIORITY,
) -> RecordingFormat:
    """Register a layout; a name another module already registered is refused (two modules
    claiming one ``source_format``); the same module registering again (re-imported) replaces
    its entry."""
    if not name or not expects:
        raise ValueError(f"recording format {name!r}: name and expects must not be empty")
    return _FORMATS.register(name, RecordingFormat(name, can_read, read, expects, label or name, priority))


def unregister(name: str) -> None:
    """Drop a registered layout (a test's reader when it ends)."""
    _FORMATS.unregister(name)


def formats() -> tuple[RecordingFormat, ...]:
    """Every registered layout in the order they are tried: ``priority``, then name."""
    return _FORMATS.ordered()


def expected_layouts() -> str:
    """What the "not a recording folder" message lists: ``a (A), b (B) or c (C)``."""
    items = [f"{f.expects} ({f.label})" for f in formats()]
    if len(items) < 2:
        return "".join(items)
    return ", ".join(items[:-1]) + " or " + items[-1]


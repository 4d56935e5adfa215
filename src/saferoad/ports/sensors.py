"""Sensor source port: turns a drive on disk into a :class:`Recording`."""

from __future__ import annotations

from pathlib import Path
from typing import Protocol, runtime_checkable

from saferoad.domain.recording import Recording


@runtime_checkable
class RecordingReader(Protocol):
    """Reads one recording layout (saferoad's own, driverBehaviorDataset, comma2k19 ...)."""

    format_name: str

    def can_read(self, path: Path) -> bool: ...

    def read(self, path: Path) -> Recording: ...

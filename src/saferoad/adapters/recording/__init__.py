"""Recording readers (and saferoad's writer), one module per layout.

:func:`open_recording` detects the layout of a folder: saferoad's own (``meta.toml``), a
driverBehaviorDataset trip (``acelerometro_terra.csv`` + ``viagem.json``), a comma2k19
segment (``processed_log/``), or any other layout a module of this package registers.

Each reader module ends with one ``registry.register(...)`` call (its name, ``can_read``, its
reader, the files it ``expects``, its ``priority``); this package imports every module it holds
on import, so a new layout is one module dropped here, without editing a table or this file.
Modules that register nothing (``_csv``, ``gps``, ``labels``, ``series``) are helpers.
Layouts are tried by priority, then name (``registry.formats``): saferoad's own first.
"""

from __future__ import annotations

import importlib
import pkgutil
from pathlib import Path

from saferoad.adapters.input_warnings import RecordingWarning
from saferoad.adapters.recording._csv import file_size_limit
from saferoad.adapters.recording.labels import read_labels
from saferoad.adapters.recording.registry import expected_layouts, formats, register, unregister
from saferoad.adapters.recording.saferoad_format import write_recording
from saferoad.domain.recording import Recording

for _mod in pkgutil.iter_modules(__path__):  # every reader module registers its layout on import
    importlib.import_module(f"{__name__}.{_mod.name}")


class SaferoadFolderReader:
    """:class:`saferoad.ports.RecordingReader` for every registered layout."""

    format_name = "auto"

    def can_read(self, path: Path) -> bool:
        return any(fmt.can_read(path) for fmt in formats())

    def read(self, path: Path) -> Recording:
        return open_recording(path)


def detect_format(path: Path) -> str | None:
    """The name of the first registered layout that can read ``path`` (None: none can)."""
    for fmt in formats():
        if fmt.can_read(path):
            return fmt.name
    return None


def open_recording(path: Path, *, max_file_mb: int | None = None) -> Recording:
    """Read the recording at ``path``, whatever its layout; with ``max_file_mb``
    (``input.max_file_mb``), any input file bigger than that is refused before it is read."""
    if max_file_mb is not None:
        with file_size_limit(max_file_mb << 20):
            return open_recording(path)
    path = Path(path)
    if not path.exists():
        raise FileNotFoundError(f"{path}: no such recording")
    if not path.is_dir():
        raise ValueError(f"{path}: a recording is a folder (see docs/recording-format.md)")
    for fmt in formats():
        if fmt.can_read(path):
            return fmt.read(path)
    raise ValueError(f"{path}: not a recording folder: expected {expected_layouts()}")


__all__ = [
    "RecordingWarning",
    "SaferoadFolderReader",
    "detect_format",
    "formats",
    "open_recording",
    "read_labels",
    "register",
    "unregister",
    "write_recording",
]

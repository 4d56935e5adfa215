"""Recording readers (and saferoad's writer), one module per layout.

:func:`open_recording` detects the layout of a folder: saferoad's own (``meta.toml``), a
driverBehaviorDataset trip (``acelerometro_terra.csv`` + ``viagem.json``) or a comma2k19
segment (``processed_log/``).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from saferoad.adapters.recording import comma2k19, driver_behavior, saferoad_format
from saferoad.adapters.recording._csv import RecordingWarning, file_size_limit
from saferoad.adapters.recording.labels import read_labels
from saferoad.adapters.recording.saferoad_format import write_recording
from saferoad.domain.recording import Recording

_READERS: tuple[tuple[str, Callable[[Path], bool], Callable[[Path], Recording]], ...] = (
    (saferoad_format.FORMAT_NAME, saferoad_format.can_read, saferoad_format.read_saferoad),
    (driver_behavior.FORMAT_NAME, driver_behavior.can_read, driver_behavior.read_driver_behavior),
    (comma2k19.FORMAT_NAME, comma2k19.can_read, comma2k19.read_comma2k19),
)


class SaferoadFolderReader:
    """:class:`saferoad.ports.RecordingReader` for every layout above."""

    format_name = "auto"

    def can_read(self, path: Path) -> bool:
        return any(check(path) for _, check, _ in _READERS)

    def read(self, path: Path) -> Recording:
        return open_recording(path)


def detect_format(path: Path) -> str | None:
    for name, check, _ in _READERS:
        if check(path):
            return name
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
    for _, check, read in _READERS:
        if check(path):
            return read(path)
    raise ValueError(
        f"{path}: not a recording folder: expected meta.toml (saferoad), "
        "acelerometro_terra.csv + viagem.json (driverBehaviorDataset) or processed_log/ (comma2k19)"
    )


__all__ = [
    "RecordingWarning",
    "SaferoadFolderReader",
    "detect_format",
    "open_recording",
    "read_labels",
    "write_recording",
]

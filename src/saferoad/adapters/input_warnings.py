"""The warning a reader gives for a documented repair of bad input: a module outside the
recording package, so that a command which only filters these warnings (the CLI's
``log_for_terminal``) does not import the readers (gpxpy, pynmea2)."""

from __future__ import annotations

import warnings

from saferoad.observability import get_logger


class RecordingWarning(UserWarning):
    """A documented repair of bad input (sorted timestamps, dropped duplicates, gaps)."""


def warn(message: str) -> None:
    get_logger("recording").warning("input_repaired", message=message)
    warnings.warn(message, RecordingWarning, stacklevel=3)

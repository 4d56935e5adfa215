"""The functions behind ``saferoad``'s public API (docs/api.md): thin wiring over the
application's use cases, taking plain paths so a notebook or the device team's code needs
nothing else."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from saferoad.application.analyze import AnalysisResult
from saferoad.config import SaferoadConfig, _deep_merge, load_config
from saferoad.domain.recording import Recording
from saferoad.entrypoints import wiring
from saferoad.observability import quiet_unless_configured
from saferoad.ports.detector import Detector


def open_recording(path: str | os.PathLike[str]) -> Recording:
    """Read the recording folder at ``path``, whatever its layout (saferoad's own,
    driverBehaviorDataset, comma2k19): see docs/recording-format.md."""
    quiet_unless_configured()
    return wiring.open_recording(Path(path))


def analyze(
    recording: str | os.PathLike[str] | Recording,
    *,
    config: SaferoadConfig | str | os.PathLike[str] | None = None,
    overrides: dict[str, Any] | None = None,
    out_dir: str | os.PathLike[str] | None = None,
    detector: Detector | None = None,
) -> AnalysisResult:
    """Analyse a recording (a folder or an opened ``Recording``) as ``saferoad analyze`` does.

    ``config`` is a loaded config or the path of a TOML file (defaults when ``None``);
    ``overrides`` a nested dict applied on top (``{"road_events": {"speed_limit_kmh": 50}}``);
    ``out_dir`` where the outputs are written (none when ``None``); ``detector`` replaces the
    one the config names. Returns the events, the summary and the stage trace.
    """
    quiet_unless_configured()
    rec = recording if isinstance(recording, Recording) else open_recording(recording)
    cfg = resolve_config(config, overrides)
    return wiring.analyze_recording(rec, cfg, None if out_dir is None else Path(out_dir), detector=detector)


def resolve_config(
    config: SaferoadConfig | str | os.PathLike[str] | None, overrides: dict[str, Any] | None
) -> SaferoadConfig:
    """The config the public API's ``config``/``overrides`` arguments name (analyze, Pipeline):
    a loaded one, a TOML path or the defaults, the overrides validated on top."""
    if isinstance(config, SaferoadConfig):
        return config if not overrides else load_config(None, _deep_merge(config.model_dump(mode="json"), overrides))
    return load_config(None if config is None else Path(config), overrides)

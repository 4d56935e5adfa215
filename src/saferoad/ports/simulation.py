"""Simulation port: a simulated scenario written as a recording folder
(``adapters/simulation/writer.write_simulation``, saferoad's own layout)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np

from saferoad.domain.recording import RecordingMeta
from saferoad.domain.simulation.camera import ObjectView
from saferoad.domain.simulation.model import Scenario
from saferoad.domain.types import EventLabel


@dataclass(frozen=True, slots=True)
class WrittenRecording:
    """What a :class:`RecordingWriter` wrote: the folder, its labels, its video's frame count
    and the files' names."""

    path: Path
    labels: list[EventLabel]
    n_frames: int
    files: list[str]


class RecordingWriter(Protocol):
    """Writes scenario ``sc`` with its ground truth ``labels`` into ``folder``; the sensor noise
    comes from the scenario's seed. ``video=False`` writes no video; ``detections=False`` no
    ``detections.json``; ``camera`` is the camera's view when the caller computed it already."""

    def __call__(
        self,
        sc: Scenario,
        folder: Path,
        labels: Sequence[EventLabel],
        base_meta: RecordingMeta,
        *,
        video: bool = True,
        camera: tuple[np.ndarray, list[ObjectView]] | None = None,
        detections: bool = True,
    ) -> WrittenRecording: ...

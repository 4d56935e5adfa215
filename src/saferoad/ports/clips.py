"""Event clip port: a short annotated video and a snapshot around each event."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from saferoad.domain.types import TrackedObject


@dataclass(frozen=True, slots=True)
class ClipRequest:
    """One clip to cut: a name (file stem), the window and the key moment (recording clock),
    a caption, and track ids to highlight."""

    name: str
    start_s: float
    end_s: float
    key_s: float
    caption: str
    highlight: frozenset[int] = frozenset()
    snapshot_s: float | None = None
    """Time of the snapshot (default: the key moment); a sign's or light's last sighting
    shows it, its pass does not."""


@dataclass(frozen=True, slots=True)
class ClipResult:
    clip: Path | None
    snapshot: Path | None
    frames: int
    window_s: tuple[float, float]


class ClipCutter(Protocol):
    """Cuts ``requests`` from ``video`` (a file, or an input URL FFmpeg opens such as the live
    loop's ``concat:a.ts|b.ts``) into ``out_dir/clips`` and ``out_dir/snapshots``; one result per
    request, in order (``adapters/video/clips.cut_clips``)."""

    def __call__(
        self,
        video: Path | str,
        requests: Sequence[ClipRequest],
        tracks: Mapping[float, Sequence[TrackedObject]],
        out_dir: Path,
        *,
        time_offset_s: float = 0.0,
        max_width: int = 1280,
    ) -> list[ClipResult]: ...

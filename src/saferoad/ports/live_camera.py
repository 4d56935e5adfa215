"""Live camera port: frames as they come from a camera, with drops counted by the source."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from saferoad.domain.types import Frame


class CameraStats(Protocol):
    frames: int
    """Frames read from the decoder."""
    dropped: int
    """Frames the consumer never took (the ring was full)."""
    restarts: int
    gaps: list[tuple[float, float]]
    last_error: str | None
    log_bytes: int
    """Bytes the decoder wrote to its log (read as they come: a full pipe would block it)."""

    @property
    def log_tail(self) -> Sequence[str]:
        """The decoder's last log lines."""
        ...


@runtime_checkable
class LiveFrameSource(Protocol):
    """A live camera: ``read`` gives the oldest frame waiting (None after ``timeout_s``);
    ``Frame.t_s`` counts from ``started_at`` (monotonic). Frames the consumer is too slow for
    are dropped by the source and counted in ``stats``."""

    @property
    def stats(self) -> CameraStats: ...

    @property
    def started_at(self) -> float: ...

    @property
    def backlog(self) -> int: ...

    @property
    def last_frame_at(self) -> float | None: ...

    @property
    def pid(self) -> int | None:
        """The decoder's process (its CPU and memory count in the recorder's budget)."""
        ...

    def read(self, timeout_s: float = 1.0) -> Frame | None: ...

    def close(self) -> None: ...


class VideoLoop(Protocol):
    """The road camera's own video loop: its finished segments on disk, named by absolute time
    (``adapters/video/loop_video.VideoLoopFolder``). Live clips are cut from it."""

    def covered_until(self) -> float | None:
        """Wall time (epoch s) where the newest finished segment ends (None: none yet)."""
        ...

    def video_for(self, start: float, end: float, key: float) -> tuple[str, float] | None:
        """One input FFmpeg opens holding the finished video that overlaps ``start`` .. ``end``
        (epoch s) - a segment's path, or an FFmpeg ``concat:`` URL over the segments, read in
        place (nothing is copied, nothing to remove) - and the wall time of its first frame (as
        the recorder's clock stood at ``key``, the clip's key moment); None: no video."""
        ...

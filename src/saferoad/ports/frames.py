"""Frame source port: anything that yields decoded frames with timestamps."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Protocol, runtime_checkable

from saferoad.domain.types import Frame


@runtime_checkable
class FrameSource(Protocol):
    """Yields frames in presentation order; ``t_s`` is seconds from the source's start."""

    fps: float
    width: int
    height: int

    def __iter__(self) -> Iterator[Frame]: ...

    def close(self) -> None: ...


@runtime_checkable
class VideoCheckResult(Protocol):
    """What a check of a recording's video found: ``path`` the video to analyse (the
    original, a recovered copy, or None when nothing is readable), ``damage`` what was wrong
    (None when the file is whole)."""

    @property
    def path(self) -> Path | None: ...

    @property
    def damage(self) -> str | None: ...

    def summary(self, name: str) -> dict[str, object]: ...


class VideoChecker(Protocol):
    """Checks a video before decoding and recovers what a cut-short file still holds into
    ``work_dir``, warning (``RecordingWarning``) about what it repaired
    (``adapters/video/check.check_video``). ``fps``: the camera's declared frame rate;
    ``reference``: an intact video from the same camera (to rebuild a lost index), named in the
    result as given; a relative one is opened in ``reference_dir`` (the recording's folder)."""

    def __call__(
        self, video: Path, work_dir: Path, *, fps: float | None, reference: Path | None, reference_dir: Path
    ) -> VideoCheckResult: ...

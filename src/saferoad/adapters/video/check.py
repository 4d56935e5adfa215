"""The road stage's video check: :func:`~saferoad.adapters.video.repair.recover_video`, and a
``RecordingWarning`` for whatever it had to repair (the
:class:`~saferoad.ports.frames.VideoChecker` the composition root hands to ``analyze``)."""

from __future__ import annotations

from pathlib import Path

from saferoad.adapters.input_warnings import warn
from saferoad.adapters.video.repair import VideoCheck, recover_video


def check_video(video: Path, work_dir: Path, *, fps: float | None, reference: Path | None,
                reference_dir: Path) -> VideoCheck:
    """Check ``video`` (recovering into ``work_dir`` what a cut-short file holds); each repair
    is warned about, naming the file. A relative ``reference`` is opened in ``reference_dir``."""
    check = recover_video(video, work_dir, fps=fps, reference=reference, reference_dir=reference_dir)
    if check.damage is not None:
        warn(check.damage + ("" if check.path is not None else ": the video is left out"))
        for note in check.notes:
            warn(f"{video}: {note}")
    return check

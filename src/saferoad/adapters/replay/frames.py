"""Frames listed by a labels file (``detections.json``): a recording without video replays
its boxes through perception frame by frame, images left blank."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import numpy as np

from saferoad.adapters.replay.detector import load_labels
from saferoad.domain.types import Frame


class DetectionFrames:
    """Frames listed by a ``detections.json`` (index and time, read by the replay parser),
    images left blank: the replay detector needs only the index, perception only the size."""

    stride = 1

    def __init__(self, path: Path) -> None:
        labels = load_labels(path)
        if labels.width is None or labels.height is None:
            raise ValueError(f"{path}: fields 'width' and 'height' are needed without a video")
        if labels.t_s is None:
            raise ValueError(f"{path}: every frame needs its 't_s' without a video")
        self.width, self.height, self.fps = labels.width, labels.height, labels.fps or 0.0
        self._items = sorted(labels.t_s.items(), key=lambda x: x[1])
        self._blank = np.broadcast_to(np.zeros((1, 1, 3), dtype=np.uint8), (self.height, self.width, 3))

    def __iter__(self) -> Iterator[Frame]:
        for idx, t in self._items:
            yield Frame(idx, t, self._blank)

    def close(self) -> None:
        return None

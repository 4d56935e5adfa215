"""Annotated video: boxes, track ids, distances and the lead vehicle drawn on the frames,
encoded to H.264 MP4 by PyAV (libx264, yuv420p, so any player opens it)."""

from __future__ import annotations

from fractions import Fraction
from pathlib import Path
from typing import Any

import av
import cv2
import numpy as np

from saferoad.domain.types import Frame, RoadClass, TrackedObject

COLOURS: dict[RoadClass, tuple[int, int, int]] = {
    RoadClass.VEHICLE: (255, 160, 0),
    RoadClass.PERSON: (0, 200, 255),
    RoadClass.BICYCLE: (0, 255, 160),
    RoadClass.TRAFFIC_LIGHT: (200, 0, 255),
    RoadClass.STOP_SIGN: (0, 0, 255),
}
LEAD = (0, 0, 255)


def draw_objects(image: np.ndarray[Any, np.dtype[np.uint8]], objects: list[TrackedObject]) -> np.ndarray[Any, np.dtype[np.uint8]]:
    """A copy of ``image`` with the objects drawn."""
    out = image.copy()
    for o in objects:
        x1, y1, x2, y2 = (round(v) for v in o.xyxy)
        colour = LEAD if o.is_lead else COLOURS.get(o.cls, (255, 255, 255))
        cv2.rectangle(out, (x1, y1), (x2, y2), colour, 3 if o.is_lead else 2)
        text = f"#{o.track_id} {o.cls.value}"
        if o.distance_m is not None:
            text += f" {o.distance_m:.1f}m"
        ttc = o.attributes.get("ttc_s")
        if o.is_lead and isinstance(ttc, float) and ttc < 10:
            text += f" TTC {ttc:.1f}s"
        lamp = o.attributes.get("lamp")
        if lamp:
            text += f" {lamp}"
        (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, 0.5, 1)
        ty = max(th + 4, y1)
        cv2.rectangle(out, (x1, ty - th - 4), (x1 + tw + 4, ty), colour, -1)
        cv2.putText(out, text, (x1 + 2, ty - 3), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (0, 0, 0), 1, cv2.LINE_AA)
    return out


class AnnotatedVideoWriter:
    """Writes annotated frames to an MP4 (H.264). Frame size is fixed by the first frame;
    odd sizes are padded to even (yuv420p needs it)."""

    def __init__(self, path: Path, fps: float) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        self.fps = fps if fps and fps > 0 else 10.0
        self._container: Any = av.open(str(path), mode="w")
        self._stream: Any = None
        self.frames_written = 0

    def write(self, frame: Frame, objects: list[TrackedObject]) -> None:
        img = draw_objects(frame.image, objects)
        h, w = img.shape[:2]
        if self._stream is None:
            rate = Fraction(self.fps).limit_denominator(1001)
            self._stream = self._container.add_stream("libx264", rate=rate)
            self._stream.width = w + (w % 2)
            self._stream.height = h + (h % 2)
            self._stream.pix_fmt = "yuv420p"
            # two encoder threads: rendering must not starve decoding and inference
            self._stream.options = {"preset": "veryfast", "crf": "23", "threads": "2"}
        sw, sh = self._stream.width, self._stream.height
        if (w, h) != (sw, sh):
            canvas = np.zeros((sh, sw, 3), dtype=np.uint8)
            canvas[: min(h, sh), : min(w, sw)] = img[:sh, :sw]
            img = canvas
        vf = av.VideoFrame.from_ndarray(img, format="bgr24")
        for packet in self._stream.encode(vf):
            self._container.mux(packet)
        self.frames_written += 1

    def close(self) -> None:
        if self._stream is not None:
            for packet in self._stream.encode():
                self._container.mux(packet)
        self._container.close()

    def __enter__(self) -> AnnotatedVideoWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

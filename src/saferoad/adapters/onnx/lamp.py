"""Traffic-light lamp colour read from the box (HSV thresholds on the lit pixels).

A lit lamp is a small, bright, saturated blob; its hue says red (0-10° / 160-180° in
OpenCV's 0-180 hue scale), yellow/amber (11-34) or green (35-100, LEDs often look cyan).
The answer is ``"red"``, ``"yellow"``, ``"green"`` or ``"unknown"`` (too few lit pixels,
for example a light seen from the side or at night glare).
"""

from __future__ import annotations

from typing import Any

import cv2
import numpy as np
from numpy.typing import NDArray

MIN_LIT_FRACTION = 0.02


def lamp_colour(image: NDArray[np.uint8], xyxy: NDArray[Any]) -> str:
    h, w = image.shape[:2]
    x1, y1, x2, y2 = (round(float(v)) for v in xyxy)
    x1, y1 = max(0, x1), max(0, y1)
    x2, y2 = min(w, x2), min(h, y2)
    if x2 - x1 < 2 or y2 - y1 < 3:
        return "unknown"
    hsv = cv2.cvtColor(image[y1:y2, x1:x2], cv2.COLOR_BGR2HSV)
    hue, sat, val = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    lit = (val >= 150) & (sat >= 90)
    n_lit = int(lit.sum())
    if n_lit < max(3, MIN_LIT_FRACTION * lit.size):
        return "unknown"
    hl = hue[lit]
    red = int(np.count_nonzero((hl <= 10) | (hl >= 160)))
    yellow = int(np.count_nonzero((hl > 10) & (hl < 35)))
    green = int(np.count_nonzero((hl >= 35) & (hl <= 100)))
    best = max((red, "red"), (yellow, "yellow"), (green, "green"))
    return best[1] if best[0] >= 0.5 * n_lit else "unknown"

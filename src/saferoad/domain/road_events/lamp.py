"""Which lamp of a traffic light is lit, read from the pixels of its box.

A lit lamp is a blob of bright, saturated pixels; its hue says the colour. The crop (BGR,
uint8, as frames are) is converted to HSV in NumPy (OpenCV's convention: hue 0-179,
saturation and value 0-255) and the pixels that are bright (V >= ``min_value``) and saturated
(S >= ``min_saturation``) are counted in three hue bands:

* red: hue <= 10 or hue >= 160
* yellow (amber): 11-34
* green (including the blue-green of LED signals): 35-100

The colour with the most pixels wins when they are at least ``min_fraction`` of the crop;
otherwise the lamp is ``unknown`` (unlit housing, a light seen from the side, night glare).
"""

from __future__ import annotations

import numpy as np

from saferoad.domain.types import ImageArray

LAMPS = ("red", "yellow", "green")


def bgr_to_hsv(image: ImageArray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """HSV planes of a BGR uint8 image in OpenCV's scale (H 0-179, S and V 0-255)."""
    img = np.asarray(image, dtype=np.float64)
    if img.ndim != 3 or img.shape[2] != 3:
        raise ValueError(f"expected an H x W x 3 image, got shape {img.shape}")
    b, g, r = img[..., 0], img[..., 1], img[..., 2]
    v = np.maximum(np.maximum(r, g), b)
    mn = np.minimum(np.minimum(r, g), b)
    c = v - mn
    s = np.where(v > 0, c / np.where(v > 0, v, 1.0) * 255.0, 0.0)
    safe = np.where(c > 0, c, 1.0)
    h = np.zeros_like(v)
    rmax = (v == r) & (c > 0)
    gmax = (v == g) & (c > 0) & ~rmax
    bmax = (c > 0) & ~rmax & ~gmax
    h = np.where(rmax, ((g - b) / safe) % 6.0, h)
    h = np.where(gmax, (b - r) / safe + 2.0, h)
    h = np.where(bmax, (r - g) / safe + 4.0, h)
    h = np.mod(h * 30.0, 180.0)  # 60 degrees per sector, halved to OpenCV's 0-179 scale
    return h, s, v


def classify_lamp(
    crop: ImageArray,
    *,
    min_fraction: float = 0.03,
    min_value: float = 150.0,
    min_saturation: float = 90.0,
) -> str:
    """``red``, ``yellow``, ``green`` or ``unknown`` for a crop of a traffic light."""
    if crop.size == 0 or crop.shape[0] < 2 or crop.shape[1] < 2:
        return "unknown"
    h, s, v = bgr_to_hsv(crop)
    lit = (v >= min_value) & (s >= min_saturation)
    counts = (
        int(np.count_nonzero(lit & ((h <= 10) | (h >= 160)))),
        int(np.count_nonzero(lit & (h > 10) & (h < 35))),
        int(np.count_nonzero(lit & (h >= 35) & (h <= 100))),
    )
    best = int(np.argmax(counts))
    if counts[best] < min_fraction * h.size:
        return "unknown"
    return LAMPS[best]

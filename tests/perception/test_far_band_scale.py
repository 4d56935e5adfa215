"""Issue 22: the horizon band at a chosen scale (``ModelDetector(band_scale=)``,
``pack_band_at``), the measurement behind docs/perception.md's "band scale" table
(scripts/far_band_scale.py, benchmarks/bench_far_band_scale.py)."""

from __future__ import annotations

import itertools
from pathlib import Path

import numpy as np
import pytest

from saferoad.adapters.counting_backend import CountingBackend
from saferoad.adapters.onnx.detector import (
    BOX_EDGE_SIGMA_INPUT_PX,
    ModelDetector,
    pack_band,
    pack_band_at,
)
from saferoad.adapters.video.frames import open_frames
from saferoad.domain.tracking import iou_matrix


@pytest.mark.parametrize("scale", [0.5, 1.0, 1.5, 2.0])
def test_pack_band_at_covers_the_band_at_that_scale(scale: float) -> None:
    """Every column of the band lies in a strip, neighbours overlap by the overlap asked
    for, every strip is at the scale asked for and inside its model input, strips of one
    input do not touch (the gap), and a larger scale takes more strips."""
    width, rows, overlap = 1280, (260.0, 420.0), 100
    inputs = pack_band_at(width, 720, rows, 416, 416, scale, overlap_px=overlap, gap_px=16)
    strips = [w for ws in inputs for w in ws]
    assert strips[0].x0 == 0 and strips[-1].x1 == width
    assert all(b.x0 <= a.x1 - overlap for a, b in itertools.pairwise(strips))
    assert all(w.y0 == 260 and w.y1 == 420 for w in strips)
    assert all(w.scale == pytest.approx(scale) for w in strips)
    for ws in inputs:
        assert all(w.in_x + w.in_w <= 416 + 1e-6 and w.in_y + w.in_h <= 416 + 1e-6 for w in ws)
        assert all(b.in_y >= a.in_y + a.in_h + 16 - 1 for a, b in itertools.pairwise(ws))
    # one input holds as many strips as fit: 160 rows at 1.0 = 160 model rows, two a 416 input
    if scale == 1.0:
        assert [len(ws) for ws in inputs] == [2, 2]
    more = pack_band_at(width, 720, rows, 416, 416, scale * 1.5, overlap_px=overlap)
    assert sum(len(ws) for ws in more) > len(strips)


def test_pack_band_at_lowers_a_scale_the_band_cannot_fit_and_rejects_nonsense() -> None:
    # a 300-row band at 2.0 would be 600 model rows: lowered to 416 / 300
    inputs = pack_band_at(1280, 720, (200.0, 500.0), 416, 416, 2.0, overlap_px=100)
    assert inputs[0][0].scale == pytest.approx(416 / 300)
    assert all(len(ws) == 1 for ws in inputs)
    assert pack_band_at(1280, 720, (400.0, 400.5), 416, 416, 1.0, overlap_px=100) == []
    with pytest.raises(ValueError, match="scale"):
        pack_band_at(1280, 720, (260.0, 420.0), 416, 416, 0.0, overlap_px=100)
    with pytest.raises(ValueError, match="overlap"):  # a strip no wider than the overlap
        pack_band_at(1280, 720, (260.0, 420.0), 416, 416, 2.0, overlap_px=300)


def test_pack_band_at_the_packed_scale_needs_no_more_inputs_than_pack_band() -> None:
    packed = pack_band(1242, 375, (150.0, 230.0), 416, 416, overlap_px=96)
    at = pack_band_at(1242, 375, (150.0, 230.0), 416, 416, packed[0].scale, overlap_px=96)
    assert len(at) == 1 and len(at[0]) <= len(packed) + 1


def test_band_scale_runs_one_inference_per_input_and_states_its_edges(shared_dir: Path, yolox: ModelDetector) -> None:
    """KITTI 000001's car at 56.6 m: found by the band at 1.0 and 2.0 (its edge sigma 2 model
    px over that scale), with 1 + len(band_inputs) inferences; unset, the packed default."""
    (frame,) = list(open_frames(shared_dir / "data" / "kitti-object" / "image_2" / "000001.png"))
    default = ModelDetector(yolox.card, yolox.backend)
    assert default.band_inputs(frame) == [default.band_windows(frame)]
    calls = []
    for scale in (1.0, 2.0):
        counter = CountingBackend(yolox.backend)
        det = ModelDetector(yolox.card, counter, band_scale=scale)
        inputs = det.band_inputs(frame)
        assert all(w.scale == pytest.approx(scale) for ws in inputs for w in ws)
        d = det.detect(frame)
        assert counter.calls == 1 + len(inputs)
        calls.append(counter.calls)
        iou = iou_matrix(np.array([[387.63, 181.54, 423.81, 203.12]]), d.xyxy.astype(np.float64))[0]
        assert iou.max() >= 0.5 and d.attributes is not None
        assert d.attributes[int(iou.argmax())]["edge_sigma_px"] == pytest.approx((BOX_EDGE_SIGMA_INPUT_PX / scale,) * 2)
    assert calls[1] > calls[0] > 2  # more scale, more inferences than the packed default's 2
    with pytest.raises(ValueError, match="band_scale"):
        ModelDetector(yolox.card, yolox.backend, band_scale=0.0)

"""A clip cut short (the recorder killed while writing it, before the MP4's index): its H.264
parameter sets are repeated before every key frame (x264 repeat-headers), so the repair path
rebuilds its frames from the media data alone - without them nothing was recoverable."""

from __future__ import annotations

from pathlib import Path

import av
import numpy as np
import pytest

from saferoad.adapters.video.clips import cut_clips
from saferoad.adapters.video.repair import recover_video
from saferoad.ports.clips import ClipRequest


def _pictures(path: Path) -> list[np.ndarray]:
    with av.open(str(path)) as c:
        return [f.to_ndarray(format="bgr24") for f in c.decode(video=0)]


@pytest.mark.parametrize("keep", [0.3, 0.6, 0.9])
def test_a_clip_cut_short_is_rebuilt_from_its_media_data(shared_dir: Path, tmp_path: Path, keep: float) -> None:
    video = shared_dir / "data" / "video" / "highway_vehicles_720p.mp4"
    (res,) = cut_clips(video, [ClipRequest("c", 0.0, 1.4, 0.5, "harsh_braking")], {}, tmp_path, max_width=640)
    assert res.clip is not None and res.frames > 20
    whole = _pictures(res.clip)
    data = res.clip.read_bytes()
    damaged = tmp_path / "cut.mp4"
    damaged.write_bytes(data[: int(len(data) * keep)])
    check = recover_video(damaged, tmp_path)
    assert check.path is not None and check.method == "nal_scan" and check.parameter_sets == "in-band", check
    got = _pictures(check.path)
    assert 0 < len(got) < len(whole)
    # the very pictures of the intact clip, in order, up to the cut
    assert all(np.array_equal(a, b) for a, b in zip(got, whole, strict=False))

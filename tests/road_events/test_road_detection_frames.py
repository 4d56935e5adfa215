"""The frame list of a ``detections.json`` analysed without a video (read by the replay
parser): bad input names the file and the field (it used to crash with AttributeError on a
JSON array)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from saferoad.adapters.replay.frames import DetectionFrames as _DetectionFrames


@pytest.mark.parametrize(
    ("content", "match"),
    [
        ("{", r"1: not valid JSON"),
        ("[]", r'expected an object with a "frames" list'),
        ('"frames"', r'expected an object with a "frames" list'),
        ('{"width": "wide", "height": 48, "frames": []}', r"width must be an integer > 0, got 'wide'"),
        ('{"width": 64, "height": 0, "frames": []}', r"height must be an integer > 0, got 0"),
        ('{"width": 64, "height": 48, "fps": [1], "frames": []}', r"fps must be a finite number"),
        ('{"width": 64, "height": 48, "fps": -5, "frames": []}', r"fps must be > 0"),
        ('{"height": 48, "frames": []}', r"fields 'width' and 'height' are needed without a video"),
        ('{"width": 64, "height": 48, "frames": {}}', r'expected an object with a "frames" list'),
        ('{"width": 64, "height": 48, "frames": [{"frame": 0}]}', r"every frame needs its 't_s'"),
        ('{"width": 64, "height": 48, "frames": [{"frame": 0, "t_s": "x"}]}', r"frames\[0\]: t_s must be a finite number"),
        ('{"width": 64, "height": 48, "frames": [3]}', r"frames\[0\]: expected an object"),
    ],
)
def test_bad_detections_json_names_file_and_field(tmp_path: Path, content: str, match: str) -> None:
    p = tmp_path / "detections.json"
    p.write_text(content)
    with pytest.raises(ValueError, match=match) as err:
        _DetectionFrames(p)
    assert str(p) in str(err.value)


def test_frames_listed_in_time_order(tmp_path: Path) -> None:
    p = tmp_path / "detections.json"
    doc = {
        "width": 64,
        "height": 48,
        "fps": 10,
        "frames": [{"frame": 1, "t_s": 0.1}, {"frame": 0, "t_s": 0.0}],
    }
    p.write_text(json.dumps(doc))
    src = _DetectionFrames(p)
    assert (src.width, src.height, src.fps) == (64, 48, 10.0)
    assert [(f.index, f.t_s) for f in src] == [(0, 0.0), (1, 0.1)]
    assert next(iter(src)).image.shape == (48, 64, 3)

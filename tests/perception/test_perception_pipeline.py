"""The perception use case and ``saferoad detect`` end to end on the shared clips."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from saferoad.adapters.onnx.detector import ModelDetector
from saferoad.adapters.video.frames import open_frames
from saferoad.adapters.video.lanes import lane_horizon
from saferoad.application.perception import PerceptionStats, run_perception
from saferoad.config import load_config
from saferoad.entrypoints.cli.app import app

COLUMNS = ["frame", "t_s", "track_id", "cls", "score", "x1", "y1", "x2", "y2", "distance_m", "is_lead"]


def _rows(objs: list[Any]) -> list[tuple[Any, ...]]:
    return [
        (o.track_id, o.cls.value, round(o.score, 2), [round(v) for v in o.xyxy],
         None if o.distance_m is None else round(o.distance_m, 1), o.is_lead)
        for o in objs
    ]


# What another CPU's kernels may move: a score by 0.02, a box edge by 2 px, a distance by 2%.
BOX_TOLERANCE = {"score": 0.02, "box": 2.0}


def _snapshot_rows(objs: list[Any]) -> list[dict[str, Any]]:
    return [
        {"track_id": o.track_id, "cls": o.cls.value, "score": round(o.score, 4), "box": [round(v, 1) for v in o.xyxy],
         "distance_m": None if o.distance_m is None else round(o.distance_m, 3), "is_lead": o.is_lead}
        for o in objs
    ]


def test_detections_snapshot(yolox: ModelDetector, highway_clip: Path, shared_dir: Path, approx_snapshot: Any) -> None:
    frames = {"highway_f0": next(iter(open_frames(highway_clip)))}
    frames["comma_preview"] = next(iter(open_frames(shared_dir / "data" / "comma2k19-segment" / "preview.png")))
    out = {}
    for name, f in frames.items():
        d = yolox.detect(f)
        out[name] = [
            {"cls": c.value, "label": lab, "score": round(float(s), 4), "box": [round(float(v), 1) for v in b]}
            for c, lab, s, b in zip(d.classes, d.labels or (), d.scores, d.xyxy, strict=True)
        ]
    assert out == approx_snapshot(keys=BOX_TOLERANCE)


def test_tracks_snapshot(yolox: ModelDetector, highway_clip: Path, shared_dir: Path, approx_snapshot: Any) -> None:
    cfg = load_config()
    result = {}
    for name, path, stride in (
        ("highway_vehicles_720p", highway_clip, 1),
        ("highway_solid_white_right", shared_dir / "data" / "video" / "highway_solid_white_right.mp4", 10),
    ):
        stats = PerceptionStats()
        rows = {
            str(f.index): _snapshot_rows(objs)
            for f, objs in run_perception(open_frames(path, stride=stride), yolox, None, None, cfg, horizon=lane_horizon, stats=stats)
            if f.index % (5 * stride) == 0
        }
        result[name] = {"stats": stats.as_dict(), "frames": rows}
    assert result == approx_snapshot(rel=0.02, keys=BOX_TOLERANCE)


def test_parallel_inference_gives_the_same_tracks(yolox: ModelDetector, highway_clip: Path) -> None:
    cfg = load_config()
    one = [(f.index, _rows(o)) for f, o in run_perception(open_frames(highway_clip, stride=2), yolox, None, None, cfg, horizon=lane_horizon, workers=1)]
    two = [(f.index, _rows(o)) for f, o in run_perception(open_frames(highway_clip, stride=2), yolox, None, None, cfg, horizon=lane_horizon, workers=2)]
    assert one == two


runner = CliRunner()


def test_detect_cli_video_with_render(tmp_path: Path, highway_clip: Path) -> None:
    out = tmp_path / "out"
    res = runner.invoke(app, ["detect", str(highway_clip), "-o", str(out), "--render", "--stride", "2"])
    assert res.exit_code == 0, res.output
    table = pq.read_table(out / "tracks.parquet")
    assert table.column_names[: len(COLUMNS)] == COLUMNS
    df = table.to_pandas()
    assert sorted(df.frame.unique().tolist()) == list(range(0, 38, 2))
    assert np.allclose(df.t_s, df.frame * 0.04)
    assert df.distance_m.notna().any() and df.is_lead.dtype == bool
    frames = list(open_frames(out / "annotated.mp4"))
    assert len(frames) == 19 and frames[0].image.shape == (720, 1280, 3)


def test_detect_cli_images_find_stop_signs(tmp_path: Path, shared_dir: Path) -> None:
    stops = sorted((shared_dir / "data" / "frames" / "lisa-stop-signs").glob("stop_*.png"))
    out = tmp_path / "lisa"
    res = runner.invoke(app, ["detect", *map(str, stops), "-o", str(out), "--tiles", "3"])
    assert res.exit_code == 0, res.output
    df = pq.read_table(out / "tracks.parquet").to_pandas()
    # frame = order of the images; each image is its own scene (ids per detection)
    assert set(df.frame) <= set(range(5))
    assert df[df.cls == "stop_sign"].frame.nunique() >= 4


def test_detect_cli_corrupt_video_keeps_frames(tmp_path: Path, highway_clip: Path) -> None:
    data = bytearray(highway_clip.read_bytes())
    mid = len(data) // 2
    data[mid : mid + 20000] = bytes(20000)
    bad = tmp_path / "bad.mp4"
    bad.write_bytes(bytes(data))
    out = tmp_path / "out"
    res = runner.invoke(app, ["detect", str(bad), "-o", str(out)])
    assert res.exit_code == 2
    text = " ".join(res.output.split())
    assert "bad.mp4" in text and "before it are in" in text
    df = pq.read_table(out / "tracks.parquet").to_pandas()
    assert 3 < df.frame.max() < 37
    import json

    summary = json.loads((out / "detect.json").read_text())
    assert summary["error"] and summary["frames"] == df.frame.max() + 1


def test_detect_cli_bad_model_card(tmp_path: Path, highway_clip: Path) -> None:
    from saferoad.adapters.onnx.card import CARDS_DIR

    (tmp_path / "coco80.txt").write_text((CARDS_DIR / "coco80.txt").read_text())
    card = tmp_path / "card.toml"
    card.write_text(
        (CARDS_DIR / "yolox-nano.toml").read_text().replace("shape = [1, 3549, 85]", "shape = [1, 8400, 85]")
    )
    res = runner.invoke(app, ["detect", str(highway_clip), "-o", str(tmp_path / "o"), "--model", str(card)])
    assert res.exit_code == 2
    assert "does not match the model's" in " ".join(res.output.split())


def test_detect_cli_unreadable_image(tmp_path: Path) -> None:
    bad = tmp_path / "x.jpg"
    bad.write_bytes(b"\xff\xd8 broken")
    res = runner.invoke(app, ["detect", str(bad), "-o", str(tmp_path / "o")])
    assert res.exit_code == 2 and "not a readable image" in " ".join(res.output.split())


@pytest.mark.parametrize("workers", [1, 2])
def test_run_perception_is_a_lazy_stream(yolox: ModelDetector, highway_clip: Path, workers: int) -> None:
    cfg = load_config()
    src = open_frames(highway_clip)
    it = run_perception(src, yolox, None, None, cfg, horizon=lane_horizon, workers=workers)
    f, _ = next(it)
    assert f.index == 0
    it.close()  # stopping early tears the pipeline down


def test_camera_for_recording(tmp_path: Path) -> None:
    from saferoad.application.perception import camera_for_recording
    from saferoad.domain.recording import Recording, RecordingMeta
    from saferoad.domain.types import CameraIntrinsics, CameraMount

    bare = Recording(tmp_path, "saferoad", RecordingMeta())
    assert camera_for_recording(bare, 1280, 720) == (None, False)
    meta = RecordingMeta(
        camera=CameraIntrinsics(1000.0, 1000.0, 640.0, 360.0, 1280, 720),
        camera_mount=CameraMount(height_m=1.4, pitch_deg=1.5),
        camera_pitch_known=True,
    )
    cam, known = camera_for_recording(Recording(tmp_path, "saferoad", meta), 640, 360)
    assert known and cam is not None
    assert cam.intrinsics.fx == 500.0 and cam.mount.pitch_deg == 1.5


def test_parallel_settings_restored_after_run(highway_clip: Path, yolox: ModelDetector) -> None:
    """The pool's process-wide settings (OpenCV threads, GIL switch interval) are back to
    their values after the stream ends, and also after a consumer stops early."""
    import sys

    import cv2

    cfg = load_config(overrides={"perception": {"workers": 2}})
    before = (cv2.getNumThreads(), sys.getswitchinterval())
    stream = run_perception(open_frames(highway_clip), yolox, None, None, cfg, horizon=lane_horizon)
    next(stream)
    assert cv2.getNumThreads() == 1 and sys.getswitchinterval() <= 0.001
    stream.close()
    assert (cv2.getNumThreads(), sys.getswitchinterval()) == before


def _alive(prefix: str) -> list[str]:
    import threading
    import time

    deadline = time.monotonic() + 5.0
    while True:
        names = [t.name for t in threading.enumerate() if t.name.startswith(prefix) and t.is_alive()]
        if not names or time.monotonic() > deadline:
            return names


def test_detect_prepares_model_while_video_decodes(tmp_path: Path, highway_clip: Path) -> None:
    """The model is built in a thread while the video opens and decodes its first frames:
    a card that does not fit its model fails with the card's error and stops the decoder;
    a missing video fails naming it and the model thread ends too."""
    from saferoad.adapters.onnx.card import CARDS_DIR
    from saferoad.entrypoints.wiring import detect_sources

    (tmp_path / "coco80.txt").write_text((CARDS_DIR / "coco80.txt").read_text())
    card = tmp_path / "card.toml"
    card.write_text(
        (CARDS_DIR / "yolox-nano.toml").read_text().replace("shape = [1, 3549, 85]", "shape = [1, 8400, 85]")
    )
    bad_card = load_config(overrides={"perception": {"model": str(card)}})
    with pytest.raises(ValueError, match="does not match the model's"):
        detect_sources([highway_clip], tmp_path / "o1", bad_card)
    assert _alive("saferoad-decode") == []
    missing = tmp_path / "nowhere.mp4"
    with pytest.raises(FileNotFoundError, match=r"nowhere\.mp4"):
        detect_sources([missing], tmp_path / "o2", load_config())
    assert _alive("saferoad-model") == []
    # and the normal path: every frame, in order, from the source started early
    res = detect_sources([highway_clip], tmp_path / "o3", load_config())
    assert res.error is None and res.summary["frames"] == 38

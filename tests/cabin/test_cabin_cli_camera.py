"""``saferoad cabin`` on a recording folder uses the recording's ``[cabin_camera]``
intrinsics (meta.toml) for head pose, as the analyze stage does; a video outside a recording
uses ``cabin.hfov_deg``."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from saferoad.adapters.simulation.render import encode_video
from saferoad.adapters.video import open_frames
from saferoad.domain.types import CameraIntrinsics
from saferoad.entrypoints.cli.app import app
from saferoad.entrypoints.wiring import resolve_cabin_source, run_cabin_video

pytestmark = pytest.mark.shared

META = "[recording]\nstart_utc = 2026-11-20T08:15:00Z\n"
CAMERA_40 = "\n[cabin_camera]\nwidth = 480\nheight = 270\nhfov_deg = 40.0\n"


def _write_mp4(gif: Path, mp4: Path) -> None:
    src = open_frames(gif)
    try:
        images = [f.image for f in src]
    finally:
        src.close()
    encode_video(mp4, iter(images), 12, 480, 270, crf=12, preset="medium")


@pytest.fixture(scope="module")
def female_mp4(shared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    mp4 = tmp_path_factory.mktemp("cabin_video") / "cabin.mp4"
    _write_mp4(shared_dir / "data/cabin/head-pose-face-detection-female.gif", mp4)
    return mp4


def _recording(root: Path, mp4: Path, meta: str) -> Path:
    root.mkdir()
    (root / "meta.toml").write_text(meta)
    (root / "cabin.mp4").write_bytes(mp4.read_bytes())
    return root


def _cli_yaw(source: Path, out: Path) -> np.ndarray:
    res = CliRunner().invoke(app, ["cabin", str(source), "-o", str(out)])
    assert res.exit_code == 0, res.output
    return np.array(pq.read_table(out / "cabin.parquet").column("yaw_deg").to_pylist())


def test_cli_uses_cabin_camera_from_meta(
    tmp_path: Path, female_mp4: Path, shared_dir: Path
) -> None:
    models = shared_dir / "models"
    fov40 = CameraIntrinsics.from_fov(480, 270, 40.0)
    want_40 = np.array(
        [
            s.yaw_deg
            for s in run_cabin_video(female_mp4, intrinsics=fov40, models_root=models).samples
        ]
    )
    want_60 = np.array([s.yaw_deg for s in run_cabin_video(female_mp4, models_root=models).samples])
    # the field of view matters for these frames (frame 0: about -39 at 40 deg, -36 at 60 deg)
    assert abs(want_40[0] - want_60[0]) > 1.5

    rec = _recording(tmp_path / "rec", female_mp4, META + CAMERA_40)
    src = resolve_cabin_source(str(rec))
    assert src.intrinsics == fov40 and src.meta == rec / "meta.toml" and not src.track
    assert resolve_cabin_source(str(rec / "cabin.mp4")).intrinsics == fov40
    np.testing.assert_allclose(_cli_yaw(rec, tmp_path / "o1"), want_40, atol=1e-6)
    np.testing.assert_allclose(_cli_yaw(rec / "cabin.mp4", tmp_path / "o2"), want_40, atol=1e-6)

    # a recording without [cabin_camera], and the same video outside any recording: hfov_deg
    plain = _recording(tmp_path / "plain", female_mp4, META)
    assert resolve_cabin_source(str(plain)).intrinsics is None
    loose = tmp_path / "loose"
    loose.mkdir()
    (loose / "clip.mp4").write_bytes(female_mp4.read_bytes())
    (loose / "meta.toml").write_text(META + CAMERA_40)  # not a recording's cabin.mp4
    assert resolve_cabin_source(str(loose / "clip.mp4")).intrinsics is None
    np.testing.assert_allclose(_cli_yaw(plain, tmp_path / "o3"), want_60, atol=1e-6)


def test_cli_bad_meta_is_a_clear_error(tmp_path: Path, female_mp4: Path) -> None:
    rec = _recording(tmp_path / "rec", female_mp4, "[cabin_camera]\nwidth = 480\nheight = 270\n")
    res = CliRunner().invoke(app, ["cabin", str(rec), "-o", str(tmp_path / "out")])
    assert res.exit_code == 2
    assert "meta.toml" in res.output and "start_utc" in res.output
    bad = _recording(tmp_path / "bad", female_mp4, META + "\n[cabin_camera]\nhfov_deg = 40.0\n")
    res = CliRunner().invoke(app, ["cabin", str(bad / "cabin.mp4"), "-o", str(tmp_path / "out")])
    assert res.exit_code == 2
    assert "[cabin_camera] needs width and height" in res.output
    assert not (tmp_path / "out").exists()

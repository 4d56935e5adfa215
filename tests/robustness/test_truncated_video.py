"""A video cut mid-file, as a power cut leaves it (issue #14, defect 2).

The sensors' events all survive; when the MP4's index was written first (faststart), every
whole frame before the cut is analysed (from a remuxed copy) and clips are cut from it; when
the index was to come at the end, the frames are rebuilt from the media data (the simulator
repeats its parameter sets in-band; a stream that does not needs ``input.video_reference``,
else the road camera is left out). Either way ``summary.json`` says what was damaged, and
nothing else changes. Byte-level cases: test_truncated_video_rebuild.py.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import av
import pyarrow.parquet as pq
import pytest
from typer.testing import CliRunner

from saferoad.entrypoints.cli.app import app


@pytest.fixture(scope="module")
def video_drive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rec = tmp_path_factory.mktemp("cutvideo") / "rec"
    args = ["simulate", "harsh_braking", "-o", str(rec), "--seed", "3", "--set", "duration_s=14", "--set", "at_s=4"]
    res = CliRunner().invoke(app, args)
    assert res.exit_code == 0, res.output
    return rec


def _faststart(src: Path, dst: Path) -> None:
    with av.open(str(src)) as inp, av.open(str(dst), "w", options={"movflags": "faststart"}) as out:
        stream = inp.streams.video[0]
        ostream = out.add_stream_from_template(stream)
        for p in inp.demux(stream):
            if p.dts is not None:
                p.stream = ostream
                out.mux(p)


def _analyze(rec: Path, out: Path) -> tuple[str, dict[str, Any], list[dict[str, Any]]]:
    res = CliRunner().invoke(app, ["analyze", str(rec), "-o", str(out), "-q", "--detector", "replay"])
    assert res.exit_code == 0, res.output
    summary = json.loads((out / "summary.json").read_text())
    events = [json.loads(x) for x in (out / "events.jsonl").read_text().splitlines()]
    return res.output, summary, events


def _motion(events: list[dict[str, Any]]) -> list[tuple[str, float, float]]:
    return [(e["type"], e["start_s"], e["end_s"]) for e in events if e["type"].startswith(("harsh", "aggressive"))]


def _cut(rec: Path, tmp_path: Path, name: str, *, faststart: bool, keep: float) -> Path:
    cut = Path(shutil.copytree(rec, tmp_path / name))
    video = cut / "video.mp4"
    if faststart:
        _faststart(rec / "video.mp4", video)
    data = video.read_bytes()
    video.write_bytes(data[: int(len(data) * keep)])
    return cut


def test_a_faststart_video_cut_in_half_keeps_its_frames_and_every_sensor_event(video_drive: Path, tmp_path: Path) -> None:
    _, full, full_events = _analyze(video_drive, tmp_path / "full")
    assert full.get("damaged") is None and _motion(full_events), "the drive has a harsh braking"
    cut = _cut(video_drive, tmp_path, "fast", faststart=True, keep=0.5)
    text, summary, events = _analyze(cut, tmp_path / "out")
    assert _motion(events) == _motion(full_events)  # the sensors' events all survive
    [damage] = summary["damaged"]
    assert damage["file"] == "video.mp4" and damage["recovered"] is True and damage["recovery"] == "remux"
    assert 0 < damage["frames_kept"] < damage["frames_declared"] == full["road"]["frames"]
    assert summary["road"]["frames"] == damage["frames_kept"]  # every whole frame analysed
    assert "video.mp4: cut short" in text  # said at the terminal too
    # the frames before the cut give the same tracks as the whole video did
    t_cut = max(pq.read_table(tmp_path / "out" / "tracks.parquet").column("t_s").to_pylist())
    whole = pq.read_table(tmp_path / "full" / "tracks.parquet").to_pylist()
    part = pq.read_table(tmp_path / "out" / "tracks.parquet").to_pylist()
    assert part == [r for r in whole if r["t_s"] <= t_cut]
    braking = next(e for e in events if e["type"] == "harsh_braking")
    assert braking["start_s"] < t_cut and (tmp_path / "out" / braking["evidence"]["clip"]).is_file()


def _whole_packets_before(video: Path, cut: int) -> int:
    """The frames of ``video`` whose bytes all lie before byte ``cut`` (from its index)."""
    with av.open(str(video)) as c:
        return sum(1 for p in c.demux(video=0) if p.size and p.pos + p.size <= cut)


@pytest.fixture(scope="module")
def full_run(video_drive: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, Any], list[dict[str, Any]]]:
    out = tmp_path_factory.mktemp("full") / "out"
    _, summary, events = _analyze(video_drive, out)
    return out, summary, events


@pytest.mark.parametrize("keep", [0.3, 0.5, 0.8])
def test_a_video_cut_before_its_index_is_rebuilt_from_its_media_data(
    video_drive: Path, full_run: tuple[Path, dict[str, Any], list[dict[str, Any]]], tmp_path: Path, keep: float
) -> None:
    full_out, full, full_events = full_run
    cut = _cut(video_drive, tmp_path, "slow", faststart=False, keep=keep)
    cut_at = (cut / "video.mp4").stat().st_size
    expected = _whole_packets_before(video_drive / "video.mp4", cut_at)
    text, summary, events = _analyze(cut, tmp_path / "out")
    assert _motion(events) == _motion(full_events)  # the sensors' events all survive
    assert summary["motion_mode"] == full["motion_mode"] and summary["distance_km"] == full["distance_km"]
    [damage] = summary["damaged"]
    assert damage["file"] == "video.mp4" and damage["recovered"] is True
    assert damage["recovery"] == "nal_scan" and damage["parameter_sets"] == "in-band"
    assert "index lost" in damage["problem"] and damage["frames_declared"] is None
    # every whole frame before the cut, less at most the last one (it may lack slices)
    assert expected - 1 <= damage["frames_kept"] <= expected < full["road"]["frames"]
    assert summary["road"]["frames"] == damage["frames_kept"]
    assert "index lost" in text and "frame times rebuilt at a constant 10 fps (meta.toml [camera] fps)" in text
    # the rebuilt frames sit at their original times: the same tracks as the whole video gave
    part = pq.read_table(tmp_path / "out" / "tracks.parquet").to_pylist()
    t_cut = max(r["t_s"] for r in part)
    whole = pq.read_table(full_out / "tracks.parquet").to_pylist()
    assert part == [r for r in whole if r["t_s"] <= t_cut]
    assert t_cut == pytest.approx((damage["frames_kept"] - 1) / 10.0, abs=0.1 + 1e-9)
    braking = next(e for e in events if e["type"] == "harsh_braking")
    if braking["start_s"] < t_cut:  # clips are cut from what exists
        assert (tmp_path / "out" / braking["evidence"]["clip"]).is_file()


def _encode_without_inband_headers(src: Path, dst: Path, frames: slice = slice(None)) -> None:
    """Re-encode ``src``'s frames as a recorder that keeps its SPS/PPS only in the index
    (x264's default in an MP4) does."""
    with av.open(str(src)) as inp:
        images = [f.to_ndarray(format="yuv420p") for f in inp.decode(video=0)][frames]
    with av.open(str(dst), "w") as out:
        stream = out.add_stream("libx264", rate=10)
        stream.width, stream.height, stream.pix_fmt = 640, 360, "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "23"}
        for i, img in enumerate(images):
            frame = av.VideoFrame.from_ndarray(img, format="yuv420p")
            frame.pts = i
            for p in stream.encode(frame):
                out.mux(p)
        for p in stream.encode():
            out.mux(p)


def test_a_video_without_inband_parameter_sets_needs_a_reference(
    video_drive: Path, full_run: tuple[Path, dict[str, Any], list[dict[str, Any]]], tmp_path: Path
) -> None:
    _, full, full_events = full_run
    cut = Path(shutil.copytree(video_drive, tmp_path / "plain"))
    plain = tmp_path / "plain.mp4"
    _encode_without_inband_headers(video_drive / "video.mp4", plain)
    data = plain.read_bytes()
    (cut / "video.mp4").write_bytes(data[: len(data) // 2])
    expected = _whole_packets_before(plain, len(data) // 2)
    text, summary, events = _analyze(cut, tmp_path / "out")
    assert _motion(events) == _motion(full_events)
    [damage] = summary["damaged"]
    assert damage["recovered"] is False and damage["recovery"] == "none"
    assert str(cut / "video.mp4") in damage["problem"] and "set input.video_reference" in damage["problem"]
    assert "the video is left out" in text
    assert summary["motion_mode"] == full["motion_mode"] and summary["distance_km"] == full["distance_km"]
    # an earlier recording of the same camera (other frames, same encoder): its avcC rebuilds it.
    # Named relative to the recording's folder (not the working directory, where it is not), and
    # summary.json keeps it as written
    ref = tmp_path / "earlier.mp4"
    _encode_without_inband_headers(video_drive / "video.mp4", ref, slice(100, None))
    assert not Path("../earlier.mp4").exists()
    res = CliRunner().invoke(
        app, ["analyze", str(cut), "-o", str(tmp_path / "out2"), "-q", "--detector", "replay",
              "--set", "input.video_reference=../earlier.mp4"],
    )
    assert res.exit_code == 0, res.output
    summary = json.loads((tmp_path / "out2" / "summary.json").read_text())
    [damage] = summary["damaged"]
    assert damage["recovered"] is True and damage["parameter_sets"] == "reference ../earlier.mp4"
    assert expected - 1 <= damage["frames_kept"] <= expected
    assert summary["road"]["frames"] == damage["frames_kept"]

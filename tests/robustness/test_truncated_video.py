"""A video cut mid-file, as a power cut leaves it (issue #14, defect 2).

The sensors' events all survive; when the MP4's index was written first (faststart), every
whole frame before the cut is analysed (from a remuxed copy) and clips are cut from it; when
the index was to come at the end, the road camera is left out. Either way ``summary.json``
says what was damaged, and nothing else changes.
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
    assert damage["file"] == "video.mp4" and damage["recovered"] is True
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


def test_a_video_cut_before_its_index_leaves_the_sensor_events(video_drive: Path, tmp_path: Path) -> None:
    _, full, full_events = _analyze(video_drive, tmp_path / "full")
    cut = _cut(video_drive, tmp_path, "slow", faststart=False, keep=0.5)
    text, summary, events = _analyze(cut, tmp_path / "out")
    assert _motion(events) == _motion(full_events)
    [damage] = summary["damaged"]
    assert damage["recovered"] is False and "cannot open video" in damage["problem"]
    assert "the video is left out" in text
    assert summary["motion_mode"] == full["motion_mode"] and summary["distance_km"] == full["distance_km"]

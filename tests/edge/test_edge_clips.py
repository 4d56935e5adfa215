"""Clips: the recorder cuts each event's clip from the video once the clip's window has been
recorded, fsyncs it into the spool, and the uploader sends it after the metadata; what arrives
is the clip, whole (SHA-256 checked by the server) and playable."""

from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any

import av
from typer.testing import CliRunner

from saferoad.entrypoints.cli.app import app
from saferoad.entrypoints.wiring import simulate


def test_event_clip_spooled_then_uploaded(tmp_path: Path, ingest_server: Any) -> None:
    rec = tmp_path / "rec"
    simulate("harsh_braking", rec, assignments=["duration_s=24", "at_s=9"], seed=1)
    assert (rec / "video.mp4").is_file()
    spool = str(tmp_path / "spool.db")
    runner = CliRunner()
    res = runner.invoke(app, ["edge", "--replay", str(rec), "--speed", "0", "--spool", spool, "-o", str(tmp_path / "out")])
    assert res.exit_code == 0, res.output
    figures = json.loads((tmp_path / "out" / "edge.json").read_text())
    events = [json.loads(x) for x in (tmp_path / "out" / "events.jsonl").read_text().splitlines()]
    assert [e["type"] for e in events] == ["harsh_braking"] and figures["clips"] == 1
    status = json.loads(runner.invoke(app, ["edge", "--status", "--spool", spool]).output)
    assert status["clips"] == {"queued": 1}
    assert not list((tmp_path / "spool.db.cutting").rglob("*.mp4"))  # cut, moved into the spool, cleaned

    ingest_server.start()
    res = runner.invoke(
        app, ["edge", "--upload", "--spool", spool, "--set", f"edge.ingest_url={ingest_server.url}"],
        env={"SAFEROAD_DEVICE_TOKEN": ingest_server.token},
    )  # fmt: skip
    assert res.exit_code == 0, res.output
    st = ingest_server.state
    assert [k for k, _ in st.arrivals] == ["trip", "event", "clip"]
    (data,) = st.clips.values()
    with av.open(io.BytesIO(bytes(data))) as container:
        frames = sum(1 for _ in container.decode(video=0))
    # the clip spans clip_before_s + clip_after_s (12 s) around the braking, within the drive
    assert frames >= 10 * 10

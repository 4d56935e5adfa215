"""A local ONNX run and a run through ``saferoad serve-model`` give the same tracks and
events: ``analyze`` on a recording made of the highway clip, switched by configuration only
(``perception.detector`` + ``inference.url``)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from saferoad.adapters.recording import open_recording
from saferoad.config import load_config
from saferoad.entrypoints.wiring import analyze_recording

# A wide corridor and a long headway threshold so the near cars of this 1.5 s clip make a
# lead vehicle and a tailgating event: the comparison then covers events, not only tracks.
TUNING = {
    "perception": {"corridor_half_width_m": 15.0},
    "road_events": {
        "corridor_half_width_m": 15.0,
        "tailgating_headway_s": 5.0,
        "tailgating_min_duration_s": 0.5,
        "clips": False,
    },
}


def _recording(shared_dir: Path, folder: Path) -> Path:
    folder.mkdir()
    (folder / "video.mp4").symlink_to(shared_dir / "data" / "video" / "highway_vehicles_720p.mp4")
    (folder / "meta.toml").write_text("[recording]\nformat_version = 1\nstart_utc = 2026-11-20T08:15:00Z\n")
    rows = ["t_s,lat,lon,speed_mps,course_deg,alt_m"]
    for i in range(21):  # 2 s at 10 Hz, 25 m/s due north
        t = i * 0.1
        rows.append(f"{t:.1f},{35.0 + 25.0 * t / 111_000:.7f},139.0,25.0,0.0,10.0")
    (folder / "gps.csv").write_text("\n".join(rows) + "\n")
    return folder


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for k, v in b.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


@pytest.mark.slow
def test_same_tracks_and_events_local_and_through_serve_model(
    shared_dir: Path, server_process: Any, tmp_path: Path
) -> None:
    rec = open_recording(_recording(shared_dir, tmp_path / "drive"))
    proc = server_process("serve-model", "--model", "yolox-nano", "--port", "0")
    url = f"grpc://127.0.0.1:{proc.port}/yolox-nano"

    local_cfg = load_config(None, _merge(TUNING, {"perception": {"detector": "onnx"}}))
    remote_cfg = load_config(
        None, _merge(TUNING, {"perception": {"detector": "grpc"}, "inference": {"url": url}})
    )
    local = analyze_recording(rec, local_cfg, tmp_path / "local")
    remote = analyze_recording(rec, remote_cfg, tmp_path / "remote")

    assert local.summary["road"]["detector"].startswith("onnx:")
    assert local.summary["road"]["perception"]["frames"] == 38
    local_tracks = pq.read_table(tmp_path / "local" / "tracks.parquet")
    remote_tracks = pq.read_table(tmp_path / "remote" / "tracks.parquet")
    assert local_tracks.num_rows > 38 and len(set(local_tracks.column("frame").to_pylist())) == 38
    assert remote_tracks.equals(local_tracks)  # bit-exact: the same tensors, the same post-processing
    assert [e.type.value for e in local.events] == ["tailgating"]
    assert [e.to_dict() for e in remote.events] == [e.to_dict() for e in local.events]
    assert (tmp_path / "remote" / "events.jsonl").read_text() == (tmp_path / "local" / "events.jsonl").read_text()

    # the analysis service, configured for the remote detector, streams the same events
    import grpc

    from saferoad.adapters.grpc.generated import saferoad_analysis_v1_pb2 as pb
    from saferoad.adapters.grpc.generated import saferoad_analysis_v1_pb2_grpc as pb_grpc
    from saferoad.entrypoints.services.analysis_service import event_from_message, serve_analysis

    service, _ = serve_analysis(remote_cfg, host="127.0.0.1", port=0)
    try:
        with grpc.insecure_channel(f"127.0.0.1:{service.port}") as ch:
            stub = pb_grpc.AnalysisServiceStub(ch)
            assert stub.GetServerInfo(pb.GetServerInfoRequest(), timeout=10).detector == "grpc"
            msgs = list(stub.AnalyzePath(pb.AnalyzePathRequest(path=str(rec.path)), timeout=300))
    finally:
        service.stop(0)
    streamed = [event_from_message(m.event).to_dict() for m in msgs if m.WhichOneof("kind") == "event"]
    assert streamed == [e.to_dict() for e in local.events]

    code, log = proc.stop()
    assert code == 0
    # both remote runs' frames went through serve-model: 2 runs x 38 frames x 2 inferences a
    # frame (the full frame and the horizon band, which yolox-nano's card asks for)
    assert '"requests": 152, "errors": 0' in log

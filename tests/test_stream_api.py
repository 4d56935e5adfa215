"""``saferoad.Pipeline`` (docs/api.md): samples pushed in chunks as a device would give them
yield analyze's events - the sensor rules' (harsh driving, speeding) - on the simulator's
scenarios and the shared recordings; a chunk out of order or of a bad shape is a ValueError
naming its field; the documented example runs."""

from __future__ import annotations

import contextlib
import gc
import re
import shutil
import subprocess
import sys
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import saferoad
from saferoad._stream import PerceptionFailed
from saferoad.adapters.recording.saferoad_format import read_can_file, write_can_csv
from saferoad.adapters.simulation.render import encode_video
from saferoad.domain.event_specs import Family, spec
from saferoad.domain.simulation.scenarios import SCENARIOS
from saferoad.domain.types import Detections, Severity
from saferoad.entrypoints.wiring import analysis_ports, simulate

REPO = Path(__file__).resolve().parents[1]


def _covered(events: list[saferoad.Event]) -> list[saferoad.Event]:
    """The events of the rules the pipeline runs: the motion family and ``speeding``."""
    keep = [e for e in events if spec(e.type).family is Family.MOTION or e.type.value == "speeding"]
    return sorted(keep, key=lambda e: (e.start_s, e.type.value))


def _feed(
    pipe: saferoad.Pipeline, rec: saferoad.Recording, chunk_s: float, early: list[tuple[float, saferoad.Event]] | None = None
) -> list[saferoad.Event]:
    """Every sample of ``rec`` pushed in ``[a, a + chunk_s)`` chunks, the streams interleaved
    (GPS, IMU, CAN within each chunk), then ``close``; ``early``: receives each chunk's
    ``take_early()`` with the chunk's end."""
    imu, gps, can = rec.imu, rec.gps, rec.can_speed
    times = [s.t_s for s in (imu, gps, can) if s is not None and len(s)]
    t0, t1 = min(float(t[0]) for t in times), max(float(t[-1]) for t in times)
    out: list[saferoad.Event] = []
    k = 0
    while (a := t0 + k * chunk_s) <= t1:
        b = t0 + (k + 1) * chunk_s  # the next chunk's own bound: no sample in two chunks
        if gps is not None:
            m = (gps.t_s >= a) & (gps.t_s < b)
            out += pipe.push_gps(gps.t_s[m], gps.lat[m], gps.lon[m], gps.speed_mps[m], gps.course_deg[m], gps.alt_m[m])
        if imu is not None:
            m = (imu.t_s >= a) & (imu.t_s < b)
            out += pipe.push_imu(imu.t_s[m], imu.acc[m], None if imu.gyro is None else imu.gyro[m])
        if can is not None:
            m = (can.t_s >= a) & (can.t_s < b)
            out += pipe.push_speed(can.t_s[m], can.speed_mps[m], can.source)
        if early is not None:
            early += [(b, e) for e in pipe.take_early()]
        k += 1
    return out + pipe.close()


def _compare(rec: saferoad.Recording, overrides: dict[str, Any] | None = None, chunk_s: float = 0.3) -> int:
    """The pipeline's events are analyze's: same types, directions, severities and evidence,
    peaks within 1e-3, start and end within one resampled IMU sample (the streaming engine's
    stated equality, as tests/edge/test_edge_equals_batch.py holds the recorder to); the
    distance and the graded manoeuvres too. Returns the number of events compared."""
    # analyze sensor-only: no road camera (a simulated drive's detections file, replayed)
    res = saferoad.analyze(replace(rec, video=None, detections=None), overrides=overrides)
    pipe = saferoad.Pipeline.like(rec, overrides=overrides)
    batch, got = _covered(res.events), _covered(_feed(pipe, rec, chunk_s))
    where = f"{rec.path} chunk {chunk_s} s"
    assert [e.type for e in got] == [e.type for e in batch], where
    tol = 1.0 / pipe.config.motion.resample_hz + 1e-9
    for b, s in zip(batch, got, strict=True):
        assert abs(b.start_s - s.start_s) <= tol and abs(b.end_s - s.end_s) <= tol, (where, b, s)
        assert (b.direction, b.severity) == (s.direction, s.severity), (where, b, s)
        # heading-free mode: the push's forward axis comes from the window's turns, not the
        # whole trip's: the type agrees, its provenance (typed_by) may not
        assert {k: v for k, v in b.evidence.items() if k != "typed_by"} == {
            k: v for k, v in s.evidence.items() if k != "typed_by"
        }, where
        assert b.peak.keys() == s.peak.keys(), where
        for k, v in b.peak.items():
            assert s.peak[k] == pytest.approx(v, abs=1e-3, rel=1e-3), (where, k)
    want_km = res.summary.get("distance_km")
    assert (pipe.distance_km is None) == (want_km is None), where
    if want_km is not None and pipe.distance_km is not None:
        assert pipe.distance_km == pytest.approx(want_km, abs=6e-4), where  # summary.json rounds to 1 m
    if res.summary.get("manoeuvres") is not None and res.summary.get("motion_mode") != "heading-free":
        assert pipe.manoeuvres == res.summary["manoeuvres"], where
    return len(batch)


def test_every_scenario_gives_analyze_events(tmp_path: Path) -> None:
    n = 0
    for name in SCENARIOS:
        simulate(name, tmp_path / name, assignments=[], seed=1, video=False)
        n += _compare(saferoad.open_recording(tmp_path / name))
    assert n >= 5  # the scenarios hold harsh events: the comparison is not vacuous


@pytest.mark.parametrize("chunk_s", [0.05, 1.7])
def test_chunk_size_does_not_matter(tmp_path: Path, chunk_s: float) -> None:
    simulate("demo", tmp_path / "demo", assignments=[], seed=2, video=False)
    assert _compare(saferoad.open_recording(tmp_path / "demo"), chunk_s=chunk_s) >= 3


def test_speeding_with_a_limit_and_with_zones(tmp_path: Path) -> None:
    rec_dir = tmp_path / "speeding"
    simulate("speeding", rec_dir, assignments=[], seed=1, video=False)
    rec = saferoad.open_recording(rec_dir)
    assert _compare(rec, {"road_events": {"speed_limit_kmh": 60.0}}) >= 1
    # the zones file the simulator wrote, named in the config: the GPS fixes wait for the speed
    assert _compare(rec, {"road_events": {"speed_zones": str(rec_dir / "speed_zones.geojson")}}) >= 1


@pytest.mark.parametrize("name", ["imu/driver-behavior-dataset/trip17", "comma2k19-segment"])
def test_shared_recordings(shared_dir: Path, name: str) -> None:
    n = _compare(saferoad.open_recording(shared_dir / "data" / name))
    if "trip17" in name:
        assert n >= 10


def test_events_come_as_they_become_final(tmp_path: Path) -> None:
    """An event is returned by the push whose samples made it final, not only at ``close``:
    within the motion guard plus a hop (plus the chunk) of its end."""
    simulate("harsh_braking", tmp_path / "hb", assignments=[], seed=1, video=False)
    rec = saferoad.open_recording(tmp_path / "hb")
    imu = rec.imu
    assert imu is not None
    pipe = saferoad.Pipeline.like(rec)
    e = pipe.config.edge
    seen: list[tuple[float, saferoad.Event]] = []
    for i in range(0, len(imu), 25):
        for ev in pipe.push_imu(imu.t_s[i : i + 25], imu.acc[i : i + 25], None if imu.gyro is None else imu.gyro[i : i + 25]):
            seen.append((float(imu.t_s[min(i + 24, len(imu) - 1)]), ev))
    assert seen, "no event became final before the end of the drive"
    assert all(0 <= t - ev.end_s <= e.motion_guard_s + e.motion_hop_s + 0.25 + 1e-9 for t, ev in seen)
    assert [ev.type for _, ev in seen] == [saferoad.EventType.HARSH_BRAKING]
    assert pipe.close() == []


def test_bad_input_is_a_value_error_naming_the_field() -> None:
    pipe = saferoad.Pipeline()
    t = np.arange(10) / 100.0
    acc = np.tile([0.0, 0.0, 9.81], (10, 1))
    assert pipe.push_imu(t, acc) == []
    with pytest.raises(ValueError, match=r"push_imu: t_s\[0\] = 0\.050 s is not after the previous imu sample \(0\.090 s\)"):
        pipe.push_imu(t[5:] + 0.0, acc[5:])
    with pytest.raises(ValueError, match=r"push_imu: acc has shape \(10, 2\), expected \(10, 3\)"):
        pipe.push_imu(t + 1.0, acc[:, :2])
    with pytest.raises(ValueError, match=r"push_imu: gyro has shape \(9, 3\)"):
        pipe.push_imu(t + 1.0, acc, np.zeros((9, 3)))
    with pytest.raises(ValueError, match=r"push_imu: gyro is given, but the earlier IMU samples came without one"):
        pipe.push_imu(t + 1.0, acc, np.zeros((10, 3)))
    with pytest.raises(ValueError, match=r"push_imu: t_s is not increasing at index 3"):
        pipe.push_imu(np.array([1.0, 1.1, 1.2, 1.2]), acc[:4])
    with pytest.raises(ValueError, match=r"push_gps: lon has shape \(2,\), expected \(3,\)"):
        pipe.push_gps([1.0, 2.0, 3.0], [48.1, 48.1, 48.1], [11.5, 11.5])
    with pytest.raises(ValueError, match=r"push_speed: t_s holds a NaN"):
        pipe.push_speed([1.0, float("nan")], [10.0, 10.0])
    with pytest.raises(ValueError, match=r"imu_frame: 'car' is not one of"):
        saferoad.Pipeline(imu_frame="car")
    # a rejected chunk changes nothing: the stream goes on after the last good sample; one
    # sample may be pushed alone, as scalars and a row
    assert pipe.push_imu(t + 0.1, acc) == []
    assert pipe.push_imu(0.5, [0.0, 0.0, 9.81]) == []
    assert pipe.push_gps(0.5, 48.1, 11.5, speed_mps=0.0) == []
    assert pipe.push_speed(0.5, 0.0) == []
    pipe.close()
    with pytest.raises(ValueError, match=r"push_gps: the pipeline is closed"):
        pipe.push_gps([5.0], [48.1], [11.5])


def test_the_documented_stream_example_runs(tmp_path: Path) -> None:
    rec = tmp_path / "drive"
    simulate("harsh_braking", rec, assignments=[], seed=1, video=False)
    text = (REPO / "docs" / "api.md").read_text()
    blocks = re.findall(r"```python\n(.*?)```", text, re.S)
    (code,) = [b for b in blocks if "saferoad.Pipeline" in b]
    out = subprocess.run(
        [sys.executable, "-c", f"RECORDING = {str(rec)!r}\n{code}"], capture_output=True, text=True, timeout=300
    )
    assert out.returncode == 0, out.stderr
    assert re.search(r"^\s*\d+\.\d s\s+harsh_braking", out.stdout, re.M), out.stdout


# -- camera frames --------------------------------------------------------------------------

REPLAY = {"perception": {"detector": "replay"}}
"""The simulator's boxes (``detections.json``) as the detector: perception is measured elsewhere;
here the frames' way through the pipeline is."""
SMALL_CAMERA = ["camera.fps=10", "camera.width=320", "camera.height=180"]


def _close_values(a: Any, b: Any) -> bool:
    """Nested evidence equal, its floats within 1e-6."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(_close_values(a[k], b[k]) for k in a)
    if isinstance(a, list | tuple) and isinstance(b, list | tuple):
        return len(a) == len(b) and all(_close_values(x, y) for x, y in zip(a, b, strict=True))
    if isinstance(a, float) or isinstance(b, float):
        return bool(a == pytest.approx(b, abs=1e-6))
    return bool(a == b)


def _feed_with_frames(pipe: saferoad.Pipeline, rec: saferoad.Recording, chunk_s: float = 0.1) -> list[tuple[float, saferoad.Event]]:
    """The GPS fixes, IMU samples and decoded video frames of ``rec`` pushed as a device gives
    them - each chunk's sensors, then its frames one by one - then ``close``; each event with
    the time of the push that returned it (inf: ``close``)."""
    assert rec.video is not None and rec.imu is not None and rec.gps is not None
    frames = list(analysis_ports().open_frames(rec.video))
    imu, gps, can, turn = rec.imu, rec.gps, rec.can_speed, rec.turn_signal
    out: list[tuple[float, saferoad.Event]] = []
    end = max(float(imu.t_s[-1]), float(gps.t_s[-1]), frames[-1].t_s)
    a, k, fi = 0.0, 0, 0
    while a <= end:
        b = (k + 1) * chunk_s
        new: list[saferoad.Event] = []
        if turn is not None:  # the blinker with the speed of the same time (can.csv's row)
            m = (turn.t_s >= a) & (turn.t_s < b)
            new += pipe.push_turn_signal(turn.t_s[m], turn.state[m])
        if can is not None:
            m = (can.t_s >= a) & (can.t_s < b)
            new += pipe.push_speed(can.t_s[m], can.speed_mps[m], can.source)
        m = (gps.t_s >= a) & (gps.t_s < b)
        new += pipe.push_gps(gps.t_s[m], gps.lat[m], gps.lon[m], gps.speed_mps[m], gps.course_deg[m], gps.alt_m[m])
        m = (imu.t_s >= a) & (imu.t_s < b)
        new += pipe.push_imu(imu.t_s[m], imu.acc[m], None if imu.gyro is None else imu.gyro[m])
        while fi < len(frames) and frames[fi].t_s < b:
            new += pipe.push_frame(frames[fi].t_s, frames[fi].image)
            fi += 1
        out += [(b, e) for e in new]
        a, k = b, k + 1
    assert fi == len(frames)
    return out + [(float("inf"), e) for e in pipe.close()]


def _compare_with_frames(
    rec: saferoad.Recording, pipe: saferoad.Pipeline, fps: float, overrides: dict[str, Any] | None = None
) -> list[tuple[float, saferoad.Event]]:
    """Every event of analyze on ``rec`` (road camera, lane markings, motion; with ``overrides``,
    default the replay detector: the pipeline's own) from the pipeline fed frame by frame: same
    types, directions, severities and evidence, start and end within one frame. Returns the
    pipeline's road events with the time of the push that gave them."""
    res = saferoad.analyze(rec, overrides=REPLAY if overrides is None else overrides)
    got = _feed_with_frames(pipe, rec)
    _same_events(res.events, [e for _, e in got], fps, rec.path)
    return [(t, e) for t, e in got if spec(e.type).family is Family.ROAD]


def _same_events(analyzed: list[saferoad.Event], streamed: list[saferoad.Event], fps: float, what: Any) -> None:
    """The same types, directions, severities and evidence; start and end within one frame."""
    batch = sorted(analyzed, key=lambda e: (e.start_s, e.type.value))
    events = sorted(streamed, key=lambda e: (e.start_s, e.type.value))
    assert [e.type for e in events] == [e.type for e in batch], what
    tol = 1.0 / fps + 1e-9
    for b, s in zip(batch, events, strict=True):
        assert abs(b.start_s - s.start_s) <= tol and abs(b.end_s - s.end_s) <= tol, (b, s)
        assert (b.direction, b.severity) == (s.direction, s.severity), (b, s)
        assert _close_values(b.evidence, s.evidence), (b.evidence, s.evidence)
        assert b.peak.keys() == s.peak.keys() and _close_values(b.peak, s.peak), (b.peak, s.peak)


@pytest.mark.parametrize(
    ("name", "want"),
    [
        ("tailgating", "tailgating"),
        ("lead_braking", "forward_collision_warning"),
        ("lane_departure", "lane_departure"),
        # the IMU's lane change with the direction of the marking the camera saw crossed
        ("aggressive_lane_change", "aggressive_lane_change"),
    ],
)
def test_frames_pushed_one_by_one_give_analyze_road_events(tmp_path: Path, name: str, want: str) -> None:
    simulate(name, tmp_path / name, assignments=SMALL_CAMERA, seed=1, video=True)
    rec = saferoad.open_recording(tmp_path / name)
    pipe = saferoad.Pipeline.like(rec, overrides=REPLAY)
    got = _compare_with_frames(rec, pipe, fps=10.0)
    if name == "aggressive_lane_change":
        assert got == []  # a motion event (compared above), its direction from the camera
        return
    assert [e.type.value for _, e in got] == [want]
    # final during the drive, not only at close: once the ego speed passed its end, within
    # the motion guard, a hop, the road rules' gap and a chunk
    (t, ev), e = got[0], pipe.config.edge
    bound = e.motion_guard_s + e.motion_hop_s + pipe.config.road_events.max_gap_s + 0.1 + 1e-9
    assert t - ev.end_s <= bound, (t, ev.end_s, bound)


def test_a_given_detector_camera_and_rate(tmp_path: Path) -> None:
    """No recording behind the pipeline: the camera from ``meta``, the frame rate and the
    detector given; analyze's events all the same."""
    simulate("lead_braking", tmp_path / "lb", assignments=SMALL_CAMERA, seed=1, video=True)
    rec = saferoad.open_recording(tmp_path / "lb")
    assert rec.imu is not None and rec.detections is not None
    detector = analysis_ports().detectors.replay(rec.detections)
    pipe = saferoad.Pipeline(
        imu_frame=rec.imu.frame, gravity_removed=rec.imu.gravity_removed, highpass_tau_s=rec.imu.horizontal_highpass_tau_s,
        meta=rec.meta, camera_fps=10.0, detector=detector,
    )  # fmt: skip
    got = _compare_with_frames(rec, pipe, fps=10.0)
    assert [e.type.value for _, e in got] == ["forward_collision_warning"]


def test_bad_frames_are_value_errors_naming_the_field(tmp_path: Path) -> None:
    simulate("tailgating", tmp_path / "tg", assignments=SMALL_CAMERA, seed=1, video=True)
    rec = saferoad.open_recording(tmp_path / "tg")
    pipe = saferoad.Pipeline.like(rec, overrides=REPLAY)
    img = np.zeros((180, 320, 3), np.uint8)
    with pytest.raises(ValueError, match=r"push_frame: image is float64 of shape \(180, 320, 3\), expected H x W x 3 uint8 \(BGR\)"):
        pipe.push_frame(0.0, img.astype(np.float64))
    with pytest.raises(ValueError, match=r"push_frame: image is uint8 of shape \(180, 320\)"):
        pipe.push_frame(0.0, img[:, :, 0])
    with pytest.raises(ValueError, match=r"push_frame: t_s = nan is not a finite time"):
        pipe.push_frame(float("nan"), img)
    assert pipe.push_frame(0.0, img) == []
    assert pipe.push_frame(0.1, img) == []
    with pytest.raises(ValueError, match=r"push_frame: t_s = 0\.100 s is not after the previous frame \(0\.100 s\)"):
        pipe.push_frame(0.1, img)
    with pytest.raises(ValueError, match=r"push_frame: image has shape \(90, 160, 3\), but the first frame's was \(180, 320, 3\)"):
        pipe.push_frame(0.2, img[::2, ::2])
    with pytest.raises(ValueError, match=r"push_frame: index 1 is not after the previous frame's \(1\)"):
        pipe.push_frame(0.2, img, index=1)
    # a rejected frame changes nothing: the next good one goes on
    assert pipe.push_frame(0.2, img) == []
    pipe.close()
    with pytest.raises(ValueError, match=r"push_frame: the pipeline is closed"):
        pipe.push_frame(0.3, img)
    with pytest.raises(ValueError, match=r"camera_fps: 0\.0 is not a positive frame rate"):
        saferoad.Pipeline(camera_fps=0.0)


def test_a_detector_that_cannot_be_built_fails_the_push_and_takes_no_frame() -> None:
    """The config's ONNX model missing: the push raises the detector's own error naming the
    file, no camera worker is left, the frame is not taken (the same time can be pushed again)."""
    before = set(_camera_workers())
    pipe = saferoad.Pipeline(overrides={"perception": {"models_root": "/nonexistent-models"}})
    img = np.zeros((90, 160, 3), np.uint8)
    for _ in range(2):
        with pytest.raises(FileNotFoundError, match=r"/nonexistent-models/.*\.onnx"):
            pipe.push_frame(0.0, img)
    assert set(_camera_workers()) == before
    assert pipe.close() == []


class _BrokenDetector:
    """A detector whose third frame fails (a model that errors mid-drive)."""

    name = "broken"

    def detect(self, frame: Any) -> Any:
        if frame.index == 2:
            raise OSError("model file vanished")
        return Detections.empty()


def test_a_perception_failure_is_raised_by_the_push_not_hung_on() -> None:
    pipe = saferoad.Pipeline(camera_fps=10.0, detector=_BrokenDetector())
    img = np.zeros((90, 160, 3), np.uint8)
    assert pipe.push_frame(0.0, img) == [] and pipe.push_frame(0.1, img) == []
    for t in (0.2, 0.3):  # the frame that failed, then one after: the worker has stopped
        with pytest.raises(RuntimeError, match=r"push_frame: perception failed: OSError: model file vanished"):
            pipe.push_frame(t, img)


def _braking_until_its_end(tmp_path: Path, detector: Any) -> tuple[saferoad.Pipeline, list[saferoad.Event], list[str]]:
    """A simulated harsh braking: frames 0-4 (0.0-0.4 s) pushed to a pipeline with
    ``detector``, then its GPS and IMU until just after the braking's end, so that the event is still open and
    only ``close`` returns it. Returns the pipeline, the events the pushes returned and the
    errors the frame pushes raised."""
    rec_dir = tmp_path / "hb"
    if not rec_dir.exists():
        simulate("harsh_braking", rec_dir, assignments=[], seed=1, video=False)
    rec = saferoad.open_recording(rec_dir)
    imu = rec.imu
    assert imu is not None
    (braking,) = [e for e in _feed(saferoad.Pipeline.like(rec), rec, 1.0) if e.type is saferoad.EventType.HARSH_BRAKING]
    pipe = saferoad.Pipeline(
        imu_frame=imu.frame, gravity_removed=imu.gravity_removed, highpass_tau_s=imu.horizontal_highpass_tau_s,
        camera_fps=10.0, detector=detector,
    )
    img = np.zeros((90, 160, 3), np.uint8)
    out: list[saferoad.Event] = []
    errors: list[str] = []
    for i in range(5):
        try:
            out += pipe.push_frame(0.1 * i, img)
        except RuntimeError as err:
            errors.append(str(err))
    end = braking.end_s + pipe.config.edge.motion_guard_s / 2  # ended, not yet final
    if rec.gps is not None:
        g, m = rec.gps, rec.gps.t_s < end
        out += pipe.push_gps(g.t_s[m], g.lat[m], g.lon[m], g.speed_mps[m], g.course_deg[m], g.alt_m[m])
    m = imu.t_s < end
    out += pipe.push_imu(imu.t_s[m], imu.acc[m], None if imu.gyro is None else imu.gyro[m])
    return pipe, out, errors


def _key(events: list[saferoad.Event]) -> list[tuple[str, float, float]]:
    return [(e.type.value, round(e.start_s, 6), round(e.end_s, 6)) for e in events]


def test_close_after_a_perception_failure_still_returns_the_sensor_events(tmp_path: Path) -> None:
    """The camera failed mid-drive (raised by the push that met it and the pushes after it):
    close() returns the events the sensors closed, as a pipeline whose camera never failed;
    a failure no push had raised yet (one at the end of the stream) is raised by close()
    carrying them."""
    ok, ok_pushed, ok_errors = _braking_until_its_end(tmp_path, _EmptyDetector())
    expected = ok.close()
    assert ok_pushed == [] and ok_errors == []
    assert "harsh_braking" in [k[0] for k in _key(expected)]

    broken, pushed, errors = _braking_until_its_end(tmp_path, _BrokenDetector())
    assert pushed == [] and len(errors) == 3
    assert all(e == "push_frame: perception failed: OSError: model file vanished" for e in errors)
    assert _key(broken.close()) == _key(expected)
    assert broken.close() == []

    late, _, _ = _braking_until_its_end(tmp_path, _EmptyDetector())
    assert late._camera is not None
    late._camera.error = OSError("tracker flush failed")  # as a failure in perception's end of stream
    with pytest.raises(PerceptionFailed, match=r"push_frame: perception failed: OSError: tracker flush failed") as info:
        late.close()
    assert isinstance(info.value, RuntimeError) and _key(info.value.events) == _key(expected)
    assert late.close() == []


class _EmptyDetector:
    name = "empty"

    def detect(self, frame: Any) -> Any:
        return Detections.empty()


def _camera_workers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "saferoad-pipeline-camera" and t.is_alive()]


def test_the_camera_worker_ends_with_close_and_with_a_pipeline_never_closed() -> None:
    """A pipeline dropped without close() (a notebook cell re-run) does not leave its worker
    waiting for frames for good; close() ends it too, and a second close() is a no-op."""
    before = set(_camera_workers())
    img = np.zeros((90, 160, 3), np.uint8)
    pipe = saferoad.Pipeline(camera_fps=10.0, detector=_EmptyDetector())
    assert pipe.push_frame(0.0, img) == [] and pipe.push_frame(0.1, img) == []
    (worker,) = set(_camera_workers()) - before
    del pipe
    gc.collect()
    worker.join(timeout=30)
    assert not worker.is_alive()

    pipe = saferoad.Pipeline(camera_fps=10.0, detector=_EmptyDetector())
    assert pipe.push_frame(0.0, img) == []
    (worker,) = set(_camera_workers()) - before
    assert pipe.close() == []
    assert not worker.is_alive()
    assert pipe.close() == []


# -- perception.stride, the turn signal ------------------------------------------------------


@pytest.mark.parametrize("name", ["lead_braking", "lane_departure"])
def test_perception_stride_gives_analyze_events_with_the_same_stride(tmp_path: Path, name: str) -> None:
    """Every frame the camera gives pushed, ``perception.stride = 2``: the pipeline keeps every
    second (by index), the tracker at half the rate, as analyze on the video; same events."""
    simulate(name, tmp_path / name, assignments=SMALL_CAMERA, seed=1, video=True)
    rec = saferoad.open_recording(tmp_path / name)
    strided = {"perception": {"detector": "replay", "stride": 2}}
    pipe = saferoad.Pipeline.like(rec, overrides=strided)
    got = _compare_with_frames(rec, pipe, fps=10.0, overrides=strided)
    want = {"lead_braking": "forward_collision_warning", "lane_departure": "lane_departure"}[name]
    assert want in [e.type.value for _, e in got]
    assert pipe._camera is not None and pipe._camera.road.feed.stats.frames == len(range(0, pipe._frames, 2))


def _push_sensors(pipe: saferoad.Pipeline, rec: saferoad.Recording, chunk_s: float = 0.1) -> list[saferoad.Event]:
    """``rec``'s GPS fixes and IMU samples pushed in ``chunk_s`` chunks (no frames)."""
    assert rec.imu is not None and rec.gps is not None
    imu, gps = rec.imu, rec.gps
    out: list[saferoad.Event] = []
    end = max(float(imu.t_s[-1]), float(gps.t_s[-1]))
    k = 0
    while k * chunk_s <= end:
        a, b = k * chunk_s, (k + 1) * chunk_s
        m = (gps.t_s >= a) & (gps.t_s < b)
        out += pipe.push_gps(gps.t_s[m], gps.lat[m], gps.lon[m], gps.speed_mps[m], gps.course_deg[m], gps.alt_m[m])
        m = (imu.t_s >= a) & (imu.t_s < b)
        out += pipe.push_imu(imu.t_s[m], imu.acc[m], None if imu.gyro is None else imu.gyro[m])
        k += 1
    return out


def test_frames_wait_for_the_speed_even_when_it_comes_after_them(tmp_path: Path) -> None:
    """The streams interleave freely, so a frame waits for the final ego speed at its time
    however late it comes (docs/api.md): the lead-braking drive's frames all pushed before any
    sensor sample are held - one item a frame, its tracked objects - and give analyze's events
    (the forward collision warning included) once the IMU and GPS follow. Released as camera
    time advanced, they would be judged without that speed (measured: the warning lost). With
    no sensor ever pushed they are held until close(), which judges them as analyze judges the
    video with no sensors."""
    simulate("lead_braking", tmp_path / "lb", assignments=SMALL_CAMERA, seed=1, video=True)
    rec = saferoad.open_recording(tmp_path / "lb")
    assert rec.video is not None
    frames = list(analysis_ports().open_frames(rec.video))
    for sensors in (True, False):
        pipe = saferoad.Pipeline.like(rec, overrides=REPLAY)
        held = []
        for f in frames:
            assert pipe.push_frame(f.t_s, f.image) == []
            assert pipe._camera is not None
            held.append(len(pipe._camera.road.waiting))
        assert held == list(range(1, len(frames) + 1))  # every frame perception finished, waiting
        assert all(isinstance(objs, tuple) for _, _, objs in pipe._camera.road.waiting)  # objects, no pixels
        if sensors:
            got = _push_sensors(pipe, rec) + pipe.close()
            want = saferoad.analyze(rec, overrides=REPLAY).events
            assert "forward_collision_warning" in [e.type.value for e in got]
        else:
            got = pipe.close()
            want = saferoad.analyze(replace(rec, imu=None, gps=None, can_speed=None), overrides=REPLAY).events
        _same_events(want, got, 10.0, sensors)
        assert len(pipe._camera.road.waiting) == 0


def _signalled(src: Path, dst: Path, side: int, start_s: float, end_s: float) -> saferoad.Recording:
    """A copy of the recording ``src`` whose can.csv carries the turn signal ``side`` over [start_s, end_s]."""
    shutil.copytree(src, dst)
    speed, _ = read_can_file(dst / "can.csv")
    state = np.zeros(len(speed))
    state[(speed.t_s >= start_s) & (speed.t_s <= end_s)] = side
    write_can_csv(dst / "can.csv", speed, state)
    return saferoad.open_recording(dst)


def test_the_turn_signal_quiets_the_departure_toward_its_side_as_analyze(tmp_path: Path) -> None:
    """The simulator's right drift with the CAN bus: with the right indicator on over it analyze
    drops the departure and so does the pipeline given ``push_turn_signal``; with the left one
    both keep it (the same event); without the signal pushed the pipeline keeps it too."""
    src = tmp_path / "rec"
    assignments = [*SMALL_CAMERA, "duration_s=16", "at_s=4", "direction=right", "can.enabled=true"]
    simulate("lane_departure", src, assignments=assignments, seed=5)
    (label,) = [lb for lb in saferoad.open_recording(src).labels or () if lb.type == "lane_departure"]
    for side, want in ((1, []), (-1, ["lane_departure"])):
        rec = _signalled(src, tmp_path / f"rec{side}", side, label.start_s - 1.0, label.end_s)
        assert rec.turn_signal is not None
        got = _compare_with_frames(rec, saferoad.Pipeline.like(rec, overrides=REPLAY), fps=10.0)
        assert [e.type.value for _, e in got] == want, side
    # the signal not pushed: the departure stands (the quiet is the signal's doing)
    unsignalled = replace(rec, turn_signal=None)
    got = _compare_with_frames(unsignalled, saferoad.Pipeline.like(unsignalled, overrides=REPLAY), fps=10.0)
    assert [e.type.value for _, e in got] == ["lane_departure"]


def test_bad_turn_signal_is_a_value_error_naming_the_field() -> None:
    pipe = saferoad.Pipeline()
    assert pipe.push_turn_signal([0.0, 0.1], [0, -1]) == []
    with pytest.raises(ValueError, match=r"push_turn_signal: state\[1\] = 2 is not -1 \(left\), 0 \(off\) or 1 \(right\)"):
        pipe.push_turn_signal([0.2, 0.3], [1, 2])
    with pytest.raises(ValueError, match=r"push_turn_signal: state\[0\] = nan is not -1"):
        pipe.push_turn_signal([0.2], [float("nan")])
    with pytest.raises(ValueError, match=r"push_turn_signal: state has shape \(1,\), expected \(2,\)"):
        pipe.push_turn_signal([0.2, 0.3], [1])
    with pytest.raises(ValueError, match=r"push_turn_signal: t_s\[0\] = 0\.100 s is not after the previous turn_signal sample"):
        pipe.push_turn_signal([0.1], [0])
    assert pipe.push_turn_signal(0.2, 1) == []  # the rejected chunks changed nothing
    assert pipe.close() == []
    with pytest.raises(ValueError, match=r"push_turn_signal: the pipeline is closed"):
        pipe.push_turn_signal([0.5], [0])


# -- review: frames the caller reuses, a close that fails ---------------------------------------


class _ParallelProbe:
    """A frame-parallel detector (as the ONNX one: ``perception.workers`` frames at once) that
    notes, per frame, the pixel it saw and whether the image is the caller's own buffer. Frame
    0's inference waits for :attr:`gate` (a slow first inference, made certain)."""

    name = "probe"

    def __init__(self, buffer: np.ndarray) -> None:
        self.buffer = buffer
        self.seen: dict[int, tuple[int, bool]] = {}
        self.lock = threading.Lock()
        self.gate = threading.Event()

    def frame_parallel(self) -> Any:
        return contextlib.nullcontext()

    def detect(self, frame: Any) -> Any:
        if frame.index == 0:
            assert self.gate.wait(timeout=60)
        with self.lock:
            self.seen[frame.index] = (int(frame.image[0, 0, 0]), bool(np.shares_memory(frame.image, self.buffer)))
        return Detections.empty()


def test_a_frame_buffer_the_caller_refills_does_not_reach_frames_in_flight() -> None:
    """A camera loop reads every frame into one buffer; with a frame-parallel detector up to 2 x
    ``perception.workers`` frames are still in flight when a push returns: each frame is
    analysed with its own pixels, never the buffer's later contents (frame 0 is inferred only
    once frame 2 has been written over it: 6 frames may be in flight with 3 workers)."""
    buffer = np.zeros((90, 160, 3), np.uint8)
    probe = _ParallelProbe(buffer)
    pipe = saferoad.Pipeline(camera_fps=10.0, detector=probe, overrides={"perception": {"workers": 3}})
    for i in range(20):
        buffer[:] = i
        assert pipe.push_frame(0.1 * i, buffer) == []
        if i == 2:
            probe.gate.set()
    assert pipe.close() == []
    assert probe.seen == {i: (i, False) for i in range(20)}


def test_a_close_that_fails_still_ends_the_camera_worker() -> None:
    before = set(_camera_workers())
    pipe = saferoad.Pipeline(camera_fps=10.0, detector=_EmptyDetector())
    assert pipe.push_frame(0.0, np.zeros((90, 160, 3), np.uint8)) == []
    (worker,) = set(_camera_workers()) - before

    def broken() -> list[saferoad.Event]:
        raise ArithmeticError("rule failed at the end")

    pipe._motion.finish = broken  # type: ignore[method-assign]
    with pytest.raises(ArithmeticError, match="rule failed at the end"):
        pipe.close()
    assert not worker.is_alive()  # the pipeline is still referenced: not the finalizer's doing
    assert pipe.close() == []


# -- the cabin camera ------------------------------------------------------------------------


def _gif_frames(path: Path) -> list[np.ndarray]:
    src = analysis_ports().open_frames(path)
    try:
        return [f.image for f in src]
    finally:
        src.close()


@pytest.mark.shared
def test_cabin_frames_pushed_one_by_one_give_analyze_cabin_events(shared_dir: Path, tmp_path: Path) -> None:
    """The cabin recording tests/edge/test_edge_equals_batch.py streams, shortened (the shared
    clips: the man's open eyes back and forth, his blink's closed frame held 2 s, the reopening;
    6 s of a covered lens, 1 s of open eyes; without the female clip's turning, which gives no
    event there) with a GPS at 54 km/h: its cabin.mp4 decoded and pushed frame by frame, each
    after the GPS fixes up to its time, gives analyze's cabin events (drowsiness,
    camera_obstructed: types, times within a frame, severities, evidence). 205 frames through
    the face pipeline twice (analyze, pipeline) are the test's cost."""
    cabin = shared_dir / "data" / "cabin"
    fm = _gif_frames(cabin / "head-pose-face-detection-female-and-male.gif")
    female = _gif_frames(cabin / "head-pose-face-detection-female.gif")
    baseline = fm[41::-1] + fm[:42]  # the edge test's cabin_closure (measured there)
    seq = baseline + [fm[42]] * 24 + fm[43:] + [np.zeros_like(female[0])] * 72 + baseline[-12:]
    fps = 12.0
    rec_dir = tmp_path / "rec"
    rec_dir.mkdir()
    (rec_dir / "meta.toml").write_text(
        "[recording]\nstart_utc = 2026-11-20T08:15:00Z\n\n[cabin_camera]\nwidth = 480\nheight = 270\nhfov_deg = 60.0\n"
    )
    (rec_dir / "gps.csv").write_text("t_s,lat,lon,speed_mps,course_deg,alt_m\n" + "".join(
        f"{t:.1f},35.0,{139.0 + t * 1.5e-4:.6f},15.0,90.0,10.0\n" for t in np.arange(0.0, len(seq) / fps + 1.0, 0.5)
    ))  # fmt: skip
    encode_video(rec_dir / "cabin.mp4", iter(seq), fps, 480, 270, crf=12, preset="veryfast")  # the eyes stay legible
    rec = saferoad.open_recording(rec_dir)
    assert rec.cabin_video is not None and rec.gps is not None
    res = saferoad.analyze(rec)
    batch = sorted((e for e in res.events if spec(e.type).family is Family.CABIN), key=lambda e: e.start_s)
    assert [e.type.value for e in batch] == ["drowsiness", "camera_obstructed"]

    pipe = saferoad.Pipeline.like(rec)
    gps, g = rec.gps, 0
    got: list[saferoad.Event] = []
    src = analysis_ports().cabin.open_video(rec.cabin_video)
    try:
        for f in src:
            h = int(np.searchsorted(gps.t_s, f.t_s, side="right"))
            got += pipe.push_gps(gps.t_s[g:h], gps.lat[g:h], gps.lon[g:h], gps.speed_mps[g:h], gps.course_deg[g:h], gps.alt_m[g:h])
            g = h
            got += pipe.push_cabin_frame(f.t_s, f.image)
    finally:
        src.close()
    during = [e.type.value for e in got if spec(e.type).family is Family.CABIN]
    got += pipe.push_gps(gps.t_s[g:], gps.lat[g:], gps.lon[g:], gps.speed_mps[g:], gps.course_deg[g:], gps.alt_m[g:])
    got += pipe.close()
    _same_events(batch, [e for e in got if spec(e.type).family is Family.CABIN], fps, rec_dir)
    # both episodes ended before the drive did: each came from the push that completed it
    assert during == ["drowsiness", "camera_obstructed"]


def test_bad_cabin_frames_are_value_errors_naming_the_field() -> None:
    pipe = saferoad.Pipeline()
    img = np.zeros((90, 160, 3), np.uint8)
    with pytest.raises(ValueError, match=r"push_cabin_frame: image is uint8 of shape \(90, 160\), expected H x W x 3"):
        pipe.push_cabin_frame(0.0, img[:, :, 0])
    with pytest.raises(ValueError, match=r"push_cabin_frame: t_s = inf is not a finite time"):
        pipe.push_cabin_frame(float("inf"), img)
    assert pipe.push_cabin_frame(0.0, img) == []
    with pytest.raises(ValueError, match=r"push_cabin_frame: t_s = 0\.000 s is not after the previous frame"):
        pipe.push_cabin_frame(0.0, img)
    with pytest.raises(ValueError, match=r"push_cabin_frame: image has shape \(45, 80, 3\), but the first frame's was \(90, 160, 3\)"):
        pipe.push_cabin_frame(0.1, img[::2, ::2])
    with pytest.raises(ValueError, match=r"push_cabin_frame: index 0 is not after the previous frame's \(0\)"):
        pipe.push_cabin_frame(0.1, img, index=0)
    assert pipe.push_cabin_frame(0.1, img) == []  # the rejected frames changed nothing
    pipe.close()
    with pytest.raises(ValueError, match=r"push_cabin_frame: the pipeline is closed"):
        pipe.push_cabin_frame(0.2, img)


# -- early alerts ----------------------------------------------------------------------------


def _early_vs_analyze(rec: saferoad.Recording, chunk_s: float = 0.3) -> int:
    res = saferoad.analyze(replace(rec, video=None, detections=None))
    pipe = saferoad.Pipeline.like(rec)
    early: list[tuple[float, saferoad.Event]] = []
    final = _feed(pipe, rec, chunk_s, early)
    e = pipe.config.edge
    assert e.motion_early_alert_s is not None
    for t, ev in early:
        assert e.motion_early_alert_s <= t - ev.end_s <= e.motion_early_alert_s + e.motion_hop_s + chunk_s + 1e-9, (rec.path, t, ev)
        for events in (res.events, final):
            assert any(b.type == ev.type and b.start_s <= ev.end_s and ev.start_s <= b.end_s for b in events), (rec.path, ev)
    return len(early)


def test_early_alerts_come_before_the_final_events_and_analyze_has_them(tmp_path: Path, shared_dir: Path) -> None:
    """``take_early`` after every push, on every simulator scenario and the shared trip 17: each
    early alert comes ``edge.motion_early_alert_s`` to that + a hop (+ the chunk) after its
    end, and analyze has an event of its type overlapping it, as has the pipeline's final list
    (none retracted, as docs/edge.md measured on the recorder)."""
    n = 0
    for name in SCENARIOS:
        simulate(name, tmp_path / name, assignments=[], seed=1, video=False)
        n += _early_vs_analyze(saferoad.open_recording(tmp_path / name))
    assert n >= 5
    assert _early_vs_analyze(saferoad.open_recording(shared_dir / "data" / "imu" / "driver-behavior-dataset" / "trip17")) >= 10


def test_early_alerts_not_taken_are_dropped_after_a_window(tmp_path: Path) -> None:
    """A caller that never takes them: an early alert older than ``edge.motion_window_s`` is
    dropped (the pipeline's state stays a window's), one taken in time is returned once."""
    simulate("harsh_braking", tmp_path / "hb", assignments=[], seed=1, video=False)
    rec = saferoad.open_recording(tmp_path / "hb")
    imu = rec.imu
    assert imu is not None
    pipe = saferoad.Pipeline.like(rec)
    for i in range(0, len(imu), 25):
        pipe.push_imu(imu.t_s[i : i + 25], imu.acc[i : i + 25], None if imu.gyro is None else imu.gyro[i : i + 25])
    (braking,) = pipe.take_early()
    assert braking.type is saferoad.EventType.HARSH_BRAKING and pipe.take_early() == []
    # again, not taken: a minute of standing still later (gravity only) it is gone
    pipe = saferoad.Pipeline.like(rec)
    for i in range(0, len(imu), 25):
        pipe.push_imu(imu.t_s[i : i + 25], imu.acc[i : i + 25], None if imu.gyro is None else imu.gyro[i : i + 25])
    t = imu.t_s[-1] + (np.arange(1, 100 * int(pipe.config.edge.motion_window_s + 5)) / 100.0)
    still = np.tile(imu.acc[-1], (len(t), 1))
    gyro = None if imu.gyro is None else np.zeros((len(t), 3))
    pipe.push_imu(t, still, gyro)
    assert pipe.take_early() == []
    pipe.close()


def test_an_early_alert_not_taken_is_dropped_even_behind_a_longer_one() -> None:
    """Early alerts in the order the motion engine gave them: a long cornering (until 50 s),
    then a braking that ended at 5 s. A window after the braking's end it is dropped and the
    cornering kept; before, only the oldest was looked at, and the braking stayed until the
    cornering left the window too (the recorder's _retract_early had the same fault)."""
    pipe = saferoad.Pipeline()
    long = saferoad.Event(saferoad.EventType.HARSH_CORNERING, 0.0, 50.0, Severity.MEDIUM, 0.9)
    short = saferoad.Event(saferoad.EventType.HARSH_BRAKING, 1.0, 5.0, Severity.MEDIUM, 0.9)
    given = [[long, short]]
    pipe._motion.take_provisional = lambda: given.pop() if given else []  # type: ignore[method-assign]
    t = 5.0 + pipe.config.edge.motion_window_s + 1.0  # the braking left the window, the cornering did not
    pipe.push_imu([t], [[0.0, 0.0, 9.81]])
    assert given == [] and pipe.take_early() == [long]
    pipe.close()

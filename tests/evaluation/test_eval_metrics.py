"""Metrics: additive statistics, bootstrap intervals, box metrics through pycocotools and
motmetrics, the result cache's keys and atomicity."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from saferoad.application.evaluation.boxes import map50, mot_stats, read_box_labels
from saferoad.application.evaluation.cache import (
    ResultCache,
    analysis_fingerprint,
    content_hash,
    result_key,
)
from saferoad.application.evaluation.scoring import (
    bootstrap_weights,
    compute_metrics,
)
from saferoad.config import load_config
from saferoad.config.evaluation import EvaluationConfig
from saferoad.domain.matching import PRF
from saferoad.entrypoints.wiring import read_boxes


def _stats(rows: list[tuple[int, int, int]]) -> pd.DataFrame:
    return pd.DataFrame(
        [
            {"ev.labelled": 1.0, "ev.harsh_braking.tp": tp, "ev.harsh_braking.fp": fp,
             "ev.harsh_braking.fn": fn, "ev.harsh_braking.labels": tp + fn, "ev.labels": tp + fn,
             "ev.start_abs_sum": 0.5 * tp, "ev.end_abs_sum": 0.25 * tp, "ev.matched": tp,
             "ev.normals": 0.0, "ev.normals_flagged": 0.0}
            for tp, fp, fn in rows
        ]
    )


@settings(max_examples=50, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 5), st.integers(0, 5), st.integers(0, 5)), min_size=1, max_size=12))
def test_property_point_metrics_equal_the_matchers_prf(rows: list[tuple[int, int, int]]) -> None:
    m = compute_metrics(_stats(rows), ["harsh_braking"], EvaluationConfig(), None).set_index("metric")
    prf = sum((PRF(*r) for r in rows), PRF(0, 0, 0))
    assert m.loc["events.precision", "value"] == pytest.approx(prf.precision)
    assert m.loc["events.recall", "value"] == pytest.approx(prf.recall)
    assert m.loc["events.f1", "value"] == pytest.approx(prf.f1)
    assert m.loc["events.harsh_braking.f1", "value"] == pytest.approx(prf.f1)
    assert m.loc["events.harsh_braking.f1", "support"] == prf.tp + prf.fn


def test_bootstrap_is_seeded_and_brackets_the_point() -> None:
    rows = [(3, 1, 0), (2, 0, 1), (0, 2, 2), (4, 0, 0), (1, 1, 1)] * 4
    w1 = bootstrap_weights(len(rows), 500, 7)
    w2 = bootstrap_weights(len(rows), 500, 7)
    assert np.array_equal(w1, w2)
    assert (w1.sum(axis=1) == len(rows)).all()
    m = compute_metrics(_stats(rows), ["harsh_braking"], EvaluationConfig(), w1).set_index("metric")
    f1 = m.loc["events.f1"]
    assert f1["ci_low"] < f1["value"] < f1["ci_high"]
    assert m.loc["events.start_error_mae_s", "value"] == pytest.approx(0.5)


def _boxes(rows: list[tuple[int, int, str, float, float, float, float, float]]) -> pd.DataFrame:
    return pd.DataFrame(
        [(f, tid, c, 0.9, x1, y1, x2, y2, d) for f, tid, c, x1, y1, x2, y2, d in rows],
        columns=["frame", "track_id", "cls", "score", "x1", "y1", "x2", "y2", "distance_m"],
    )


def test_box_metrics_perfect_and_degraded() -> None:
    gt_rows = [(f, 1, "vehicle", 100 + f, 100, 200 + f, 180, 20.0 - f) for f in range(10)]
    gt_rows += [(f, 2, "person", 400, 120, 440, 220, 12.0) for f in range(10)]
    gt = _boxes(gt_rows)
    s = mot_stats(gt, gt, 0.5)
    assert s["mot.gt"] == 20 and s["mot.fp"] == s["mot.fn"] == s["mot.idsw"] == 0
    assert s["dist.n"] == 20 and s["dist.abs_sum"] == 0
    assert map50({"r": gt}, {"r": gt}) == pytest.approx(1.0)
    # Predictions: the person is never found; the car's distance is 10 % long; the car's id
    # changes half-way (one identity switch).
    pred = _boxes([(f, 1 if f < 5 else 7, "vehicle", 100 + f, 100, 200 + f, 180, 1.1 * (20.0 - f)) for f in range(10)])
    s = mot_stats(gt, pred, 0.5)
    assert (s["mot.gt"], s["mot.fn"], s["mot.fp"], s["mot.idsw"]) == (20, 10, 0, 1)
    assert s["dist.n"] == 10
    assert s["dist.rel_sum"] / s["dist.n"] == pytest.approx(0.1)
    assert map50({"r": gt}, {"r": pred}) == pytest.approx(0.5)  # car AP 1, person AP 0
    # A box of the wrong class never matches.
    wrong = pred.assign(cls="bicycle")
    assert mot_stats(gt, wrong, 0.5)["mot.fn"] == 20


def test_read_box_labels_detections_json_and_mot(tmp_path: Path) -> None:
    doc = {"frames": [{"frame": 0, "t_s": 0.0, "objects": [
        {"track_id": 3, "cls": "vehicle", "score": 1.0, "xyxy": [1, 2, 11, 22], "distance_m": 24.5}]}]}
    p = tmp_path / "detections.json"
    p.write_text(json.dumps(doc))
    df = read_box_labels(p, read_boxes)
    assert df.iloc[0][["frame", "track_id", "cls", "x2", "distance_m"]].tolist() == [0, 3, "vehicle", 11.0, 24.5]
    mot = tmp_path / "gt.txt"
    mot.write_text("1,4,10,20,30,40,1,-1,-1\n2,4,12,20,30,40,0,-1,-1\n")
    df = read_box_labels(mot, read_boxes)
    assert len(df) == 1 and df.iloc[0]["y2"] == 60.0 and math.isnan(df.iloc[0]["distance_m"])
    assert df.iloc[0]["frame"] == 0  # MOT frame 1 is video frame index 0 (tracks.parquet)


# The file formats' own checks are the replay parser's (tests/perception/test_perception_replay.py);
# these show its errors reach evaluation naming the file, and the checks read_box_labels adds.
@pytest.mark.parametrize(
    ("content", "match"),
    [
        ('{"frames": [', r"detections\.json:1: not valid JSON"),
        ('{"frames": [{"frame": 0, "objects": [{"cls": "tram", "xyxy": [1, 2, 3, 4]}]}]}', r"objects\[0\]: cls 'tram' is not one of"),
        ('{"frames": [{"frame": 0, "objects": [{"cls": "vehicle", "xyxy": [1, 2, 1, 4]}]}]}', r"has x2 <= x1 or y2 <= y1"),
        ('{"frames": [{"frame": 0, "objects": [{"cls": "vehicle", "xyxy": [1, 2, 3, 4], "track_id": "x"}]}]}', r"frame 0: track_id 'x' is not an integer"),
    ],
)
def test_malformed_box_labels(tmp_path: Path, content: str, match: str) -> None:
    p = tmp_path / "detections.json"
    p.write_text(content)
    with pytest.raises(ValueError, match=match) as err:
        read_box_labels(p, read_boxes)
    assert str(p) in str(err.value)


@pytest.mark.parametrize(
    ("line", "match"),
    [
        ("1,x,1,1,1,1,1", r"gt\.txt:2: fields must be numbers"),
        ("1,1,1,1,1,1,1,13,1", r"gt\.txt:2: unknown MOT class 13"),
    ],
)
def test_malformed_mot_line(tmp_path: Path, line: str, match: str) -> None:
    p = tmp_path / "gt.txt"
    p.write_text("1,1,1,1,1,1,1\n" + line + "\n")
    with pytest.raises(ValueError, match=match):
        read_box_labels(p, read_boxes)


def test_mot_classes_read_as_the_replay_detector_reads_them(tmp_path: Path) -> None:
    """Box labels and a replay of the same gt.txt agree box for box: MOT class ids mapped
    (1 pedestrian -> person, 3 car -> vehicle, 4 bicycle, 8 distractor dropped), no class
    column -> person, conf 0 dropped, frames 1-based read 0-based."""
    from saferoad.adapters.replay import load_labels

    mot = tmp_path / "gt.txt"
    mot.write_text(
        "1,1,10,20,30,40,1,1,1\n"
        "1,2,50,20,30,40,1,3,1\n"
        "2,3,10,20,30,40,1,4,0.5\n"
        "2,4,90,20,30,40,1,8,1\n"
        "3,5,10,20,30,40,0,3,1\n"
        "3,6,10,20,30,40,1,-1,-1\n"
    )
    df = read_box_labels(mot, read_boxes)
    got = list(zip(df["frame"], df["track_id"], df["cls"], strict=True))
    assert got == [(0, 1, "person"), (0, 2, "vehicle"), (1, 3, "bicycle"), (2, 6, "person")]
    assert (df["score"] == 1.0).all()
    replay = load_labels(mot).frames
    assert [(f, c.value) for f in sorted(replay) for c in replay[f].classes] == [
        (f, c) for f, _, c in got
    ]


def test_cache_keys_and_atomic_store(tmp_path: Path) -> None:
    rec = tmp_path / "rec"
    rec.mkdir()
    (rec / "imu.csv").write_text("t_s,ax\n0,1\n")
    (rec / ".hidden").write_text("ignored")
    h1 = content_hash(rec)
    (rec / ".hidden").write_text("still ignored")
    assert content_hash(rec) == h1
    (rec / "imu.csv").write_text("t_s,ax\n0,2\n")
    assert content_hash(rec) != h1
    base = load_config()
    # The evaluation section changes scoring, not analyze: same fingerprint.
    assert analysis_fingerprint(base) == analysis_fingerprint(
        load_config(overrides={"evaluation": {"gate_tolerance": 0.5}})
    )
    assert analysis_fingerprint(base) != analysis_fingerprint(
        load_config(overrides={"motion": {"braking_g": 0.5}})
    )
    assert result_key("a", "b", "c") != result_key("a", "b", "d")
    cache = ResultCache(tmp_path / "cache")
    assert not cache.has("abcdef")
    cache.put("abcdef", {"events.jsonl": b"{}\n"}, {"x": 1})
    assert cache.has("abcdef") and cache.load_meta("abcdef") == {"x": 1}
    # Leftovers of a killed run are removed; finished results are kept.
    (cache.root / "ab" / ".tmp-abc123-xyz").mkdir()
    (cache.root / "zz" / "zz99").mkdir(parents=True)
    assert cache.clean_partial() == 2
    assert cache.has("abcdef")
    with pytest.raises(ValueError, match="bad result file name"):
        cache.put("abcdef", {"../x": b""}, {})
    assert cache.has("abcdef")


def test_gate_metric_names_are_checked() -> None:
    from saferoad.config import ConfigError

    ok = load_config(overrides={"evaluation": {"gate_metrics": ["events.harsh_braking.f1", "tracking.mota"]}})
    assert ok.evaluation.gate_metrics == ["events.harsh_braking.f1", "tracking.mota"]
    with pytest.raises(ConfigError, match=r"evaluation\.gate_metrics: .*events\.F1"):
        load_config(overrides={"evaluation": {"gate_metrics": ["events.F1"]}})


_box = st.tuples(
    st.floats(0, 1000), st.floats(0, 1000), st.floats(0.5, 200), st.floats(0.5, 200),
    st.sampled_from(["vehicle", "person", "bicycle", "traffic_light", "stop_sign"]),
    st.one_of(st.none(), st.floats(0.5, 150)),
)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.lists(_box, max_size=4), min_size=1, max_size=6))
def test_property_detections_json_round_trip(frames: list[list[tuple[float, float, float, float, str, float | None]]]) -> None:
    import tempfile

    doc = {"frames": [
        {"frame": k, "t_s": k / 10, "objects": [
            {"track_id": j, "cls": c, "score": 1.0, "xyxy": [x, y, x + w, y + h], "distance_m": d}
            for j, (x, y, w, h, c, d) in enumerate(objs)
        ]}
        for k, objs in enumerate(frames)
    ]}
    with tempfile.TemporaryDirectory() as tmp:
        p = Path(tmp) / "detections.json"
        p.write_text(json.dumps(doc))
        df = read_box_labels(p, read_boxes)
    flat = [(k, j, c, x, y, x + w, y + h, d) for k, objs in enumerate(frames) for j, (x, y, w, h, c, d) in enumerate(objs)]
    assert len(df) == len(flat)
    for row, (k, j, c, x1, y1, x2, y2, d) in zip(df.to_dict("records"), flat, strict=True):
        assert (row["frame"], row["track_id"], row["cls"]) == (k, j, c)
        assert [row["x1"], row["y1"], row["x2"], row["y2"]] == [x1, y1, x2, y2]
        assert (math.isnan(row["distance_m"]) if d is None else row["distance_m"] == d)

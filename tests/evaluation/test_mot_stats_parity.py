"""The array formulation of ``mot_stats`` gives motmetrics the same per-frame input as the plain
per-frame pandas formulation it replaced (kept here as the reference), so every count is
identical and the distance sums agree to rounding, on tables with what real runs have: several
classes, frames with only labels or only predictions, identity switches, false positives,
missing distances, rows out of frame order and a repeated (frame, track) pair."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from saferoad.application.evaluation.boxes import BOX_COLUMNS, iou_distance, mot_stats


def _reference(gt: pd.DataFrame, pred: pd.DataFrame, iou_threshold: float) -> dict[str, float]:
    import motmetrics as mm

    acc = mm.MOTAccumulator(auto_id=False)
    frames = sorted(set(gt["frame"].tolist()) | set(pred["frame"].tolist()))
    g_by = dict(tuple(gt.groupby("frame")))
    p_by = dict(tuple(pred.groupby("frame")))
    empty = gt.iloc[0:0]
    gdist: dict[tuple[int, int], float] = {}
    pdist: dict[tuple[int, int], float] = {}
    for f in frames:
        g = g_by.get(f, empty)
        p = p_by.get(f, empty)
        dist = iou_distance(g[["x1", "y1", "x2", "y2"]].to_numpy(float), p[["x1", "y1", "x2", "y2"]].to_numpy(float), iou_threshold)
        if len(g) and len(p):
            dist = np.where(g["cls"].to_numpy()[:, None] == p["cls"].to_numpy()[None, :], dist, np.nan)
        gids = g["track_id"].astype(int).tolist()
        pids = p["track_id"].astype(int).tolist()
        acc.update(gids, pids, dist, frameid=int(f))
        for tid, d in zip(gids, g["distance_m"].tolist(), strict=True):
            gdist[(int(f), tid)] = d
        for tid, d in zip(pids, p["distance_m"].tolist(), strict=True):
            pdist[(int(f), tid)] = d
    s = mm.metrics.create().compute(
        acc, metrics=["num_objects", "num_false_positives", "num_misses", "num_switches", "idtp", "idfp", "idfn"], name="r"
    ).iloc[0]
    out = {
        "mot.gt": float(s["num_objects"]), "mot.fp": float(s["num_false_positives"]),
        "mot.fn": float(s["num_misses"]), "mot.idsw": float(s["num_switches"]),
        "mot.idtp": float(s["idtp"]), "mot.idfp": float(s["idfp"]), "mot.idfn": float(s["idfn"]),
    }  # fmt: skip
    n = abs_sum = rel_sum = 0.0
    ev = acc.mot_events
    matched = ev[ev["Type"].isin(["MATCH", "SWITCH"])]
    for frame, oid, hid in zip(matched.index.get_level_values(0), matched["OId"], matched["HId"], strict=True):
        gd = gdist.get((int(frame), int(oid)), math.nan)
        pd_ = pdist.get((int(frame), int(hid)), math.nan)
        if math.isfinite(gd) and math.isfinite(pd_) and gd > 0:
            n += 1
            abs_sum += abs(pd_ - gd)
            rel_sum += abs(pd_ - gd) / gd
    out.update({"dist.n": n, "dist.abs_sum": abs_sum, "dist.rel_sum": rel_sum})
    return out


def _tables(seed: int, n_frames: int = 240, n_obj: int = 6) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    g: list[tuple[object, ...]] = []
    p: list[tuple[object, ...]] = []
    for o in range(n_obj):
        start = int(rng.integers(0, n_frames // 2))
        end = min(n_frames, start + int(rng.integers(20, n_frames)))
        x, y, w = rng.uniform(0, 1000), rng.uniform(0, 500), rng.uniform(30, 120)
        cls = ("vehicle", "person", "stop_sign")[o % 3]
        pid = 100 + o
        for f in range(start, end):
            x += rng.normal(0, 2)
            d = 20.0 + 5 * o - 0.01 * f if rng.random() > 0.05 else math.nan
            g.append((f, o, cls, 1.0, x, y, x + w, y + 0.8 * w, d))
            if rng.random() < 0.85:
                if rng.random() < 0.02:
                    pid += 1000  # an identity switch
                j = rng.normal(0, 4, 4)
                pcls = cls if rng.random() > 0.03 else "bicycle"  # now and then the wrong class
                pd_ = d * (1 + rng.normal(0, 0.05)) if rng.random() > 0.1 else math.nan
                p.append((f, pid, pcls, 0.8, x + j[0], y + j[1], x + w + j[2], y + 0.8 * w + j[3], pd_))
    for k in range(n_frames // 8):  # false positives, some in frames without labels
        f = int(rng.integers(0, n_frames + 20))
        x = rng.uniform(0, 1000)
        p.append((f, 5000 + k, "vehicle", 0.4, x, 100, x + 50, 140, 30.0))
    gt, pred = pd.DataFrame(g, columns=BOX_COLUMNS), pd.DataFrame(p, columns=BOX_COLUMNS)
    pred = pd.concat([pred, pred.iloc[[3]].assign(distance_m=99.0)], ignore_index=True)  # a repeated pair
    return gt.sample(frac=1.0, random_state=seed), pred.sample(frac=1.0, random_state=seed + 1)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_same_counts_and_distance_sums_as_the_per_frame_reference(seed: int) -> None:
    gt, pred = _tables(seed)
    # the reference groups by frame; within a frame both keep the rows' table order
    gt_s, pred_s = gt.sort_values("frame", kind="stable"), pred.sort_values("frame", kind="stable")
    want = _reference(gt_s, pred_s, 0.5)
    got = mot_stats(gt, pred, 0.5)
    assert want["mot.idsw"] > 0 and want["mot.fp"] > 0 and want["dist.n"] > 0  # the data exercise them
    for key in ("mot.gt", "mot.fp", "mot.fn", "mot.idsw", "mot.idtp", "mot.idfp", "mot.idfn", "dist.n"):
        assert got[key] == want[key], key
    assert got["dist.abs_sum"] == pytest.approx(want["dist.abs_sum"], rel=1e-9)
    assert got["dist.rel_sum"] == pytest.approx(want["dist.rel_sum"], rel=1e-9)


def test_empty_predictions_and_empty_labels() -> None:
    gt, pred = _tables(3)
    none = pred.iloc[0:0]
    s = mot_stats(gt, none, 0.5)
    assert s["mot.fn"] == s["mot.gt"] == len(gt) and s["mot.fp"] == 0 and s["dist.n"] == 0
    s = mot_stats(gt.iloc[0:0], pred, 0.5)
    assert s["mot.gt"] == 0 and s["mot.fp"] == len(pred)


def test_box_stats_are_kept_beside_the_result_and_keyed_by_labels_and_iou(tmp_path: Path) -> None:
    from saferoad.application.evaluation.scoring import cached_mot_stats

    gt, pred = _tables(4)
    labels = tmp_path / "gt.csv"  # the key hashes the labels file's bytes, whatever its format
    gt.to_csv(labels, index=False)
    result = tmp_path / "result"
    result.mkdir()
    first = cached_mot_stats(result, labels, gt, pred, 0.5)
    assert first == pytest.approx(mot_stats(gt, pred, 0.5))
    (kept,) = result.glob("box_stats-*.json")
    # the second call reads the file: shown by a value written there
    doctored = {**json.loads(kept.read_text()), "mot.idsw": 12345.0}
    kept.write_text(json.dumps(doctored))
    assert cached_mot_stats(result, labels, gt, pred, 0.5)["mot.idsw"] == 12345.0
    # another IoU threshold, or other label bytes, is another entry
    assert cached_mot_stats(result, labels, gt, pred, 0.7)["mot.idsw"] != 12345.0
    labels.write_text(labels.read_text() + "\n")
    assert cached_mot_stats(result, labels, gt, pred, 0.5)["mot.idsw"] == first["mot.idsw"]
    assert len(list(result.glob("box_stats-*.json"))) == 3
    # an unreadable or partial entry is recomputed
    kept.write_text("{")
    assert cached_mot_stats(result, labels, gt, pred, 0.5) == pytest.approx(first)

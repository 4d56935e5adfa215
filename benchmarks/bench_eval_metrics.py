"""Box metrics of an evaluation: ``mot_stats`` per recording against the per-frame pandas
formulation it replaced (the baseline, kept below), and reading the statistics kept beside a
cached result (``cached_mot_stats``), all in the same run on the same tables.

    .venv/bin/python benchmarks/bench_eval_metrics.py [--recordings 60] [--frames 400] [--objects 2]

The tables have the shape of a simulated trip's (``saferoad simulate``: about 400 frames of
one to a few road users): labels with a track each, predictions with jitter, misses, identity
switches, wrong classes and false positives. The issue's figure: ``evaluate --baseline
--candidate`` on 200 simulated trips spent 51 of 61 s in ``mot_stats`` (400 recordings scored).
"""

from __future__ import annotations

import argparse
import math
import os
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

from saferoad.application.evaluation.boxes import BOX_COLUMNS, iou_distance, mot_stats
from saferoad.application.evaluation.scoring import cached_mot_stats


def reference_mot_stats(gt: pd.DataFrame, pred: pd.DataFrame, iou_threshold: float) -> dict[str, float]:
    """The formulation before issue 19: per-frame pandas selections fed to motmetrics."""
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
    out = {"mot.gt": float(s["num_objects"]), "mot.idsw": float(s["num_switches"]), "mot.idtp": float(s["idtp"])}
    ev = acc.mot_events
    matched = ev[ev["Type"].isin(["MATCH", "SWITCH"])]
    n = 0.0
    for frame, oid, hid in zip(matched.index.get_level_values(0), matched["OId"], matched["HId"], strict=True):
        gd = gdist.get((int(frame), int(oid)), math.nan)
        pd_ = pdist.get((int(frame), int(hid)), math.nan)
        n += math.isfinite(gd) and math.isfinite(pd_) and gd > 0
    out["dist.n"] = n
    return out


def tables(seed: int, n_frames: int, n_obj: int) -> tuple[pd.DataFrame, pd.DataFrame]:
    rng = np.random.default_rng(seed)
    g: list[tuple[object, ...]] = []
    p: list[tuple[object, ...]] = []
    for o in range(n_obj):
        start = int(rng.integers(0, n_frames // 3))
        end = min(n_frames, start + int(rng.integers(n_frames // 3, n_frames)))
        x, y, w = rng.uniform(0, 1000), rng.uniform(0, 500), rng.uniform(30, 120)
        cls = ("vehicle", "person", "stop_sign")[o % 3]
        pid = 100 + o
        for f in range(start, end):
            x += rng.normal(0, 2)
            d = 20.0 + 5 * o - 0.01 * f
            g.append((f, o, cls, 1.0, x, y, x + w, y + 0.8 * w, d))
            if rng.random() < 0.9:
                if rng.random() < 0.01:
                    pid += 1000
                j = rng.normal(0, 4, 4)
                p.append((f, pid, cls, 0.8, x + j[0], y + j[1], x + w + j[2], y + 0.8 * w + j[3], d * (1 + rng.normal(0, 0.05))))
    for k in range(n_frames // 20):
        f = int(rng.integers(0, n_frames))
        x = rng.uniform(0, 1000)
        p.append((f, 5000 + k, "vehicle", 0.4, x, 100, x + 50, 140, 30.0))
    return pd.DataFrame(g, columns=BOX_COLUMNS), pd.DataFrame(p, columns=BOX_COLUMNS)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--recordings", type=int, default=60)
    ap.add_argument("--frames", type=int, default=400)
    ap.add_argument("--objects", type=int, default=2)
    args = ap.parse_args()
    load = os.getloadavg()
    print(f"cores: {os.cpu_count()}; load average {load[0]:.1f} (other jobs share the cores: compare within a run)")
    data = [tables(i, args.frames, args.objects) for i in range(args.recordings)]
    rows = sum(len(g) + len(p) for g, p in data) / len(data)
    tmp = Path(tempfile.mkdtemp(prefix="bench-eval-metrics-"))
    labels = []
    for i, (g, _) in enumerate(data):
        (tmp / f"r{i}").mkdir()
        g.to_csv(tmp / f"r{i}" / "gt.csv", index=False)
        labels.append(tmp / f"r{i}" / "gt.csv")
    ref_t: list[float] = []
    new_t: list[float] = []
    kept_t: list[float] = []
    same = True
    for i, (g, p) in enumerate(data):  # interleaved, so load from other jobs hits both alike
        t0 = time.perf_counter()
        want = reference_mot_stats(g, p, 0.5)
        t1 = time.perf_counter()
        got = mot_stats(g, p, 0.5)
        t2 = time.perf_counter()
        ref_t.append(t1 - t0)
        new_t.append(t2 - t1)
        same &= all(got[k] == v for k, v in want.items())
        cached_mot_stats(tmp / f"r{i}", labels[i], g, p, 0.5)  # computes and keeps
        t3 = time.perf_counter()
        cached_mot_stats(tmp / f"r{i}", labels[i], g, p, 0.5)  # reads what was kept
        kept_t.append(time.perf_counter() - t3)
    ref, new, kept = (statistics.median(t) * 1000 for t in (ref_t, new_t, kept_t))
    print(f"{args.recordings} recordings of {args.frames} frames, {args.objects} road users, {rows:.0f} box rows each")
    print(f"  per-frame pandas (baseline): median {ref:.1f} ms a recording")
    print(f"  arrays (mot_stats now):      median {new:.1f} ms a recording, {ref / new:.1f}x faster")
    print(f"  kept beside the result:      median {kept:.2f} ms a recording, {ref / kept:.0f}x faster than the baseline")
    print(f"  identical counts and matched-distance pairs: {same}")
    print(
        f"  400 recordings (evaluate --baseline --candidate on 200 trips): {0.4 * ref:.1f} s baseline, "
        f"{0.4 * new:.1f} s computed, {0.4 * kept:.2f} s when every result is cached"
    )


if __name__ == "__main__":
    main()

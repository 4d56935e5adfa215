"""Box metrics through maintained libraries: detection mAP@0.5 (pycocotools), tracking
MOTA / IDF1 (motmetrics, CLEAR-MOT and identity metrics), and distance error on the boxes
motmetrics matched."""

from __future__ import annotations

import contextlib
import io
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from saferoad.adapters.replay import load_labels
from saferoad.domain.tracking import iou_matrix

BOX_COLUMNS = ["frame", "track_id", "cls", "score", "x1", "y1", "x2", "y2", "distance_m"]
CLASSES = ("vehicle", "person", "bicycle", "traffic_light", "stop_sign")


def read_box_labels(path: Path) -> pd.DataFrame:
    """Ground-truth boxes from a ``detections.json`` (docs/recording-format.md) or a MOT
    Challenge ``gt.txt``, read by the replay detector's parser
    (:func:`saferoad.adapters.replay.load_labels`) so labels and replayed detections of the
    same file agree: MOT frames 1-based read 0-based, MOT class ids mapped as the replay
    detector maps them (no class column: ``person``), ignored and distractor rows dropped.
    Every box scores 1 (ground truth); ``track_id`` is the labelled one (-1 when the file has
    none). Errors name the file and the frame / line."""
    labels = load_labels(path)
    rows: list[tuple[Any, ...]] = []
    for frame, det in labels.frames.items():
        n = len(det.xyxy)
        attrs = det.attributes if det.attributes is not None else ({},) * n
        dist = det.distance_m if det.distance_m is not None else np.full(n, math.nan)
        for k, (x1, y1, x2, y2) in enumerate(det.xyxy.tolist()):
            tid = attrs[k].get("source_track_id", -1)
            try:
                track_id = int(tid)
            except (TypeError, ValueError):
                raise ValueError(f"{path}: frame {frame}: track_id {tid!r} is not an integer") from None
            rows.append(
                (frame, track_id, det.classes[k].value, 1.0, x1, y1, x2, y2, float(dist[k]))
            )
    return pd.DataFrame(rows, columns=BOX_COLUMNS)


def read_tracks(path: Path) -> pd.DataFrame:
    df = pd.read_parquet(path)
    missing = [c for c in BOX_COLUMNS if c not in df.columns]
    if missing:
        raise ValueError(f"{path}: columns {missing} missing")
    return df[BOX_COLUMNS].copy()


MOT_STATS = ("mot.gt", "mot.fp", "mot.fn", "mot.idsw", "mot.idtp", "mot.idfp", "mot.idfn")
DIST_STATS = ("dist.n", "dist.abs_sum", "dist.rel_sum")


def iou_distance(a: np.ndarray, b: np.ndarray, iou_threshold: float) -> np.ndarray:
    """``1 - IoU`` between xyxy boxes, NaN where IoU is below the threshold: the distance
    matrix motmetrics expects (its own ``iou_matrix`` calls ``np.asfarray``, gone in NumPy 2)."""
    iou = iou_matrix(a, b)
    return np.where(iou >= iou_threshold, 1.0 - iou, np.nan)


def mot_stats(gt: pd.DataFrame, pred: pd.DataFrame, iou_threshold: float) -> dict[str, float]:
    """CLEAR-MOT and identity counts of one recording (additive across recordings), and the
    distance errors of the pairs motmetrics matched where both sides have a distance."""
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
        gb = g[["x1", "y1", "x2", "y2"]].to_numpy(float)
        pb = p[["x1", "y1", "x2", "y2"]].to_numpy(float)
        dist = iou_distance(gb, pb, iou_threshold)
        if len(g) and len(p):
            same = g["cls"].to_numpy()[:, None] == p["cls"].to_numpy()[None, :]
            dist = np.where(same, dist, np.nan)
        gids = g["track_id"].astype(int).tolist()
        pids = p["track_id"].astype(int).tolist()
        acc.update(gids, pids, dist, frameid=int(f))
        for tid, d in zip(gids, g["distance_m"].tolist(), strict=True):
            gdist[(int(f), tid)] = d
        for tid, d in zip(pids, p["distance_m"].tolist(), strict=True):
            pdist[(int(f), tid)] = d
    mh = mm.metrics.create()
    s = mh.compute(
        acc,
        metrics=["num_objects", "num_false_positives", "num_misses", "num_switches", "idtp", "idfp", "idfn"],
        name="r",
    ).iloc[0]
    out = {
        "mot.gt": float(s["num_objects"]),
        "mot.fp": float(s["num_false_positives"]),
        "mot.fn": float(s["num_misses"]),
        "mot.idsw": float(s["num_switches"]),
        "mot.idtp": float(s["idtp"]),
        "mot.idfp": float(s["idfp"]),
        "mot.idfn": float(s["idfn"]),
    }
    n = abs_sum = rel_sum = 0.0
    ev = acc.mot_events
    if len(ev):
        matched = ev[ev["Type"].isin(["MATCH", "SWITCH"])]
        frames_m = matched.index.get_level_values(0).to_numpy()
        for frame, oid, hid in zip(frames_m, matched["OId"].to_numpy(), matched["HId"].to_numpy(), strict=True):
            gd = gdist.get((int(frame), int(oid)), math.nan)
            pd_ = pdist.get((int(frame), int(hid)), math.nan)
            if math.isfinite(gd) and math.isfinite(pd_) and gd > 0:
                n += 1
                abs_sum += abs(pd_ - gd)
                rel_sum += abs(pd_ - gd) / gd
    out.update({"dist.n": n, "dist.abs_sum": abs_sum, "dist.rel_sum": rel_sum})
    return out


def map50(gt: dict[str, pd.DataFrame], pred: dict[str, pd.DataFrame], iou_threshold: float = 0.5) -> float:
    """COCO-style mean average precision at one IoU threshold over every recording with box
    labels (pycocotools; images are (recording, frame) pairs, categories the road classes
    present in the labels). NaN when there are no labelled boxes."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    cat_ids = {c: i + 1 for i, c in enumerate(CLASSES)}
    images: dict[tuple[str, int], int] = {}
    anns: list[dict[str, Any]] = []
    dets: list[dict[str, Any]] = []
    for rid in sorted(gt):
        g = gt[rid]
        for f in sorted(set(g["frame"].tolist()) | set(pred.get(rid, g.iloc[0:0])["frame"].tolist())):
            images[(rid, int(f))] = len(images) + 1
        for r in g.to_dict("records"):
            x1, y1, x2, y2 = (float(r[k]) for k in ("x1", "y1", "x2", "y2"))
            anns.append(
                {
                    "id": len(anns) + 1,
                    "image_id": images[(rid, int(r["frame"]))],
                    "category_id": cat_ids[str(r["cls"])],
                    "bbox": [x1, y1, x2 - x1, y2 - y1],
                    "area": (x2 - x1) * (y2 - y1),
                    "iscrowd": 0,
                }
            )
        p = pred.get(rid)
        if p is not None:
            for r in p.to_dict("records"):
                if r["cls"] not in cat_ids:
                    continue
                x1, y1, x2, y2 = (float(r[k]) for k in ("x1", "y1", "x2", "y2"))
                dets.append(
                    {
                        "image_id": images[(rid, int(r["frame"]))],
                        "category_id": cat_ids[str(r["cls"])],
                        "bbox": [x1, y1, x2 - x1, y2 - y1],
                        "score": float(r["score"]),
                    }
                )
    if not anns:
        return math.nan
    if not dets:
        return 0.0
    with contextlib.redirect_stdout(io.StringIO()):
        coco = COCO()
        coco.dataset = {
            "images": [{"id": i} for i in images.values()],
            "annotations": anns,
            "categories": [{"id": i, "name": c} for c, i in cat_ids.items()],
        }
        coco.createIndex()
        cdt = coco.loadRes(dets)
        ev = COCOeval(coco, cdt, "bbox")
        ev.params.iouThrs = np.array([iou_threshold])
        ev.params.catIds = sorted({a["category_id"] for a in anns})
        ev.evaluate()
        ev.accumulate()
    # precision[T, R, K, A, M]: IoU, recall points, class, area 'all', maxDets 100
    prec = ev.eval["precision"][0, :, :, 0, -1]
    per_class = [prec[:, k][prec[:, k] > -1].mean() for k in range(prec.shape[1]) if (prec[:, k] > -1).any()]
    return float(np.mean(per_class)) if per_class else math.nan

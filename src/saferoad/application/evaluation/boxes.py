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

from saferoad.domain.tracking import iou_matrix
from saferoad.ports.outputs import OutputsReader
from saferoad.ports.recordings import BoxesReader

BOX_COLUMNS = ["frame", "track_id", "cls", "score", "x1", "y1", "x2", "y2", "distance_m"]
CLASSES = ("vehicle", "person", "bicycle", "traffic_light", "stop_sign")


def read_box_labels(path: Path, read_boxes: BoxesReader) -> pd.DataFrame:
    """Ground-truth boxes from a ``detections.json`` (docs/recording-format.md) or a MOT
    Challenge ``gt.txt``, read by ``read_boxes``, the replay detector's parser
    (``adapters/replay.load_labels``, from the composition root) so labels and replayed
    detections of the same file agree: MOT frames 1-based read 0-based, MOT class ids mapped as the replay
    detector maps them (no class column: ``person``), ignored and distractor rows dropped.
    Every box scores 1 (ground truth); ``track_id`` is the labelled one (-1 when the file has
    none). Errors name the file and the frame / line."""
    rows: list[tuple[Any, ...]] = []
    for frame, det in read_boxes(path).items():
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


def read_tracks(path: Path, reader: OutputsReader) -> pd.DataFrame:
    """``tracks.parquet``'s box columns (:data:`BOX_COLUMNS`), read by the outputs reader."""
    return pd.DataFrame(reader.read_table(path, BOX_COLUMNS, error=ValueError))


MOT_STATS = ("mot.gt", "mot.fp", "mot.fn", "mot.idsw", "mot.idtp", "mot.idfp", "mot.idfn")
DIST_STATS = ("dist.n", "dist.abs_sum", "dist.rel_sum")


def iou_distance(a: np.ndarray, b: np.ndarray, iou_threshold: float) -> np.ndarray:
    """``1 - IoU`` between xyxy boxes, NaN where IoU is below the threshold: the distance
    matrix motmetrics expects (its own ``iou_matrix`` calls ``np.asfarray``, gone in NumPy 2)."""
    iou = iou_matrix(a, b)
    return np.where(iou >= iou_threshold, 1.0 - iou, np.nan)


class _ByFrame:
    """One box table as NumPy arrays sorted by frame, with each frame's row range: a frame's
    boxes are a slice, not a pandas selection (which cost ~1 ms a frame)."""

    def __init__(self, df: pd.DataFrame, cls_codes: np.ndarray) -> None:
        frame = df["frame"].to_numpy(np.int64)
        order = np.argsort(frame, kind="stable")  # stable: a frame's rows keep their order
        self.frame = frame[order]
        self.tid = df["track_id"].to_numpy(np.int64)[order]
        self.cls = cls_codes[order]
        self.xyxy = df[["x1", "y1", "x2", "y2"]].to_numpy(np.float64)[order]
        self.dist = df["distance_m"].to_numpy(np.float64)[order]
        self.frames, self.start = np.unique(self.frame, return_index=True)
        self.end = np.append(self.start[1:], len(self.frame))[: len(self.start)]  # empty: none
        self.row = {int(f): (int(a), int(b)) for f, a, b in zip(self.frames, self.start, self.end, strict=True)}

    def at(self, f: int) -> slice:
        a, b = self.row.get(f, (0, 0))
        return slice(a, b)

    def last_distance(self) -> pd.Series:
        """Distance by (frame, track_id); where a pair repeats, its last row (as a dict
        filled row by row would keep)."""
        s = pd.Series(self.dist, index=pd.MultiIndex.from_arrays([self.frame, self.tid]))
        return s[~s.index.duplicated(keep="last")]


def mot_stats(gt: pd.DataFrame, pred: pd.DataFrame, iou_threshold: float) -> dict[str, float]:
    """CLEAR-MOT and identity counts of one recording (additive across recordings), and the
    distance errors of the pairs motmetrics matched where both sides have a distance.

    motmetrics does the matching (continuity first, then the Hungarian algorithm on IoU
    distance within each class, and the global identity assignment); the tables are sorted
    and split by frame once with NumPy, so the per-frame work is array slicing."""
    import motmetrics as mm  # deferred: optional evaluation extra, loaded only to score tracks

    codes, _ = pd.factorize(pd.concat([gt["cls"], pred["cls"]], ignore_index=True))
    g, p = _ByFrame(gt, codes[: len(gt)]), _ByFrame(pred, codes[len(gt) :])
    acc = mm.MOTAccumulator(auto_id=False)
    for f in np.union1d(g.frames, p.frames).tolist():
        gs, ps = g.at(f), p.at(f)
        dist = iou_distance(g.xyxy[gs], p.xyxy[ps], iou_threshold)
        dist[g.cls[gs][:, None] != p.cls[ps][None, :]] = np.nan
        acc.update(g.tid[gs], p.tid[ps], dist, frameid=f)
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
        frames_m = matched.index.get_level_values(0).to_numpy(np.int64)
        gd = g.last_distance().reindex(
            pd.MultiIndex.from_arrays([frames_m, matched["OId"].to_numpy(np.int64)])
        ).to_numpy(np.float64)
        pd_ = p.last_distance().reindex(
            pd.MultiIndex.from_arrays([frames_m, matched["HId"].to_numpy(np.int64)])
        ).to_numpy(np.float64)
        ok = np.isfinite(gd) & np.isfinite(pd_) & (gd > 0)
        err = np.abs(pd_[ok] - gd[ok])
        n, abs_sum, rel_sum = float(ok.sum()), float(err.sum()), float((err / gd[ok]).sum())
    out.update({"dist.n": n, "dist.abs_sum": abs_sum, "dist.rel_sum": rel_sum})
    return out


def map50(gt: dict[str, pd.DataFrame], pred: dict[str, pd.DataFrame], iou_threshold: float = 0.5) -> float:
    """COCO-style mean average precision at one IoU threshold over every recording with box
    labels (pycocotools; images are (recording, frame) pairs, categories the road classes
    present in the labels). NaN when there are no labelled boxes."""
    # deferred: pycocotools is an optional evaluation extra, loaded only to compute mAP
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

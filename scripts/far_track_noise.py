"""Issue 22: how much of a far track's distance error is per-frame noise a track average
could remove? Measured on the shared clips, without labels.

    .venv/bin/python scripts/far_track_noise.py [--window-s 0.5]

The default road pipeline (``run_perception``, YOLOX-nano with the horizon band, ByteTrack,
the distance fusion; the clips' cameras are the default 90° one, which scales distances but
not their relative jitter) runs on ``highway_solid_white_right.mp4`` (960x540, every frame)
and ``highway_vehicles_720p.mp4``. For every tracked vehicle sample, the track's own
neighbours within ``--window-s`` seconds (itself left out) give a local straight-line trend
of distance and of box width over time; a sample's residual from its trend is its per-frame
noise (a trend from n neighbours adds sigma²/n to the residual's variance: corrected).
Printed per distance band (< 20 m, 20-40 m, > 40 m):

* samples and tracks;
* the per-frame scatter of the distance (robust sd of residual / trend, 1.4826 x MAD) against
  the median stated ``distance_sigma_m`` / distance: the share of the stated sigma that is
  frame-to-frame noise;
* the lag-1 autocorrelation of the residuals (0: independent from frame to frame);
* the box width's per-frame scatter in pixels against what the stated edge sigma implies
  (sqrt(2) x ``edge_sigma_px``, the detector's 2 model px over its pass's scale);
* what averaging a track over 1 s would leave of the stated sigma, if the stated sigma is
  right and the rest of it is common to all frames (the class prior's width, the horizon):
  sqrt(common² + random² / N_eff), N_eff = N (1 - rho) / (1 + rho).
"""

from __future__ import annotations

import argparse
import collections
import os
import sys
from pathlib import Path
from typing import Any

import numpy as np

from saferoad.adapters.detectors.onnx import build_model_detector
from saferoad.adapters.video.frames import open_frames
from saferoad.adapters.video.lanes import lane_horizon
from saferoad.application.perception import run_perception
from saferoad.config import load_config
from saferoad.domain.types import RoadClass

SHARED = Path(os.environ.get("SAFEROAD_SHARED", Path(__file__).resolve().parents[1] / ".." / "shared"))
CLIPS = ("highway_solid_white_right.mp4", "highway_vehicles_720p.mp4")
BANDS = ((0.0, 20.0), (20.0, 40.0), (40.0, float("inf")))


def robust_sd(x: np.ndarray) -> float:
    return float(1.4826 * np.median(np.abs(x - np.median(x)))) if len(x) else float("nan")


def tracks(clip: Path) -> tuple[dict[tuple[str, int], list[tuple[float, float, float, float, float]]], float]:
    """Per (clip, track id): (t_s, distance m, stated sigma m, box width px, edge sigma px)."""
    det = build_model_detector(load_config())
    out: dict[tuple[str, int], list[tuple[float, float, float, float, float]]] = collections.defaultdict(list)
    frames = open_frames(clip)
    fps = frames.fps if getattr(frames, "fps", None) else 30.0
    for f, objs in run_perception(frames, det, None, None, load_config(), horizon=lane_horizon):
        for o in objs:
            sigma = o.attributes.get("distance_sigma_m")
            edge = o.attributes.get("edge_sigma_px")
            if o.cls is not RoadClass.VEHICLE or o.distance_m is None or sigma is None or edge is None:
                continue
            out[(clip.name, o.track_id)].append(
                (f.t_s, float(o.distance_m), float(sigma), float(o.xyxy[2] - o.xyxy[0]), float(edge[0]))
            )
    return out, float(fps)


def residuals(t: np.ndarray, y: np.ndarray, window_s: float) -> tuple[np.ndarray, np.ndarray]:
    """Leave-one-out local linear trend of ``y`` over ``t``: (trend, residual corrected for
    the trend's own noise); NaN where fewer than 4 neighbours lie in the window."""
    trend = np.full(len(t), np.nan)
    res = np.full(len(t), np.nan)
    for i in range(len(t)):
        nb = (np.abs(t - t[i]) <= window_s) & (np.arange(len(t)) != i)
        if nb.sum() < 4:
            continue
        _slope, b = np.polyfit(t[nb] - t[i], y[nb], 1)
        trend[i] = b
        res[i] = (y[i] - b) / np.sqrt(1.0 + 1.0 / nb.sum())
    return trend, res


def lag1(series: list[np.ndarray]) -> float:
    """Pooled lag-1 autocorrelation of residual series (consecutive finite pairs)."""
    a, b = [], []
    for r in series:
        ok = np.isfinite(r[:-1]) & np.isfinite(r[1:])
        a.append(r[:-1][ok])
        b.append(r[1:][ok])
    x, y = np.concatenate(a) if a else np.zeros(0), np.concatenate(b) if b else np.zeros(0)
    if len(x) < 3:
        return float("nan")
    return float(np.corrcoef(x, y)[0, 1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--window-s", type=float, default=0.5)
    args = ap.parse_args()
    video = SHARED / "data" / "video"
    if not all((video / c).is_file() for c in CLIPS):
        sys.exit(f"needs {video} (SAFEROAD_SHARED)")
    print(f"load average at start {os.getloadavg()[0]:.2f}")
    rows: dict[int, dict[str, Any]] = {k: collections.defaultdict(list) for k in range(len(BANDS))}
    fps_seen = []
    for clip in CLIPS:
        per_track, fps = tracks(video / clip)
        fps_seen.append(fps)
        for key, samples in per_track.items():
            if len(samples) < 8:
                continue
            s = np.array(samples)
            t, d, sig, w, edge = s.T
            d_trend, d_res = residuals(t, d, args.window_s)
            _, w_res = residuals(t, w, args.window_s)
            rel = d_res / d_trend
            for k, (lo, hi) in enumerate(BANDS):
                m = (d_trend >= lo) & (d_trend < hi) & np.isfinite(rel)
                if m.sum() < 4:
                    continue
                r = rows[k]
                r["rel"].append(rel[m])
                r["stated"].append((sig / d)[m])
                r["w_res"].append(w_res[m])
                r["w_pred"].append(np.sqrt(2.0) * edge[m])
                r["tracks"].append(key)
                series = np.where(m, rel, np.nan)
                r["series"].append(series)
    fps = min(fps_seen)
    print(f"\n| distance (trend) | samples (tracks) | per-frame scatter of distance | stated sigma / distance (median) | "
          f"random share of the stated sigma | lag-1 autocorrelation | box width scatter px | sqrt(2) x stated edge sigma px | "
          f"stated sigma after a 1 s track average ({fps:.0f} fps) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for k, (lo, hi) in enumerate(BANDS):
        r = rows[k]
        if not r["rel"]:
            continue
        rel = np.concatenate(r["rel"])
        stated = float(np.median(np.concatenate(r["stated"])))
        rnd = robust_sd(rel)
        rho = lag1(r["series"])
        n = fps * 1.0
        n_eff = max(1.0, n * (1 - rho) / (1 + rho)) if np.isfinite(rho) and rho < 1 else 1.0
        common = np.sqrt(max(stated**2 - rnd**2, 0.0))
        after = float(np.sqrt(common**2 + rnd**2 / n_eff))
        label = f"> {lo:.0f} m" if not np.isfinite(hi) else f"{lo:.0f}-{hi:.0f} m"
        print(f"| {label} | {len(rel)} ({len(set(r['tracks']))}) | {rnd:.1%} | {stated:.1%} | {rnd / stated:.0%} | "
              f"{rho:+.2f} | {robust_sd(np.concatenate(r['w_res'])):.2f} | {float(np.median(np.concatenate(r['w_pred']))):.2f} | "
              f"{after:.1%} |")
    print(f"load average at end {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()

"""INT8 against FP32 in the same run: model-only speed, where the time goes, and accuracy on the
shared labelled frames.

    .venv/bin/python benchmarks/bench_int8.py [--card yolox-nano | fastestdet] [--int8 DIR] [--frames 64]
                                              [--runs 150] [--method minmax]

Without ``--int8`` the INT8 model is made first with ``saferoad.adapters.onnx.quantize`` (the
code behind ``saferoad model quantize``), calibrated on ``--frames`` frames of the shared road
videos other than the highway clip (which is evaluated below: calibration never sees the
evaluation frames). Then, each figure next to its FP32 baseline measured in the same run:

- speed: one 1-thread session each (spinning off, as the pipeline runs them), the same
  pre-processed 720p highway frames, runs interleaved FP32 / INT8; median ms and frames a second;
- where the time goes: ONNX Runtime's profiler, kernel time by operator type, and the graph
  ONNX Runtime actually runs after its optimisations (``executed_ops``): which operators stay
  float between DequantizeLinear / QuantizeLinear;
- where the accuracy goes: per-tensor SQNR of INT8 against FP32 on the KITTI frames
  (``layer_errors``, ONNX Runtime's ``qdq_loss_debug``), at the first layers and the heads;
- accuracy: KITTI object frames 000000-000002 (their 2D boxes, class-agnostic recall and
  precision of road-class detections at IoU 0.5, DontCare regions ignored); the LISA frames
  (stop signs found on the five stop frames, stop signs claimed on the four others, with
  ``tiles = 3`` as docs/perception.md uses for small signs); the 38-frame highway clip, which has
  no boxes: how far INT8 agrees with FP32 (F1 at IoU 0.5, same road class).

``--variants`` then quantizes again with each of ONNX Runtime's documented settings in
``VARIANTS`` and prints the same accuracy counts, the output SQNR and a short speed ratio to FP32 for each, after
a float model carrying only the INT8 rounding of the weights (what the weights alone cost).

Target (issue 19): INT8 ≥ 1.5× FP32 (at least 1.3×) with the accuracy kept.
"""

from __future__ import annotations

import argparse
import collections
import json
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import cv2
import numpy as np
import onnxruntime as ort

from saferoad.adapters.onnx.backend import OnnxBackend
from saferoad.adapters.onnx.card import ModelCard, default_models_root, load_card
from saferoad.adapters.onnx.detector import ModelDetector, preprocess_image
from saferoad.adapters.onnx.quantize import card_toml, executed_ops, layer_errors, quantize_card
from saferoad.adapters.video.frames import open_frames
from saferoad.domain.tracking import iou_matrix
from saferoad.domain.types import Detections, Frame, RoadClass

SHARED = default_models_root().parent
KITTI_ROAD = {"Car", "Van", "Truck", "Tram", "Pedestrian", "Person_sitting", "Cyclist"}
EVAL_CLIP = "highway_vehicles_720p.mp4"
# ONNX Runtime's quantization settings (its documentation: per-channel, reduce_range for CPUs
# without VNNI, calibration methods, op_types_to_quantize / nodes_to_exclude, extra_options)
VARIANTS: dict[str, dict[str, Any]] = {
    "per-tensor weights": {"per_channel": False},
    "U8U8 (UINT8 weights)": {"weights": "u8"},
    "QOperator form": {"form": "qoperator"},
    "reduce_range (7-bit weights)": {"reduce_range": True},
    "percentile 99.99": {"method": "percentile", "extra_options": {"CalibPercentile": 99.99}},
    "entropy": {"method": "entropy"},
    "MinMax moving average": {"extra_options": {"CalibMovingAverage": True}},
}
# settings that name YOLOX-nano's operators or nodes
CARD_VARIANTS: dict[str, dict[str, dict[str, Any]]] = {
    "yolox-nano": {
        "SiLU float (Conv/Add/Concat/MaxPool/Resize only)": {"op_types": ["Conv", "Add", "Concat", "MaxPool", "Resize"]},
        "stem float (first 3 convolutions)": {"exclude": ["Conv_41", "Conv_44", "Conv_47"]},
    },
}


def _session(path: Path, profile: str | None = None) -> ort.InferenceSession:
    o = ort.SessionOptions()
    o.intra_op_num_threads = 1
    o.inter_op_num_threads = 1
    o.add_session_config_entry("session.intra_op.allow_spinning", "0")
    o.log_severity_level = 3
    if profile:
        o.enable_profiling = True
        o.profile_file_prefix = profile
    return ort.InferenceSession(str(path), o, providers=["CPUExecutionProvider"])


def speed(models: dict[str, Path], card: ModelCard, blobs: list[np.ndarray], runs: int) -> dict[str, list[float]]:
    sessions = {k: _session(p) for k, p in models.items()}
    for s in sessions.values():
        for b in blobs[:5]:
            s.run(None, {card.input_name: b})
    times: dict[str, list[float]] = {k: [] for k in sessions}
    for i in range(runs):
        b = blobs[i % len(blobs)]
        for k, s in sessions.items():
            t0 = time.perf_counter()
            s.run(None, {card.input_name: b})
            times[k].append(time.perf_counter() - t0)
    return times


def depthwise_convs(path: Path) -> set[str]:
    """Names and output tensors of the model's depthwise (grouped) convolutions: the profiler
    names a kernel after one or the other (``Conv_44_token_3``, ``1180_nchwc``)."""
    import onnx

    names: set[str] = set()
    for node in onnx.load(str(path), load_external_data=False).graph.node:
        if node.op_type == "Conv" and any(a.name == "group" and a.i > 1 for a in node.attribute):
            names |= {node.name, node.output[0]}
    return names


def profile(
    path: Path, card: ModelCard, blobs: list[np.ndarray], runs: int, tmp: Path, depthwise: set[str]
) -> dict[str, float]:
    """Kernel milliseconds per run by operator type, convolutions on ``depthwise`` apart."""
    s = _session(path, profile=str(tmp / f"prof-{path.stem}"))
    for i in range(runs):
        s.run(None, {card.input_name: blobs[i % len(blobs)]})
    events = json.loads(Path(s.end_profiling()).read_text())
    agg: collections.Counter[str] = collections.Counter()
    for e in events:
        if e.get("cat") == "Node" and str(e.get("name", "")).endswith("_kernel_time"):
            op = e["args"]["op_name"]
            node = e["name"][: -len("_kernel_time")].split("_token_")[0].split("_nchwc")[0]
            if "Conv" in op and node in depthwise:
                op += " (depthwise)"
            agg[op] += e["dur"]
    return {k: v / runs / 1000.0 for k, v in agg.most_common()}


def _kitti(detector: ModelDetector) -> tuple[int, int, int, int]:
    """(labelled objects found, labelled objects, detections on a labelled object or a DontCare
    region, detections)."""
    found = n_gt = n_ok = n_det = 0
    root = SHARED / "data" / "kitti-object"
    for img_path in sorted((root / "image_2").glob("*.png")):
        img = cv2.imread(str(img_path))
        gt, dontcare = [], []
        for line in (root / "label_2" / f"{img_path.stem}.txt").read_text().splitlines():
            f = line.split()
            box = [float(x) for x in f[4:8]]
            if f[0] in KITTI_ROAD:
                gt.append(box)
            elif f[0] == "DontCare":
                dontcare.append(box)
        d = detector.detect(Frame(0, 0.0, img))
        n_gt += len(gt)
        n_det += len(d.xyxy)
        if len(d.xyxy) and gt:
            iou = iou_matrix(np.array(gt), d.xyxy)
            found += int((iou.max(axis=1) >= 0.5).sum())
            ok = iou.max(axis=0) >= 0.5
        else:
            ok = np.zeros(len(d.xyxy), bool)
        if len(d.xyxy) and dontcare:
            ok |= iou_matrix(np.array(dontcare), d.xyxy).max(axis=0) >= 0.3
        n_ok += int(ok.sum())
    return found, n_gt, n_ok, n_det


def _lisa(detector: ModelDetector) -> tuple[int, int, int, int]:
    """(stop frames with a stop sign found, stop frames, other frames with a stop sign claimed,
    other frames)."""
    hit = n_stop = false = n_other = 0
    for p in sorted((SHARED / "data" / "frames" / "lisa-stop-signs").glob("*.png")):
        d = detector.detect(Frame(0, 0.0, cv2.imread(str(p))))
        has = any(c is RoadClass.STOP_SIGN for c in d.classes)
        if p.name.startswith("stop_"):
            n_stop += 1
            hit += has
        else:
            n_other += 1
            false += has
    return hit, n_stop, false, n_other


def _agreement(ref: list[Detections], got: list[Detections]) -> tuple[float, float, int, int]:
    """F1 of ``got`` against ``ref`` (same road class, IoU ≥ 0.5, greedy), mean IoU of the
    matches, and the box counts."""
    tp = n_ref = n_got = 0
    ious: list[float] = []
    for a, b in zip(ref, got, strict=True):
        n_ref += len(a.xyxy)
        n_got += len(b.xyxy)
        if not len(a.xyxy) or not len(b.xyxy):
            continue
        iou = iou_matrix(a.xyxy, b.xyxy)
        same = np.array([[ca is cb for cb in b.classes] for ca in a.classes])
        iou = np.where(same, iou, 0.0)
        while iou.size and iou.max() >= 0.5:
            i, j = np.unravel_index(int(iou.argmax()), iou.shape)
            ious.append(float(iou[i, j]))
            iou[i, :] = 0.0
            iou[:, j] = 0.0
            tp += 1
    f1 = 2 * tp / (n_ref + n_got) if n_ref + n_got else 1.0
    return f1, float(np.mean(ious)) if ious else float("nan"), n_ref, n_got


def _kitti_inputs(card: ModelCard) -> list[dict[str, np.ndarray]]:
    paths = sorted((SHARED / "data" / "kitti-object" / "image_2").glob("*.png"))
    return [{card.input_name: preprocess_image(cv2.imread(str(p)), card)[0]} for p in paths]


def _accuracy(card: ModelCard) -> str:
    det = ModelDetector(card, OnnxBackend(card.model_path(), warmup=1))
    tiled = ModelDetector(card, OnnxBackend(card.model_path(), warmup=1), tiles=3)
    found, n_gt, n_ok, n_det = _kitti(det)
    hit, n_stop, false, n_other = _lisa(tiled)
    return (
        f"KITTI recall {found}/{n_gt}, precision {n_ok}/{n_det}; LISA stop signs "
        f"found {hit}/{n_stop}, claimed on {false}/{n_other} other frames"
    )


def _output_sqnr(fp32: Path, int8: Path, inputs: list[dict[str, np.ndarray]]) -> float:
    """SQNR (dB) of the INT8 model's raw output against FP32's over ``inputs``."""
    a, b = _session(fp32), _session(int8)
    sig = err = 0.0
    for x in inputs:
        ya, yb = a.run(None, x)[0], b.run(None, x)[0]
        sig += float((ya.astype(np.float64) ** 2).sum())
        err += float(((ya - yb).astype(np.float64) ** 2).sum())
    return 10 * np.log10(sig / err) if err else float("inf")


def _weights_only(src: Path, out: Path) -> Path:
    """A float copy of ``src`` whose convolution weights are rounded as the INT8 model's are
    (symmetric INT8, one scale per output channel) and activations stay float: what the weights
    alone cost."""
    import onnx
    from onnx import numpy_helper

    model = onnx.load(str(src))
    index = {t.name: i for i, t in enumerate(model.graph.initializer)}
    for node in model.graph.node:
        if node.op_type != "Conv" or node.input[1] not in index:
            continue
        t = model.graph.initializer[index[node.input[1]]]
        w = numpy_helper.to_array(t).astype(np.float64)
        scale = np.abs(w.reshape(w.shape[0], -1)).max(axis=1) / 127.0
        scale = np.where(scale > 0, scale, 1.0).reshape(-1, *([1] * (w.ndim - 1)))
        q = (np.clip(np.round(w / scale), -127, 127) * scale).astype(np.float32)
        t.CopyFrom(numpy_helper.from_array(q, t.name))
    onnx.save(model, str(out))
    return out


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--card", default="yolox-nano")
    ap.add_argument("--int8", type=Path, help="an INT8 folder from `saferoad model quantize` (default: make one)")
    ap.add_argument("--frames", type=int, default=64, help="calibration frames when making the INT8 model")
    ap.add_argument("--method", default="minmax", choices=["minmax", "entropy", "percentile"])
    ap.add_argument("--int8-head", action="store_true", help="quantize the output head too (to see what it costs)")
    ap.add_argument("--runs", type=int, default=150, help="timed runs per model")
    ap.add_argument("--variants", action="store_true", help="also the accuracy of each setting in VARIANTS")
    args = ap.parse_args()
    load = os.getloadavg()
    print(f"cores: {os.cpu_count()}; load average {load[0]:.1f} (other jobs share the cores: compare within a run)")
    card = load_card(args.card)
    tmp = Path(tempfile.mkdtemp(prefix="bench-int8-"))
    videos = [v for v in sorted((SHARED / "data" / "video").glob("*.mp4")) if v.name != EVAL_CLIP]
    if args.int8 is None:
        res = quantize_card(
            card, tmp / "int8", videos, n_frames=args.frames, method=args.method, float_head=not args.int8_head
        )
        print(
            f"quantized in {res.seconds:.1f} s on {res.calibration_frames} frames of "
            f"{', '.join(v.name for v in videos)} ({args.method})"
        )
        int8_dir = tmp / "int8"
    else:
        int8_dir = args.int8
    cards = {"fp32": card, "int8": load_card(int8_dir)}
    models = {k: c.model_path() for k, c in cards.items()}

    frames = open_frames(SHARED / "data" / "video" / EVAL_CLIP)
    images = [f.image for f in frames]
    frames.close()
    blobs = [preprocess_image(img, card)[0] for img in images]

    times = speed(models, card, blobs, args.runs)
    med = {k: statistics.median(v) * 1000 for k, v in times.items()}
    print(f"\nmodel only, 1 thread, {args.runs} interleaved runs on {len(blobs)} 720p frames")
    for k in models:
        print(f"  {k}: median {med[k]:.2f} ms ({1000 / med[k]:.1f} fps), best {min(times[k]) * 1000:.2f} ms")
    for k in list(models)[1:]:
        print(f"  {k} speed-up: {med['fp32'] / med[k]:.2f}x median, {min(times['fp32']) / min(times[k]):.2f}x best (target 1.5x, at least 1.3x)")

    print("\nwhere the time goes (ONNX Runtime profiler, kernel ms a run; profiling adds overhead)")
    depthwise = depthwise_convs(models["fp32"])
    print(f"  ({len(depthwise) // 2} depthwise convolutions)")
    for k, p in models.items():
        prof = profile(p, card, blobs, 20, tmp, depthwise)
        total = sum(prof.values())
        top = ", ".join(f"{op} {ms:.2f} ({100 * ms / total:.0f}%)" for op, ms in list(prof.items())[:8])
        print(f"  {k}: {total:.2f} ms: {top}")
    print("\nthe graph ONNX Runtime runs (after its optimisations; 1 thread)")
    for k, p in models.items():
        print(f"  {k}: {executed_ops(p)}")
    run8 = executed_ops(models["int8"])
    floats = {op: n for op, n in run8.items() if "QLinear" not in op and op not in ("QuantizeLinear", "DequantizeLinear")}
    print(f"  int8, not QLinear* nor Q/DQ (float, or UINT8 moved without arithmetic): {floats}")

    kitti = _kitti_inputs(card)
    rows = layer_errors(models["fp32"], models["int8"], kitti)
    convs = [r for r in rows if r[1] == "Conv"]
    print("\nwhere the accuracy goes: SQNR of INT8 against FP32 on the KITTI frames (dB, accumulated from the input)")
    print("  first convolutions: " + ", ".join(f"{n} {db:.1f}" for n, _, db in convs[:5]))
    acts = [r for r in rows if r[1] in ("Mul", "Relu")]  # YOLOX's SiLU (x * sigmoid(x)), FastestDet's ReLU
    print("  first activation outputs (SiLU Mul / Relu): " + ", ".join(f"{n} {db:.1f}" for n, _, db in acts[:5]))
    print("  last convolutions (the head's predictions): " + ", ".join(f"{n} {db:.1f}" for n, _, db in convs[-6:]))
    print(f"  convolutions under 10 dB: {sum(db < 10 for _, _, db in convs)} of {len(convs)}")
    print(f"  model output: {_output_sqnr(models['fp32'], models['int8'], kitti):.1f} dB")

    print("\naccuracy")
    dets: dict[str, Any] = {}
    for k, c in cards.items():
        det = ModelDetector(c, OnnxBackend(c.model_path(), warmup=1))
        dets[k] = [det.detect(Frame(i, 0.0, img)) for i, img in enumerate(images)]
        print(f"  {k}: {_accuracy(c)}; highway boxes {sum(len(d.xyxy) for d in dets[k])}")
    for k in list(models)[1:]:
        f1, miou, n_ref, n_got = _agreement(dets["fp32"], dets[k])
        print(f"  highway clip, {k} against FP32: F1 {f1:.3f} (IoU >= 0.5, same class), mean IoU {miou:.3f}, boxes {n_got} vs {n_ref}")

    if args.variants:
        print(f"\nvariants (the same {args.frames} calibration frames)")
        wq = tmp / "weights-only"
        wq.mkdir()
        model = _weights_only(models["fp32"], wq / "model.onnx")
        (wq / "card.toml").write_text(card_toml(card, model, name="weights-only", description="INT8 weights"))
        c = load_card(wq)
        sq = _output_sqnr(models["fp32"], model, kitti)
        print(f"  INT8 weights only, activations float (emulated): output SQNR {sq:.1f} dB; {_accuracy(c)}")
        for name, kw in (VARIANTS | CARD_VARIANTS.get(card.name, {})).items():
            kw = {"method": args.method} | kw
            res = quantize_card(card, tmp / "variant", videos, n_frames=args.frames, **kw)
            c = load_card(tmp / "variant")
            sq = _output_sqnr(models["fp32"], c.model_path(), kitti)
            t = speed({"fp32": models["fp32"], "v": c.model_path()}, card, blobs, 40)
            ratio = statistics.median(t["fp32"]) / statistics.median(t["v"])
            print(
                f"  {name}: {ratio:.2f}x FP32 (median of 40 interleaved runs); output SQNR {sq:.1f} dB; "
                f"{_accuracy(c)} (quantized in {res.seconds:.0f} s)",
                flush=True,
            )


if __name__ == "__main__":
    main()

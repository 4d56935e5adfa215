"""Model cards, the ONNX backend and the detector decoders on real models and frames."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np
import pytest

from saferoad.adapters.onnx.backend import OnnxBackend
from saferoad.adapters.onnx.card import (
    CARDS_DIR,
    ModelCard,
    ModelCardError,
    check_card,
    load_card,
    write_ultralytics_card,
)
from saferoad.adapters.onnx.detector import ModelDetector, preprocess_image
from saferoad.domain.types import Frame, RoadClass
from saferoad.ports.detector import Detector, InferenceBackend

YOLOX_CARD = (CARDS_DIR / "yolox-nano.toml").read_text()


def _frame(path: Path, index: int = 0) -> Frame:
    img = cv2.imread(str(path))
    assert img is not None
    return Frame(index, 0.0, img)


def test_shipped_cards_match_their_models(models_root: Path) -> None:
    for name in ("yolox-nano", "fastestdet"):
        card = load_card(name)
        backend = OnnxBackend(card.model_path(models_root), warmup=0)
        assert isinstance(backend, InferenceBackend)
        check_card(card, backend)
        assert len(card.class_names) == 80 and card.class_names[11] == "stop sign"


def test_backend_session_options_and_metadata(models_root: Path) -> None:
    b = OnnxBackend(models_root / "yolox-nano" / "yolox_nano.onnx", intra_op_threads=1, spinning=False)
    (spec,) = b.input_specs()
    assert (spec.name, spec.shape, spec.dtype) == ("images", (1, 3, 416, 416), "float32")
    out = b.infer({"images": np.zeros((1, 3, 416, 416), np.float32)})
    assert out["output"].shape == (1, 3549, 85)
    with pytest.raises(ValueError, match="inputs"):
        b.infer({"wrong": np.zeros((1, 3, 416, 416), np.float32)})
    b.close()
    with pytest.raises(RuntimeError, match="closed"):
        b.infer({"images": np.zeros((1, 3, 416, 416), np.float32)})


def test_backend_rejects_missing_and_garbage_models(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        OnnxBackend(tmp_path / "none.onnx")
    junk = tmp_path / "junk.onnx"
    junk.write_bytes(b"not a model")
    with pytest.raises(ValueError, match=r"junk.onnx: not a loadable ONNX model"):
        OnnxBackend(junk)


def _card(tmp_path: Path, text: str) -> Path:
    (tmp_path / "coco80.txt").write_text((CARDS_DIR / "coco80.txt").read_text())
    p = tmp_path / "card.toml"
    p.write_text(text)
    return p


def test_model_whose_outputs_do_not_match_its_card(tmp_path: Path, models_root: Path) -> None:
    # The YOLOX card pointed at the FastestDet model: names and shapes disagree.
    text = YOLOX_CARD.replace('file = "yolox-nano/yolox_nano.onnx"', 'file = "fastestdet/FastestDet.onnx"')
    card = load_card(_card(tmp_path, text))
    backend = OnnxBackend(card.model_path(models_root), warmup=0)
    with pytest.raises(ModelCardError, match=r"input\.name 'images' not among the model's inputs \['input\.1'\]"):
        ModelDetector(card, backend)
    # right input name, wrong output shape
    text2 = YOLOX_CARD.replace("shape = [1, 3549, 85]", "shape = [1, 3549, 86]")
    card2 = load_card(_card(tmp_path, text2))
    with pytest.raises(ModelCardError, match=r"output\.shape \[1, 3549, 86\] does not match the model's \[1, 3549, 85\]"):
        ModelDetector(card2, OnnxBackend(card2.model_path(models_root), warmup=0))
    # classes that do not fit the output
    text3 = YOLOX_CARD.replace('names_file = "coco80.txt"', 'names = ["car", "person"]')
    card3 = load_card(_card(tmp_path, text3))
    with pytest.raises(ModelCardError, match="yolox decoder expects output"):
        ModelDetector(card3, OnnxBackend(card3.model_path(models_root), warmup=0))


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (("[input]", "[input]\nbogus = 1"), r"input\.bogus: unknown key"),
        (('colour = "BGR"', 'colour = "BGRA"'), r"input\.colour"),
        (('decoder = "yolox"', 'decoder = "ssd"'), r"output\.decoder"),
        (("strides = [8, 16, 32]", ""), r"output\.strides: required"),
        (('names_file = "coco80.txt"', 'names_file = "missing.txt"'), "missing.txt not found"),
        (("std = [1.0, 1.0, 1.0]", "std = [1.0, 0.0, 1.0]"), r"input\.std"),
        (("[model]", "[model"), "not valid TOML"),
    ],
)
def test_malformed_cards(tmp_path: Path, edit: tuple[str, str], message: str) -> None:
    with pytest.raises(ModelCardError, match=message):
        load_card(_card(tmp_path, YOLOX_CARD.replace(*edit)))


def test_letterbox_maps_back_to_source_pixels() -> None:
    card = load_card("yolox-nano")
    img = np.zeros((720, 1280, 3), np.uint8)
    blob, info = preprocess_image(img, card)
    assert blob.shape == (1, 3, 416, 416) and blob.dtype == np.float32
    assert info.scale_x == pytest.approx(416 / 1280) and info.pad_x == info.pad_y == 0
    assert blob[0, :, 300, 10].tolist() == [114.0, 114.0, 114.0]  # pad rows below the image


def test_yolox_highway_near_cars_every_frame_one_id_each(yolox: ModelDetector, highway_clip: Path) -> None:
    """Must show: the near cars are detected in every frame and keep one id each."""
    from saferoad.adapters.video.frames import open_frames
    from saferoad.domain.tracking import ByteTracker

    assert isinstance(yolox, Detector)
    tracker = ByteTracker()
    # the two near cars (right of the ego lane) in the first frame, by eye
    near = np.array([[812, 407, 944, 494], [1002, 405, 1198, 501]], float)
    ids_per_car: list[set[int]] = [set(), set()]
    from saferoad.domain.tracking import iou_matrix

    n = 0
    for frame in open_frames(highway_clip):
        det = yolox.detect(frame)
        objs = tracker.update(det)
        veh = np.array([o.xyxy for o in objs if o.cls is RoadClass.VEHICLE])
        assert len(veh) >= 2, f"frame {frame.index}: near cars missing"
        iou = iou_matrix(near, veh)
        for k in range(2):
            j = int(iou[k].argmax())
            assert iou[k, j] >= 0.5, f"frame {frame.index}: car {k} not matched"
            ids_per_car[k].add([o for o in objs if o.cls is RoadClass.VEHICLE][j].track_id)
            near[k] = veh[j]  # follow the car as it drifts
        n += 1
    assert n == 38
    assert all(len(s) == 1 for s in ids_per_car) and ids_per_car[0] != ids_per_car[1]


def test_lisa_stop_signs(yolox_tiled: ModelDetector, shared_dir: Path) -> None:
    """Must show: a stop sign in at least 4 of the 5 ``stop_*.png`` (tiled pass on)."""
    folder = shared_dir / "data" / "frames" / "lisa-stop-signs"
    hits = {}
    for p in sorted(folder.glob("*.png")):
        det = yolox_tiled.detect(_frame(p))
        hits[p.name] = RoadClass.STOP_SIGN in det.classes
    stops = {k: v for k, v in hits.items() if k.startswith("stop_")}
    assert len(stops) == 5
    assert sum(stops.values()) >= 4, stops
    # and no stop sign on the pedestrian-crossing frames
    assert not any(v for k, v in hits.items() if not k.startswith("stop_"))


def test_fastestdet_finds_the_near_cars(models_root: Path, highway_clip: Path) -> None:
    from saferoad.adapters.video.frames import open_frames

    card = load_card("fastestdet")
    det = ModelDetector(card, OnnxBackend(card.model_path(models_root)))
    frame = next(iter(open_frames(highway_clip)))
    d = det.detect(frame)
    veh = d.xyxy[[c is RoadClass.VEHICLE for c in d.classes]]
    from saferoad.domain.tracking import iou_matrix

    iou = iou_matrix(np.array([[812, 407, 944, 494], [1002, 405, 1198, 501]], float), veh)
    assert (iou.max(axis=1) >= 0.5).all(), d


def _ultralytics_model(path: Path, boxes: np.ndarray, n: int = 8400) -> None:
    """A real ONNX graph with the Ultralytics export layout: images [1,3,640,640] →
    output0 [1, 84, N]; its output is a fixed tensor (plus 0 × the mean of the input)."""
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    const = np.zeros((1, 84, n), np.float32)
    for i, (cx, cy, w, h, cls, score) in enumerate(boxes):
        const[0, :4, i] = (cx, cy, w, h)
        const[0, 4 + int(cls), i] = score
    nodes = [
        helper.make_node("ReduceMean", ["images"], ["m"], keepdims=0),
        helper.make_node("Mul", ["m", "zero"], ["z"]),
        helper.make_node("Add", ["table", "z"], ["output0"]),
    ]
    graph = helper.make_graph(
        nodes,
        "ultra",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [1, 3, 640, 640])],
        [helper.make_tensor_value_info("output0", TensorProto.FLOAT, [1, 84, n])],
        [numpy_helper.from_array(const, "table"), numpy_helper.from_array(np.zeros((), np.float32), "zero")],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))


def test_ultralytics_layout_decoder(tmp_path: Path) -> None:
    model = tmp_path / "yolov8.onnx"
    # in the 640 letterboxed input of a 1280x720 frame: scale 0.5, pad top 140
    boxes = np.array(
        [
            [320, 340, 100, 50, 2, 0.9],   # car → vehicle at source (540..740, 350..450)
            [322, 341, 100, 50, 7, 0.8],   # truck on the same car: NMS per road class drops it
            [100, 200, 20, 60, 0, 0.7],    # person
            [500, 200, 30, 30, 11, 0.6],   # stop sign
            [400, 400, 50, 50, 16, 0.95],  # dog: not a road class
            [200, 200, 40, 40, 2, 0.1],    # below the threshold
        ]
    )
    _ultralytics_model(model, boxes)
    card = load_card(write_ultralytics_card(model, 640))
    det = ModelDetector(card, OnnxBackend(card.model_path()))
    d = det.detect(Frame(0, 0.0, np.zeros((720, 1280, 3), np.uint8)))
    got = {(c.value, lab): b.round(1).tolist() for c, lab, b in zip(d.classes, d.labels or (), d.xyxy, strict=True)}
    assert got == {
        ("vehicle", "car"): [540.0, 350.0, 740.0, 450.0],
        ("person", "person"): [180.0, 60.0, 220.0, 180.0],
        ("stop_sign", "stop sign"): [970.0, 90.0, 1030.0, 150.0],
    }


def test_lamp_colour_from_the_box() -> None:
    from saferoad.adapters.onnx.lamp import lamp_colour

    img = np.zeros((100, 60, 3), np.uint8)
    img[:] = (40, 40, 40)  # dark housing
    box = np.array([10.0, 10.0, 50.0, 90.0])
    red, green, amber = img.copy(), img.copy(), img.copy()
    cv2.circle(red, (30, 25), 8, (30, 30, 240), -1)
    cv2.circle(green, (30, 75), 8, (150, 230, 40), -1)
    cv2.circle(amber, (30, 50), 8, (0, 190, 255), -1)
    assert lamp_colour(red, box) == "red"
    assert lamp_colour(green, box) == "green"
    assert lamp_colour(amber, box) == "yellow"
    assert lamp_colour(img, box) == "unknown"
    assert lamp_colour(img, np.array([0.0, 0.0, 1.0, 1.0])) == "unknown"


def test_a_bare_onnx_file_is_refused_without_its_card(models_root: Path, tmp_path: Path) -> None:
    with pytest.raises(ModelCardError, match="a model needs its card"):
        load_card(models_root / "fastestdet" / "FastestDet.onnx")
    model = tmp_path / "m.onnx"
    model.write_bytes(b"x")
    (tmp_path / "coco80.txt").write_text((CARDS_DIR / "coco80.txt").read_text())
    (tmp_path / "m.toml").write_text(YOLOX_CARD)
    assert load_card(model).name == "yolox-nano"  # the card beside the model


def _reference_blob(img: np.ndarray, card: ModelCard) -> np.ndarray:
    """The plain formulation: letterbox into a new canvas, transpose, cast, normalise."""
    h, w = img.shape[:2]
    r = min(card.input_width / w, card.input_height / h)
    nw, nh = max(1, round(w * r)), max(1, round(h * r))
    canvas = np.full((card.input_height, card.input_width, 3), card.pad_value, np.uint8)
    px = (card.input_width - nw) // 2 if card.align == "centre" else 0
    py = (card.input_height - nh) // 2 if card.align == "centre" else 0
    if card.resize == "letterbox":
        canvas[py : py + nh, px : px + nw] = cv2.resize(img, (nw, nh), interpolation=cv2.INTER_LINEAR)
    else:
        canvas = cv2.resize(img, (card.input_width, card.input_height), interpolation=cv2.INTER_LINEAR)
    if card.colour == "RGB":
        canvas = cv2.cvtColor(canvas, cv2.COLOR_BGR2RGB)
    blob = canvas.transpose(2, 0, 1)[None].astype(np.float32) * np.float32(card.scale)
    mean = np.asarray(card.mean, np.float32).reshape(1, 3, 1, 1)
    std = np.asarray(card.std, np.float32).reshape(1, 3, 1, 1)
    return np.ascontiguousarray((blob - mean) / std) if any(card.mean) or any(s != 1 for s in card.std) else blob


@pytest.mark.parametrize("size", [(720, 1280), (375, 1242), (1000, 300), (17, 5), (1, 1)])
def test_preprocess_equals_plain_formulation(size: tuple[int, int]) -> None:
    """Resizing straight into the canvas and casting plane by plane changes no value."""
    rng = np.random.default_rng(size[0])
    img = rng.integers(0, 256, (*size, 3), dtype=np.uint8)
    yolox_card = load_card("yolox-nano")
    cards = [
        yolox_card,
        load_card("fastestdet"),
        yolox_card.model_copy(update={"align": "centre", "colour": "RGB", "scale": 1 / 255}),
        yolox_card.model_copy(update={"mean": (0.485, 0.456, 0.406), "std": (0.229, 0.224, 0.225), "scale": 1 / 255}),
    ]
    for card in cards:
        blob, _ = preprocess_image(img, card)
        ref = _reference_blob(img, card)
        assert blob.flags.c_contiguous and blob.dtype == np.float32
        assert np.array_equal(blob, ref), card.name


def test_opencv_threads_restored() -> None:
    from saferoad.adapters.onnx.detector import opencv_threads

    before = cv2.getNumThreads()
    cv2.setNumThreads(3)  # a value the block must change and put back, whatever the machine
    try:
        with opencv_threads(1):
            assert cv2.getNumThreads() == 1
        assert cv2.getNumThreads() == 3
    finally:
        cv2.setNumThreads(before)


def test_overlapping_parallel_settings_restored_by_the_last_to_leave() -> None:
    """Two pipelines in one process (``serve`` runs analyses at once) whose pools end in
    the order they started: the first to end leaves the settings to the one still running,
    the last puts the process's own values back (not the temporary ones)."""
    import sys
    from contextlib import ExitStack

    from saferoad.adapters.onnx.detector import opencv_threads
    from saferoad.application.perception import GIL_SWITCH_INTERVAL_S, _gil_switch_interval

    before = (cv2.getNumThreads(), sys.getswitchinterval())
    cv2.setNumThreads(3)
    sys.setswitchinterval(0.005)
    try:
        first, second = ExitStack(), ExitStack()
        for stack in (first, second):
            stack.enter_context(opencv_threads(1))
            stack.enter_context(_gil_switch_interval(GIL_SWITCH_INTERVAL_S))
        first.close()  # not last-in-first-out
        assert (cv2.getNumThreads(), sys.getswitchinterval()) == (1, GIL_SWITCH_INTERVAL_S)
        second.close()
        assert (cv2.getNumThreads(), sys.getswitchinterval()) == (3, 0.005)
    finally:
        cv2.setNumThreads(before[0])
        sys.setswitchinterval(before[1])

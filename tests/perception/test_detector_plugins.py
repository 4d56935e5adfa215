"""Detector plugins keyed by ``perception.detector``'s ``type`` (issue 16 item 5): the old
string form and the table form validate through the same union, an old-style config keeps
its fingerprints, and a detector written as one module (``json_boxes_detector.py``) is
configured and built without editing any other module."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from saferoad.adapters.detectors import DETECTORS, build_detector, register, unregister
from saferoad.application.evaluation.cache import analysis_fingerprint
from saferoad.config import ConfigError, config_hash, load_config
from saferoad.config.detectors import GrpcDetectorConfig, ReplayDetectorConfig, detector_variants
from saferoad.domain.types import Frame, RoadClass

# Measured on the code before the table form existed (commit 69ec618, `perception.detector`
# a Literal string): config_hash of the perception section, per old-style detector.
OLD_PERCEPTION_HASH = {"onnx": "87961af07e272e28", "grpc": "3fbdc6da2fd0dd0c", "replay": "0f2a4a81b0087a3a"}


@pytest.mark.parametrize("name", ["onnx", "grpc", "replay"])
def test_an_old_style_config_keeps_its_fingerprints(name: str, tmp_path: Path) -> None:
    old = load_config(None, {"perception": {"detector": name}})
    assert old.perception.detector.type == name
    data = old.model_dump(mode="json")
    assert data["perception"]["detector"] == name  # dumps as the bare name, as before
    assert config_hash(data["perception"]) == OLD_PERCEPTION_HASH[name]
    # the same detector written as a table, every key at its default, is the same config
    conf = tmp_path / "c.toml"
    conf.write_text(f'[perception.detector]\ntype = "{name}"\n', encoding="utf-8")
    table = load_config(conf)
    assert table.fingerprint() == old.fingerprint()
    assert analysis_fingerprint(table) == analysis_fingerprint(old)


def test_the_table_form_is_checked_by_its_type_and_changes_the_fingerprint(tmp_path: Path) -> None:
    conf = tmp_path / "c.toml"
    conf.write_text('[perception.detector]\ntype = "grpc"\nurl = "grpc://10.0.0.5:8001/yolox"\n', encoding="utf-8")
    cfg = load_config(conf)
    assert isinstance(cfg.perception.detector, GrpcDetectorConfig)
    assert cfg.perception.detector.url == "grpc://10.0.0.5:8001/yolox"
    assert cfg.model_dump(mode="json")["perception"]["detector"] == {"type": "grpc", "url": "grpc://10.0.0.5:8001/yolox"}
    assert cfg.fingerprint() != load_config(None, {"perception": {"detector": "grpc"}}).fingerprint()
    # a key of another type, an unknown type, a table without a type: named errors
    for body, why in [
        ('type = "onnx"\nurl = "grpc://x:1/m"\n', r"perception\.detector: .*url: unknown key"),
        ('type = "yolo9000"\n', r"unknown detector type 'yolo9000' \(known: .*grpc, onnx, replay"),
        ('path = "d.json"\n', r"needs a type"),
        ('type = "replay"\npath = 3\n', r"path: Input should be a valid string"),
    ]:
        conf.write_text("[perception.detector]\n" + body, encoding="utf-8")
        with pytest.raises(ConfigError, match=why) as err:
            load_config(conf)
        assert str(conf) in str(err.value)


def test_the_replay_table_names_its_file(tmp_path: Path) -> None:
    labels = tmp_path / "detections.json"
    labels.write_text(json.dumps({"frames": []}), encoding="utf-8")
    cfg = load_config(None, {"perception": {"detector": {"type": "replay", "path": str(labels)}}})
    assert isinstance(cfg.perception.detector, ReplayDetectorConfig)
    det = build_detector(cfg)
    assert det.name.startswith("replay")


@pytest.fixture
def json_boxes() -> Iterator[ModuleType]:
    """The plugin module, loaded from its file and registered for this test only."""
    path = Path(__file__).with_name("json_boxes_detector.py")
    spec = importlib.util.spec_from_file_location("json_boxes_detector", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    spec.loader.exec_module(mod)
    register(mod.CONFIG, mod.build)
    try:
        yield mod
    finally:
        unregister("json-boxes")
        sys.modules.pop(spec.name, None)


def test_a_one_module_plugin_is_configured_and_built(json_boxes: ModuleType, tmp_path: Path) -> None:
    assert "json-boxes" in DETECTORS and "json-boxes" in detector_variants()
    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps({"boxes": [[10, 20, 110, 90, 0.9, "vehicle"], [200, 5, 230, 40, 0.7, "stop_sign"]]}))
    conf = tmp_path / "c.toml"
    conf.write_text(f'[perception.detector]\ntype = "json-boxes"\npath = "{boxes}"\n', encoding="utf-8")
    cfg = load_config(conf)
    det = build_detector(cfg)
    assert isinstance(det, json_boxes.JsonBoxesDetector)
    out = det.detect(Frame(0, 0.0, np.zeros((240, 320, 3), np.uint8)))
    np.testing.assert_allclose(out.xyxy, [[10, 20, 110, 90], [200, 5, 230, 40]])
    np.testing.assert_allclose(out.scores, [0.9, 0.7])
    assert out.classes == (RoadClass.VEHICLE, RoadClass.STOP_SIGN)
    # its own keys are checked by its own model, and its table dumps and reloads
    assert cfg.model_dump(mode="json")["perception"]["detector"] == {"type": "json-boxes", "path": str(boxes)}
    conf.write_text('[perception.detector]\ntype = "json-boxes"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match=r"path: Field required"):
        load_config(conf)


def test_a_plugin_is_gone_once_unregistered(json_boxes: ModuleType) -> None:
    unregister("json-boxes")
    with pytest.raises(ConfigError, match="unknown detector type 'json-boxes'"):
        load_config(None, {"perception": {"detector": "json-boxes"}})
    register(json_boxes.CONFIG, json_boxes.build)  # the fixture drops it again


@pytest.mark.parametrize("detector", ["replay", {"type": "grpc", "url": "grpc://10.0.0.5:8001/yolox"}])
def test_config_show_writes_the_detector_back_in_a_form_that_reloads(detector: object) -> None:
    import tomllib

    from saferoad.config import config_from_dict, to_toml

    cfg = load_config(None, {"perception": {"detector": detector}})
    text = to_toml(cfg)
    assert ("[perception.detector]" in text) == isinstance(detector, dict)
    again = config_from_dict(tomllib.loads(text))
    assert again.perception.detector == cfg.perception.detector
    assert again.fingerprint() == cfg.fingerprint()

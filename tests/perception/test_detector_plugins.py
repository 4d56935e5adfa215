"""Detector plugins keyed by ``perception.detector``'s ``type`` (issue 16 item 5): the old
string form and the table form validate through the same union, an old-style config keeps
its fingerprints, and a detector written as one module (``json_boxes_detector.py``) is
configured and built without editing any other module."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

from saferoad.adapters.detectors import DETECTORS, build_detector, register, unregister
from saferoad.adapters.detectors.grpc import GrpcDetectorConfig
from saferoad.adapters.detectors.replay import ReplayDetectorConfig
from saferoad.application.evaluation.cache import analysis_fingerprint
from saferoad.config import ConfigError, config_hash, load_config
from saferoad.config.detectors import detector_variants, register_detector_config
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


def test_a_detector_type_is_taken_by_its_class_and_an_unknown_one_is_named_once(
    json_boxes: ModuleType, tmp_path: Path
) -> None:
    # the same class again: no change; another class under its type, even a copy from the same
    # module (a re-imported plugin), is refused naming the class that holds the type
    assert register_detector_config(json_boxes.CONFIG) is json_boxes.CONFIG
    copy = type(json_boxes.CONFIG.__name__, (json_boxes.CONFIG,), {"__module__": json_boxes.CONFIG.__module__})
    with pytest.raises(ValueError, match=rf"^detector type 'json-boxes' is already registered by {json_boxes.CONFIG.__name__}$"):
        register_detector_config(copy)
    assert detector_variants()["json-boxes"] is json_boxes.CONFIG
    conf = tmp_path / "c.toml"
    conf.write_text('[perception.detector]\ntype = "yolo9000"\n', encoding="utf-8")
    with pytest.raises(ConfigError) as err:
        load_config(conf)
    line = str(err.value).splitlines()[-1]
    assert line.startswith("  perception.detector: ") and line.count("perception.detector") == 1, line
    assert "unknown detector type 'yolo9000' (known: grpc, json-boxes, onnx, replay)" in line, line


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


# --- in-tree plugins: one module each (issue 16: "adding a detector touches one module") ---

SRC = Path(__file__).resolve().parents[2] / "src"


def test_every_in_tree_detector_is_one_module_registered_on_import() -> None:
    """Each module of ``saferoad/adapters/detectors`` (but the registry) is a plugin: its
    ``CONFIG`` and ``build`` are what the two tables hold under its name, and its config model
    is defined in the module itself; only ``onnx``'s, ``perception.detector``'s default, sits in
    ``config/detectors.py``, which defines no other."""
    import pkgutil

    import saferoad.adapters.detectors as package
    from saferoad.config import detectors as config_detectors

    names = sorted(m.name for m in pkgutil.iter_modules(package.__path__) if m.name != "registry")
    assert {"grpc", "onnx", "replay"} <= set(names)
    for name in names:
        mod = importlib.import_module(f"saferoad.adapters.detectors.{name}")
        tag = config_detectors.detector_tag(mod.CONFIG)
        assert detector_variants()[tag] is mod.CONFIG and DETECTORS[tag] is mod.build, name
        if name != "onnx":
            assert mod.CONFIG.__module__ == mod.__name__, f"{name}'s config model lives in {mod.CONFIG.__module__}"
    in_config = {
        v for v in vars(config_detectors).values()
        if isinstance(v, type) and issubclass(v, config_detectors.DetectorConfig) and v is not config_detectors.DetectorConfig
    }
    assert in_config == {config_detectors.OnnxDetectorConfig}


def _tree_with(tmp_path: Path, module: str, text: str) -> Path:
    """A copy of ``src/saferoad`` with one file added at ``module`` (a path inside it)."""
    import shutil

    root = tmp_path / "src"
    shutil.copytree(SRC / "saferoad", root / "saferoad", ignore=shutil.ignore_patterns("__pycache__"))
    (root / "saferoad" / module).write_text(text, encoding="utf-8")
    return root


def _run(root: Path, code: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root)}  # ahead of the editable install's src/
    return subprocess.run(
        [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, timeout=120, check=False
    )


def _python(root: Path, code: str, *args: str) -> str:
    out = _run(root, code, *args)
    assert out.returncode == 0, out.stderr[-3000:]
    return out.stdout


def test_a_module_dropped_into_the_package_is_the_whole_change(tmp_path: Path) -> None:
    """The recipe of docs/architecture.md ("Add a detector"): ``json_boxes_detector.py`` with
    the one line an in-tree module ends with, put in ``adapters/detectors/`` of a copy of the
    source and NOTHING else edited: ``saferoad config docs`` lists its type and keys, a config
    naming it loads through the CLI (a bad key named), and the detector builds and runs."""
    plugin = Path(__file__).with_name("json_boxes_detector.py").read_text(encoding="utf-8")
    plugin += "\n\nfrom saferoad.adapters.detectors.registry import register  # noqa: E402\n\nregister(CONFIG, build)\n"
    root = _tree_with(tmp_path, "adapters/detectors/json_boxes.py", plugin)
    cli = "import sys, saferoad; assert saferoad.__file__.startswith(sys.argv[1]), saferoad.__file__; " \
          "sys.argv[1:] = sys.argv[2:]; from saferoad.entrypoints.cli.app import main; main()"

    docs = _python(root, cli, str(root), "config", "docs")
    assert '| `detector.type = "json-boxes"` | | Fixed boxes from a JSON file. |' in docs
    assert '| `detector.path` (type = "json-boxes") | required |' in docs

    boxes = tmp_path / "boxes.json"
    boxes.write_text(json.dumps({"boxes": [[10, 20, 110, 90, 0.9, "vehicle"]]}), encoding="utf-8")
    conf = tmp_path / "c.toml"
    conf.write_text(f'[perception.detector]\ntype = "json-boxes"\npath = "{boxes}"\n', encoding="utf-8")
    shown = _python(root, cli, str(root), "config", "show", "-c", str(conf))
    assert f'[perception.detector]\ntype = "json-boxes"\npath = "{boxes}"' in shown

    built = _python(root, (
        "import sys, numpy as np, saferoad\n"
        "from saferoad.adapters.detectors import build_detector\n"
        "from saferoad.domain.types import Frame\n"
        "from pathlib import Path\n"
        "det = build_detector(saferoad.load_config(Path(sys.argv[1])))\n"
        "out = det.detect(Frame(0, 0.0, np.zeros((240, 320, 3), np.uint8)))\n"
        "print(type(det).__module__, out.xyxy.tolist(), [c.value for c in out.classes])\n"
    ), str(conf))
    assert built.split()[0] == "saferoad.adapters.detectors.json_boxes"
    assert "[[10.0, 20.0, 110.0, 90.0]]" in built and "vehicle" in built

    conf.write_text('[perception.detector]\ntype = "json-boxes"\npth = "x"\n', encoding="utf-8")
    bad = _run(root, cli, str(root), "config", "show", "-c", str(conf))
    assert bad.returncode == 2
    assert str(conf) in bad.stderr and "pth: unknown key" in bad.stderr


def test_a_fresh_process_knows_the_plugins_through_the_public_api_and_unpickling() -> None:
    """What registers the in-tree plugins in a process that has not imported them: the public
    ``saferoad.load_config``, and unpickling a config (a spawn or Ray worker), whose model's
    module registers the package. ``saferoad.config`` alone knows only ``onnx`` and says why."""
    import pickle

    cfg = load_config(None, {"perception": {"detector": {"type": "grpc", "url": "grpc://10.0.0.5:8001/yolox"}}})
    code = (
        "import pickle, sys\n"
        "from saferoad.config import config_from_dict, load_config\n"
        "try:\n"
        "    load_config(None, {'perception': {'detector': 'replay'}})\n"
        "except ValueError as err:\n"
        "    print('alone:', str(err).splitlines()[-1])\n"
        "cfg = pickle.loads(sys.stdin.buffer.read())\n"
        "again = config_from_dict(cfg.model_dump(mode='json'), '<worker>')\n"
        "print('unpickled:', type(again.perception.detector).__name__, again.perception.detector.url,\n"
        "      again.fingerprint() == cfg.fingerprint(), load_config(None, {'perception': {'detector': 'replay'}}).perception.detector.type)\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], input=pickle.dumps(cfg), capture_output=True, timeout=120, check=False
    )
    assert out.returncode == 0, out.stderr.decode()[-3000:]
    text = out.stdout.decode()
    assert "alone:" in text and "unknown detector type 'replay'" in text and "saferoad.adapters.detectors is imported" in text
    assert "unpickled: GrpcDetectorConfig grpc://10.0.0.5:8001/yolox True replay" in text
    public = subprocess.run(
        [sys.executable, "-c", "import saferoad; print(saferoad.load_config(None, {'perception': {'detector': 'replay'}}).perception.detector.type)"],
        capture_output=True, text=True, timeout=120, check=False,
    )
    assert public.returncode == 0 and public.stdout.strip() == "replay", public.stderr[-2000:]

"""Recording formats are registered by their modules (issue 16: "adding a recording format
touches one module"): ``adapters/recording/registry.py`` holds one entry per layout, each reader
module ends with its ``register(...)`` line, the package imports every module it holds. A toy
layout (one CSV of IMU samples) written as one module is detected, read, analysed and listed in
the "not a recording folder" error, registered from the test or dropped into a copy of ``src/``
with nothing else edited; without it the folder is unknown again."""

from __future__ import annotations

import importlib
import importlib.util
import json
import os
import pkgutil
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest
from typer.testing import CliRunner

import saferoad.adapters.recording as package
from saferoad.adapters.recording import (
    comma2k19,
    detect_format,
    formats,
    open_recording,
    register,
    unregister,
)
from saferoad.adapters.recording.registry import DEFAULT_PRIORITY, expected_layouts
from saferoad.entrypoints.cli.app import app

BUILT_IN_MESSAGE = (
    "not a recording folder: expected meta.toml (saferoad), "
    "acelerometro_terra.csv + viagem.json (driverBehaviorDataset) or processed_log/ (comma2k19)"
)
"""The message as it read when the layouts were a hard-coded list (commit eacf19e)."""

TOY_READER = '''"""A toy layout: one CSV of IMU samples in the vehicle frame (``toy_imu.csv``)."""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from saferoad.adapters.recording.registry import register
from saferoad.adapters.recording.series import check_imu_units, clean_imu
from saferoad.domain.recording import Recording, RecordingMeta
from saferoad.domain.types import ImuSeries

FORMAT_NAME = "toy-imu"
COLUMNS = ["t_s", "ax", "ay", "az"]


def can_read(path: Path) -> bool:
    return (path / "toy_imu.csv").is_file()


def read_toy(path: Path) -> Recording:
    file = path / "toy_imu.csv"
    rows: list[list[float]] = []
    with file.open(encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        if next(reader, None) != COLUMNS:
            raise ValueError(f"{file}:1: header must be {','.join(COLUMNS)}")
        for line, row in enumerate(reader, start=2):
            try:
                rows.append([float(v) for v in row])
            except ValueError:
                raise ValueError(f"{file}:{line}: field {row!r}: not four numbers") from None
            if len(row) != 4:
                raise ValueError(f"{file}:{line}: {len(row)} fields, expected 4")
    data = np.asarray(rows, dtype=np.float64).reshape(-1, 4)
    imu = ImuSeries(data[:, 0], data[:, 1:], None, frame="vehicle")
    check_imu_units(imu, file)
    return Recording(path=path, source_format=FORMAT_NAME, meta=RecordingMeta(vehicle_id="toy"),
                     imu=clean_imu(imu, file))


register(FORMAT_NAME, can_read, read_toy, expects="toy_imu.csv")
'''

G = 9.80665


def _toy_folder(root: Path) -> Path:
    """60 s at 50 Hz, at rest but for a 2 s brake at 0.5 g from t = 30 s."""
    root.mkdir(parents=True, exist_ok=True)
    t = np.arange(0.0, 60.0, 0.02)
    ax = np.where((t >= 30.0) & (t < 32.0), -0.5 * G, 0.0)
    lines = ["t_s,ax,ay,az"] + [f"{ti:.2f},{a:.5f},0,{G}" for ti, a in zip(t, ax, strict=True)]
    (root / "toy_imu.csv").write_text("\n".join(lines) + "\n", encoding="utf-8")
    return root


@pytest.fixture
def toy(tmp_path: Path) -> Iterator[ModuleType]:
    """The toy reader module, loaded from its file and registered for this test only."""
    path = tmp_path / "toy_imu_reader.py"
    path.write_text(TOY_READER, encoding="utf-8")
    spec = importlib.util.spec_from_file_location("toy_imu_reader", path)
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = mod
    try:
        spec.loader.exec_module(mod)  # its last line registers it
        yield mod
    finally:
        unregister("toy-imu")
        sys.modules.pop(spec.name, None)


def test_the_built_in_layouts_keep_their_order_and_message(tmp_path: Path) -> None:
    assert [f.name for f in formats()] == ["saferoad", "driver-behavior-dataset", "comma2k19"]
    with pytest.raises(ValueError) as err:
        open_recording(tmp_path)
    assert str(err.value) == f"{tmp_path}: {BUILT_IN_MESSAGE}"


def test_every_reader_module_registers_itself_and_the_helpers_do_not() -> None:
    """Each module of the package either registered one layout (its ``FORMAT_NAME``, its
    ``can_read``) or none (a helper); no layout is registered from elsewhere in the tree."""
    registered = {f.read.__module__: f for f in formats()}
    modules = sorted(m.name for m in pkgutil.iter_modules(package.__path__))
    readers = set()
    for name in modules:
        mod = importlib.import_module(f"{package.__name__}.{name}")
        fmt = registered.get(mod.__name__)
        if fmt is not None:
            readers.add(name)
            assert fmt.name == mod.FORMAT_NAME and fmt.can_read is mod.can_read, name
    assert readers == {"saferoad_format", "driver_behavior", "comma2k19"}
    assert set(modules) - readers >= {"_csv", "gps", "labels", "series", "registry"}
    assert set(registered) == {f"{package.__name__}.{n}" for n in readers}


def test_a_registered_reader_is_detected_read_and_listed(toy: ModuleType, tmp_path: Path) -> None:
    folder = _toy_folder(tmp_path / "drive")
    assert [f.name for f in formats()][-1] == "toy-imu"  # default priority: after the built-ins
    assert formats()[-1].priority == DEFAULT_PRIORITY
    assert detect_format(folder) == "toy-imu"
    rec = open_recording(folder)
    assert rec.source_format == "toy-imu" and rec.imu is not None and len(rec.imu) == 3000
    np.testing.assert_allclose(rec.imu.acc[1500], [-0.5 * G, 0.0, G], atol=1e-4)
    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(ValueError) as err:
        open_recording(empty)
    assert str(err.value).endswith(
        "processed_log/ (comma2k19) or toy_imu.csv (toy-imu)"
    ) and ", acelerometro_terra.csv + viagem.json (driverBehaviorDataset), " in str(err.value)
    # its own bad input is named by file and line
    (folder / "toy_imu.csv").write_text("t_s,ax,ay,az\n0,0,0,9.8\n0.1,x,0,9.8\n", encoding="utf-8")
    with pytest.raises(ValueError, match=r"toy_imu\.csv:3: field"):
        open_recording(folder)
    unregister("toy-imu")
    assert detect_format(folder) is None
    with pytest.raises(ValueError) as gone:
        open_recording(folder)
    assert str(gone.value) == f"{folder}: {BUILT_IN_MESSAGE}"


def test_a_name_taken_by_another_module_is_refused(toy: ModuleType) -> None:
    with pytest.raises(ValueError, match=r"recording format 'comma2k19' is already registered"):
        register("comma2k19", toy.can_read, toy.read_toy, expects="toy_imu.csv")
    assert next(f for f in formats() if f.name == "comma2k19").read is comma2k19.read_comma2k19
    with pytest.raises(ValueError, match="must not be empty"):
        register("toy-2", toy.can_read, toy.read_toy, expects="")


# --- the recipe of docs/architecture.md: one module dropped into a copy of the source ---

SRC = Path(__file__).resolve().parents[1] / "src"

CLI = ("import sys, saferoad; assert saferoad.__file__.startswith(sys.argv[1]), saferoad.__file__; "
       "sys.argv[1:] = sys.argv[2:]; from saferoad.entrypoints.cli.app import main; main()")

DETECT = ("import sys, saferoad; assert saferoad.__file__.startswith(sys.argv[1]), saferoad.__file__\n"
          "from pathlib import Path\n"
          "from saferoad.adapters.recording import detect_format, open_recording\n"
          "print(detect_format(Path(sys.argv[2])))\n"
          "try:\n"
          "    open_recording(Path(sys.argv[3]))\n"
          "except ValueError as err:\n"
          "    print(err)\n")


def _run(root: Path, code: str, *args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(root)}  # ahead of the editable install's src/
    return subprocess.run(
        [sys.executable, "-c", code, str(root), *args], env=env, capture_output=True, text=True, timeout=180,
        check=False,
    )


def test_a_module_dropped_into_the_package_is_the_whole_change(tmp_path: Path) -> None:
    """The toy reader put in ``adapters/recording/`` of a copy of the source and NOTHING else
    edited: ``detect_format`` names it, ``saferoad analyze`` reads and analyses the folder (the
    brake is a harsh-braking event), the error lists it; removed, the folder is unknown again
    (``analyze`` then finds no recording in it)."""
    root = tmp_path / "src"
    shutil.copytree(SRC / "saferoad", root / "saferoad", ignore=shutil.ignore_patterns("__pycache__"))
    module = root / "saferoad" / "adapters" / "recording" / "toy_imu.py"
    module.write_text(TOY_READER, encoding="utf-8")
    folder = _toy_folder(tmp_path / "drive")
    empty = tmp_path / "empty"
    empty.mkdir()

    found = _run(root, DETECT, str(folder), str(empty))
    assert found.returncode == 0, found.stderr[-3000:]
    name, message = found.stdout.splitlines()
    assert name == "toy-imu"
    assert message == f"{empty}: " + BUILT_IN_MESSAGE.replace(
        "driverBehaviorDataset) or processed_log/ (comma2k19)",
        "driverBehaviorDataset), processed_log/ (comma2k19) or toy_imu.csv (toy-imu)",
    )

    out = tmp_path / "out"
    analysed = _run(root, CLI, "analyze", str(folder), "-o", str(out), "-q")
    assert analysed.returncode == 0, analysed.stderr[-3000:]
    summary = json.loads((out / "summary.json").read_text(encoding="utf-8"))
    assert summary["source_format"] == "toy-imu" and summary["imu_samples"] == 3000
    events = [json.loads(line) for line in (out / "events.jsonl").read_text(encoding="utf-8").splitlines()]
    braking = [e for e in events if e["type"] == "harsh_braking"]
    assert len(braking) == 1, events
    assert 29.5 <= braking[0]["start_s"] < braking[0]["end_s"] <= 32.5

    module.unlink()
    gone = _run(root, DETECT, str(folder), str(folder))
    assert gone.returncode == 0, gone.stderr[-3000:]
    assert gone.stdout.splitlines() == ["None", f"{folder}: {BUILT_IN_MESSAGE}"]
    refused = _run(root, CLI, "analyze", str(folder), "-o", str(tmp_path / "out2"), "-q")
    # analyze takes a folder no reader knows for a fleet folder, finds no recording in it and
    # says both, with the layouts it knows
    assert refused.returncode == 2, refused.stderr[-3000:]
    said = " ".join(refused.stderr.split())
    assert "not a recording folder of a known layout (expected meta.toml (saferoad)," in said, said
    assert "and no recordings inside it" in said, said


def test_analyze_on_a_folder_no_reader_knows_says_both_readings(tmp_path: Path) -> None:
    """One folder meant as a recording but of no known layout: analyze takes it for a fleet
    folder (it is not a recording) and, finding none inside, says it is neither - the layouts
    it knows, as open_recording lists them, and no recordings below it - with exit status 2."""
    folder = tmp_path / "drive"
    folder.mkdir()
    (folder / "imu.csv").write_text("t,ax\n0,0\n", encoding="utf-8")
    res = CliRunner().invoke(app, ["analyze", str(folder), "-o", str(tmp_path / "out"), "-q"])
    assert res.exit_code == 2, res.output
    said = " ".join(res.output.split())
    assert f"not a recording folder of a known layout (expected {expected_layouts()})" in said, said
    assert "and no recordings inside it (no manifest.yaml, and no folder below it is a recording)" in said, said
    assert not (tmp_path / "out").exists()

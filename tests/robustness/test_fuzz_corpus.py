"""Fuzz corpus (issue #14, must show): every malformed case of the issue, and mutations (made
here, seeded) of a simulated recording and of a real one (driverBehaviorDataset trip 17), give a clear error naming the file, or a documented repair (a
``RecordingWarning``), or — when the damaged file is still a valid one — exactly what the file
now says (checked against an independent parse). Never a traceback, a hang or a silently
different result. The count of cases by outcome is printed.
"""

from __future__ import annotations

import csv
import math
import random
import re
import shutil
import signal
import warnings
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from saferoad.adapters.recording import RecordingWarning, open_recording
from saferoad.config import load_config
from saferoad.entrypoints.wiring import analyze_recording

CFG = load_config()
TIME_LIMIT_S = 20
N_MUTATIONS = 140

Mutation = Callable[[Path], None]


class Hang(Exception):
    pass


@contextmanager
def time_limit(seconds: int) -> Iterator[None]:
    def on_alarm(*_: Any) -> None:
        raise Hang(f"no result after {seconds} s")

    old = signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(seconds)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)


# --- the issue's cases ------------------------------------------------------------------------


def _lines(path: Path) -> list[str]:
    return path.read_text().splitlines()


def _write_lines(path: Path, lines: list[str]) -> None:
    path.write_text("\n".join(lines) + "\n")


def append_row(name: str, row: str) -> Mutation:
    def m(rec: Path) -> None:
        with (rec / name).open("a") as fh:
            fh.write(row + "\n")

    return m


def replace_text(name: str, old: str, new: str) -> Mutation:
    def m(rec: Path) -> None:
        text = (rec / name).read_text()
        assert re.search(old, text), (name, old)
        (rec / name).write_text(re.sub(old, new, text, count=1))

    return m


def garbage(name: str, at_line: int = 3) -> Mutation:
    def m(rec: Path) -> None:
        data = (rec / name).read_bytes()
        nl = [i for i, b in enumerate(data) if b == 0x0A]
        cut = nl[min(at_line, len(nl) - 1)] + 1
        (rec / name).write_bytes(data[:cut] + bytes(range(128, 256)) + data[cut:])

    return m


def whole_garbage(name: str) -> Mutation:
    def m(rec: Path) -> None:
        (rec / name).write_bytes(random.Random(name).randbytes(5000))

    return m


def far_fix(rec: Path) -> None:
    lines = _lines(rec / "gps.csv")
    f = lines[10].split(",")
    f[1] = str(float(f[1]) - 70.0)
    lines[10] = ",".join(f)
    _write_lines(rec / "gps.csv", lines)


def can_in_kmh(rec: Path) -> None:
    lines = _lines(rec / "gps.csv")[1:]
    rows = [(float(r.split(",")[0]), float(r.split(",")[3] or 0) * 3.6) for r in lines]
    (rec / "can.csv").write_text("t_s,speed_mps\n" + "".join(f"{t},{v}\n" for t, v in rows))


def sparse_huge(rec: Path) -> None:
    with (rec / "imu.csv").open("r+b") as fh:
        fh.truncate(1100 << 20)


def set_table(table: str, body: str) -> Mutation:
    def m(rec: Path) -> None:
        text = (rec / "meta.toml").read_text()
        text = re.sub(rf"\[{table}\]\n(?:[^\[\n][^\n]*\n|\n)*", "", text) + f"\n[{table}]\n{body}\n"
        (rec / "meta.toml").write_text(text)

    return m


def remove(name: str) -> Mutation:
    def m(rec: Path) -> None:
        (rec / name).unlink()

    return m


def truncate(name: str, keep: float) -> Mutation:
    def m(rec: Path) -> None:
        data = (rec / name).read_bytes()
        (rec / name).write_bytes(data[: int(len(data) * keep)])

    return m


ISSUE_CASES: dict[str, Mutation] = {
    "imu t=100000": append_row("imu.csv", "100000,0.1,0,9.81,0,0,0"),
    "imu t=1e6": append_row("imu.csv", "1000000,0.1,0,9.81,0,0,0"),
    "imu t=1e9": append_row("imu.csv", "1000000000,0.1,0,9.81,0,0,0"),
    "imu t=-5000": append_row("imu.csv", "-5000,0.1,0,9.81,0,0,0"),
    "imu t=1e300": append_row("imu.csv", "1e300,0.1,0,9.81,0,0,0"),
    "gps t=100000": append_row("gps.csv", "100000,35.68,139.76,10,90,30"),
    "imu jump for 2 s": lambda rec: append_row("imu.csv", "\n".join(f"{1e6 + i / 100},0.1,0,9.81,0,0,0" for i in range(200)))(rec),
    "gps clock 5000 s off": lambda rec: _write_lines(
        rec / "gps.csv",
        [_lines(rec / "gps.csv")[0]]
        + [",".join([str(float(r.split(",")[0]) + 5000), *r.split(",")[1:]]) for r in _lines(rec / "gps.csv")[1:]],
    ),
    "gps fix 7800 km away": far_fix,
    "can in km/h": can_in_kmh,
    "fx negative": set_table("camera", "width = 640\nheight = 360\nfx = -320.0"),
    "fx zero": set_table("camera", "width = 640\nheight = 360\nfx = 0.0"),
    "width wide": set_table("camera", 'width = "wide"\nheight = 360'),
    "hfov 0": set_table("camera", "width = 640\nheight = 360\nhfov_deg = 0.0"),
    "height nan": set_table("camera", "width = 640\nheight = 360\nheight_m = nan"),
    "cabin no height": set_table("cabin_camera", "width = 640"),
    "mounting 2x2": set_table("imu", "mounting = [[1, 0], [0, 1]]"),
    "mounting text": set_table("imu", 'mounting = "identity"'),
    "units kg": set_table("imu", 'units = "kg"'),
    "time zone unknown": replace_text("meta.toml", r'timezone = "[^"]*"', 'timezone = "Mars/Olympus_Mons"'),
    "time zone number": replace_text("meta.toml", r'timezone = "[^"]*"', "timezone = 9"),
    "format_version 99": replace_text("meta.toml", r"format_version = 1", "format_version = 99"),
    "format_version text": replace_text("meta.toml", r"format_version = 1", 'format_version = "1"'),
    "misspelt key": replace_text("meta.toml", r"\[vehicle\]\n", '[vehicle]\ntpye = "van"\n'),
    "misspelt table": replace_text("meta.toml", r"\[driver\]", "[drivre]"),
    "vehicle spaceship": replace_text("meta.toml", r'type = "car"', 'type = "spaceship"'),
    "start without zone": replace_text("meta.toml", r"start_utc = (\S+)Z", r"start_utc = \1"),
    "start missing": replace_text("meta.toml", r"start_utc = \S+\n", ""),
    "start text": replace_text("meta.toml", r"start_utc = \S+", 'start_utc = "yesterday"'),
    "driver id empty": replace_text("meta.toml", r'\[driver\]\nid = "[^"]*"', '[driver]\nid = ""'),
    "meta garbage": garbage("meta.toml"),
    "meta all garbage": whole_garbage("meta.toml"),
    "meta not toml": replace_text("meta.toml", r"\[fleet\]", "[fleet"),
    "meta empty": lambda rec: (rec / "meta.toml").write_text(""),
    "imu garbage": garbage("imu.csv"),
    "imu all garbage": whole_garbage("imu.csv"),
    "gps garbage": garbage("gps.csv"),
    "labels garbage": garbage("labels.jsonl", 0),
    "imu over the size limit": sparse_huge,
    "imu NUL line": lambda rec: _write_lines(rec / "imu.csv", [*_lines(rec / "imu.csv")[:5], "\0" * 100_000, *_lines(rec / "imu.csv")[5:]]),
    "imu empty": lambda rec: (rec / "imu.csv").write_text(""),
    "imu header only": lambda rec: _write_lines(rec / "imu.csv", _lines(rec / "imu.csv")[:1]),
    "imu cut mid-row": truncate("imu.csv", 0.5),
    "gps cut mid-row": truncate("gps.csv", 0.37),
    "imu missing": remove("imu.csv"),
    "imu and gps missing": lambda rec: (remove("imu.csv")(rec), remove("gps.csv")(rec)),
    "imu nan": replace_text("imu.csv", r"\n(0\.5,[^,]+),[^,]+,", r"\n\1,nan,"),
    "imu inf": replace_text("imu.csv", r"\n(0\.5,[^,]+),[^,]+,", r"\n\1,inf,"),
    "imu in g": lambda rec: _write_lines(
        rec / "imu.csv",
        [_lines(rec / "imu.csv")[0]]
        + [",".join([r.split(",")[0], *(str(float(v) / 9.81) for v in r.split(",")[1:4]), *r.split(",")[4:]]) for r in _lines(rec / "imu.csv")[1:]],
    ),
    "imu rows shuffled": lambda rec: _write_lines(
        rec / "imu.csv", [_lines(rec / "imu.csv")[0], *random.Random(1).sample(_lines(rec / "imu.csv")[1:], len(_lines(rec / "imu.csv")) - 1)]
    ),
    "imu duplicated rows": lambda rec: _write_lines(rec / "imu.csv", [_lines(rec / "imu.csv")[0], *[r for r in _lines(rec / "imu.csv")[1:] for _ in (0, 1)]]),
    "gps lat 123": replace_text("gps.csv", r"\n(0\.3),[^,]+,", r"\n\1,123,"),
    "gps CRLF": lambda rec: (rec / "gps.csv").write_bytes((rec / "gps.csv").read_bytes().replace(b"\n", b"\r\n")),
    "imu BOM": lambda rec: (rec / "imu.csv").write_bytes(b"\xef\xbb\xbf" + (rec / "imu.csv").read_bytes()),
    "imu extra column": lambda rec: _write_lines(rec / "imu.csv", [r + ",x" for r in _lines(rec / "imu.csv")]),
    "imu missing column": lambda rec: _write_lines(rec / "imu.csv", [",".join(r.split(",")[:3]) for r in _lines(rec / "imu.csv")]),
    "labels bad type": lambda rec: (rec / "labels.jsonl").write_text('{"type": "teleport", "start_s": 1, "end_s": 2}\n'),
    "labels end before start": lambda rec: (rec / "labels.jsonl").write_text('{"type": "harsh_braking", "start_s": 5, "end_s": 2}\n'),
}


# --- generated mutations of a real recording ---------------------------------------------------


def random_mutation(rng: random.Random) -> tuple[str, Mutation]:
    name = rng.choice(["imu.csv", "imu.csv", "gps.csv", "gps.csv", "meta.toml", "labels.jsonl"])
    kind = rng.choice(["flip", "delete", "insert", "dup_line", "drop_line", "swap_lines", "cut", "splice_field"])
    seed = rng.randrange(1 << 30)

    def m(rec: Path) -> None:
        r = random.Random(seed)
        data = bytearray((rec / name).read_bytes())
        if kind == "flip":
            for _ in range(r.randint(1, 4)):
                i = r.randrange(len(data))
                data[i] = r.choice(b"0123456789.,-eE\n \x00\xff") if r.random() < 0.7 else r.randrange(256)
        elif kind == "delete":
            i = r.randrange(len(data))
            del data[i : i + r.randint(1, 40)]
        elif kind == "insert":
            i = r.randrange(len(data))
            data[i:i] = r.choice([b",", b"\n", b"nan", b"1e309", b'"', b"#", b"\t", b"-", b"[", b"=", r.randbytes(8)])
        elif kind == "cut":
            del data[r.randrange(len(data)) :]
        else:
            lines = bytes(data).split(b"\n")
            i, j = r.randrange(len(lines)), r.randrange(len(lines))
            if kind == "dup_line":
                lines.insert(j, lines[i])
            elif kind == "drop_line":
                del lines[i]
            elif kind == "swap_lines":
                lines[i], lines[j] = lines[j], lines[i]
            else:
                f = lines[i].split(b",")
                f[r.randrange(len(f))] = r.choice([b"", b"abc", b"1e400", b"-0", b"  3  ", b"0x10"])
                lines[i] = b",".join(f)
            data = bytearray(b"\n".join(lines))
        (rec / name).write_bytes(bytes(data))

    return f"{name} {kind} #{seed}", m


# --- outcomes ---------------------------------------------------------------------------------


def _reference_csv(path: Path, columns: list[str]) -> np.ndarray | None:
    """An independent parse (csv module + float) of the named columns, or None if not clean."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as fh:
            rows = [r for r in csv.reader(fh) if r and any(x.strip() for x in r)]
    except (UnicodeDecodeError, csv.Error):
        return None
    header = [h.strip() for h in rows[0]]
    idx = [header.index(c) for c in columns]
    try:
        out = np.array([[float(r[i]) for i in idx] for r in rows[1:] if len(r) == len(header)], dtype=np.float64)
    except (ValueError, IndexError):
        return None
    return out


def _oracle_imu(rec: Path, recording: Any) -> bool:
    """The IMU read without a warning is exactly what imu.csv says (sorted by time)."""
    ref = _reference_csv(rec / "imu.csv", ["t_s", "ax", "ay", "az"])
    if ref is None or recording.imu is None:
        return False
    ref = ref[np.argsort(ref[:, 0], kind="stable")]
    got = np.column_stack([recording.imu.t_s, recording.imu.acc])
    return got.shape == ref.shape and bool(np.allclose(got, ref, rtol=1e-12, atol=0, equal_nan=True))


def classify(rec: Path, clean: dict[str, Any], mutated: str) -> tuple[str, str]:
    """``(outcome, detail)``: error / repaired / valid / FAIL (a traceback, a hang, an error
    naming no file, or a silently different result)."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with time_limit(TIME_LIMIT_S):
                recording = open_recording(rec)
                result = analyze_recording(recording, CFG, None)
        except Hang as err:
            return "FAIL", f"hang: {err}"
        except (ValueError, FileNotFoundError) as err:
            msg = str(err)
            names_file = str(rec) in msg or any(p.name in msg for p in rec.iterdir())
            return ("error", msg) if names_file else ("FAIL", f"error naming no file: {type(err).__name__}: {msg}")
        except Exception as err:  # a traceback is what this test looks for
            return "FAIL", f"traceback: {type(err).__name__}: {err}"
    repairs = [w for w in caught if issubclass(w.category, RecordingWarning)]
    if repairs:
        msgs = [str(w.message) for w in repairs]
        if not all(str(rec) in m or "meta.toml" in m or ".csv" in m or ".mp4" in m for m in msgs):
            return "FAIL", f"a repair naming no file: {msgs}"
        return "repaired", msgs[0]
    summary = result.summary
    if not (rec / mutated).exists() and summary.get("motion_mode") in ("gps-only", "no-imu"):
        return "valid", f"{mutated} is gone: analysed without it, summary.json says so ({summary['motion_mode']})"
    same = summary.get("distance_km") == clean.get("distance_km") and summary["event_counts"] == clean["event_counts"]
    if same and mutated in ("labels.jsonl", "meta.toml"):
        return "valid", "same result (the damage did not touch what analysis reads)"
    if mutated == "imu.csv" and _oracle_imu(rec, recording):
        return "valid", "a valid imu.csv: read exactly as an independent parse reads it"
    if mutated == "gps.csv":
        ref = _reference_csv(rec / "gps.csv", ["t_s", "lat", "lon"])
        if ref is not None and recording.gps is not None and len(recording.gps) == len(ref):
            ref = ref[np.argsort(ref[:, 0], kind="stable")]
            if np.allclose(np.column_stack([recording.gps.t_s, recording.gps.lat, recording.gps.lon]), ref, rtol=1e-12, atol=0):
                return "valid", "a valid gps.csv: read exactly as an independent parse reads it"
    if same:
        return "valid", "same result"
    return "FAIL", f"silently different result: distance {summary.get('distance_km')} vs {clean.get('distance_km')}"


@pytest.fixture(scope="module")
def clean_result(braking_master: Path) -> dict[str, Any]:
    with warnings.catch_warnings():
        warnings.simplefilter("error", RecordingWarning)  # the clean recording needs no repair
        return analyze_recording(open_recording(braking_master), CFG, None).summary


def _cases() -> list[tuple[str, Mutation]]:
    rng = random.Random(1414)
    return list(ISSUE_CASES.items()) + [random_mutation(rng) for _ in range(N_MUTATIONS)]


def _mutated_file(name: str) -> str:
    """The file a case damages, from its name ("imu ...", "gps.csv flip #..", "meta ...")."""
    for prefix, f in (("imu", "imu.csv"), ("gps", "gps.csv"), ("can", "can.csv"), ("labels", "labels.jsonl")):
        if name.startswith(prefix):
            return f
    return "meta.toml"


def test_fuzz_corpus(braking_master: Path, clean_result: dict[str, Any], tmp_path: Path) -> None:
    outcomes: Counter[str] = Counter()
    failures: list[str] = []
    for i, (name, mutate) in enumerate(_cases()):
        rec = Path(shutil.copytree(braking_master, tmp_path / f"case{i:03d}"))
        mutate(rec)
        outcome, detail = classify(rec, clean_result, _mutated_file(name))
        outcomes[outcome] += 1
        if outcome == "FAIL":
            failures.append(f"{name}: {detail}")
        shutil.rmtree(rec)
    total = sum(outcomes.values())
    print(f"\nfuzz corpus: {total} cases ({len(ISSUE_CASES)} from the issue, {N_MUTATIONS} generated): " + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())))
    assert failures == [], "\n".join(failures)
    assert outcomes["error"] > 0 and outcomes["repaired"] > 0 and math.isfinite(total)


# --- mutations of a real recording (driverBehaviorDataset trip 17, ../shared) ------------------

TRIP_FILES = ("acelerometro_terra.csv", "giroscopio_terra.csv", "viagem.json", "groundTruth.csv")
N_REAL_MUTATIONS = 60


def _trip_oracle(rec: Path, recording: Any) -> bool:
    """The accelerometer read without a warning is exactly what the mutated file says."""
    import json

    ref = _reference_csv(rec / "acelerometro_terra.csv", ["uptimeNanos", "x", "y", "z"])
    if ref is None or recording.imu is None:
        return False
    t0 = int(json.loads((rec / "viagem.json").read_text())["firstCollectionUptimeNanos"])
    ref[:, 0] = (ref[:, 0] - float(t0)) * 1e-9
    ref = ref[np.argsort(ref[:, 0], kind="stable")]
    got = np.column_stack([recording.imu.t_s, recording.imu.acc])
    return got.shape == ref.shape and bool(np.allclose(got, ref, rtol=1e-12, atol=0))


def test_fuzz_real_recording(shared_dir: Path, tmp_path: Path) -> None:
    src = shared_dir / "data" / "imu" / "driver-behavior-dataset" / "trip17"
    clean = analyze_recording(open_recording(src), CFG, None).summary
    rng = random.Random(17)
    outcomes: Counter[str] = Counter()
    failures: list[str] = []
    for i in range(N_REAL_MUTATIONS):
        name = rng.choice(["acelerometro_terra.csv", "acelerometro_terra.csv", "giroscopio_terra.csv", "viagem.json"])
        rec = tmp_path / f"trip{i:02d}"
        rec.mkdir()
        for f in TRIP_FILES:
            shutil.copyfile(src / f, rec / f)
        label, mutate = random_mutation(random.Random(rng.randrange(1 << 30)))
        # the generated mutation names a saferoad file: apply its kind to this recording's file
        (rec / label.split()[0]).write_bytes((rec / name).read_bytes())
        mutate(rec)
        (rec / name).write_bytes((rec / label.split()[0]).read_bytes())
        (rec / label.split()[0]).unlink()
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                with time_limit(TIME_LIMIT_S):
                    recording = open_recording(rec)
                    summary = analyze_recording(recording, CFG, None).summary
            except Hang as err:
                outcome, detail = "FAIL", f"hang: {err}"
            except (ValueError, FileNotFoundError) as err:
                named = str(rec) in str(err)
                outcome, detail = ("error", str(err)) if named else ("FAIL", f"error naming no file: {err}")
            except Exception as err:  # a traceback is what this test looks for
                outcome, detail = "FAIL", f"traceback: {type(err).__name__}: {err}"
            else:
                if any(issubclass(w.category, RecordingWarning) for w in caught):
                    outcome, detail = "repaired", ""
                elif summary["event_counts"] == clean["event_counts"] and summary["duration_s"] == clean["duration_s"]:
                    outcome, detail = "valid", "same result"
                elif name == "acelerometro_terra.csv" and _trip_oracle(rec, recording):
                    outcome, detail = "valid", "read exactly as an independent parse reads it"
                else:
                    outcome, detail = "FAIL", f"silently different result: {summary['event_counts']}"
        outcomes[outcome] += 1
        if outcome == "FAIL":
            failures.append(f"{name} {label}: {detail}")
        shutil.rmtree(rec)
    print(f"\nfuzz, real trip 17: {N_REAL_MUTATIONS} mutations: " + ", ".join(f"{k} {v}" for k, v in sorted(outcomes.items())))
    assert failures == [], "\n".join(failures)

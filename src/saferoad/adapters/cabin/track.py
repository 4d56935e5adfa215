"""``cabin.csv`` (a recorded or simulated per-frame signal track) and ``cabin.parquet``.

Columns (docs/recording-format.md): ``frame,t_s,face,ear_left,ear_right,eyes_closed,yaw_deg,
pitch_deg,roll_deg,mouth_open``, and optionally ``obstructed``, ``phone_score`` (0-1, the phone
detector's best phone, 0 or empty: none) and ``phone_at`` (``face``, ``hand`` or empty). Booleans are ``0``/``1`` or
``true``/``false``; measurements may be empty (or ``nan``) where ``face`` is false, and are
then ignored. Rows must be in time order: an exact duplicate row is dropped with a warning;
anything else out of order, a missing column, or a value that does not parse is a
``ValueError`` naming the file, line and column.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import replace
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from saferoad.domain.cabin.monitor import CabinState
from saferoad.domain.cabin.signals import CabinSample
from saferoad.observability import get_logger

COLUMNS = (
    "frame",
    "t_s",
    "face",
    "ear_left",
    "ear_right",
    "eyes_closed",
    "yaw_deg",
    "pitch_deg",
    "roll_deg",
    "mouth_open",
)
OPTIONAL = ("obstructed", "phone_score", "phone_at")
_TRUE = {"1", "true", "t", "yes"}
_FALSE = {"0", "false", "f", "no"}
_ANGLE_LIMIT = 180.0

log = get_logger("cabin.track")


class CabinTrackError(ValueError):
    """A ``cabin.csv`` that cannot be read; the message names file, line and column."""


def _bool(raw: str, where: str) -> bool:
    v = raw.strip().lower()
    if v in _TRUE:
        return True
    if v in _FALSE:
        return False
    raise CabinTrackError(f"{where}: expected 0/1 or true/false, got {raw!r}")


def _float(raw: str, where: str, *, required: bool) -> float:
    v = raw.strip()
    if v == "" or v.lower() == "nan":
        if required:
            raise CabinTrackError(f"{where}: a value is required where face is true")
        return math.nan
    try:
        x = float(v)
    except ValueError:
        raise CabinTrackError(f"{where}: not a number: {raw!r}") from None
    if not math.isfinite(x):
        raise CabinTrackError(f"{where}: not a finite number: {raw!r}")
    return x


def read_cabin_csv(path: Path) -> list[CabinSample]:
    """Parse a ``cabin.csv`` into samples (see the module docstring for the rules)."""
    try:
        fh = path.open(encoding="utf-8", newline="")
    except FileNotFoundError:
        raise FileNotFoundError(f"{path}: cabin signal track not found") from None
    with fh:
        reader = csv.reader(fh)
        try:
            header = [h.strip() for h in next(reader)]
        except StopIteration:
            raise CabinTrackError(
                f"{path}:1: empty file, expected a header {','.join(COLUMNS)}"
            ) from None
        except (csv.Error, UnicodeDecodeError) as err:
            raise CabinTrackError(f"{path}:1: unreadable header: {err}") from None
        missing = [c for c in COLUMNS if c not in header]
        if missing:
            raise CabinTrackError(f"{path}:1: missing column(s) {', '.join(missing)}")
        unknown = [c for c in header if c not in COLUMNS and c not in OPTIONAL]
        if unknown:
            raise CabinTrackError(f"{path}:1: unknown column(s) {', '.join(unknown)}")
        if len(set(header)) != len(header):
            raise CabinTrackError(f"{path}:1: repeated column names")
        col = {name: i for i, name in enumerate(header)}
        out: list[CabinSample] = []
        prev_row: list[str] | None = None
        try:
            for row in reader:
                line = reader.line_num
                if not row or all(not c.strip() for c in row):
                    continue
                if len(row) != len(header):
                    raise CabinTrackError(
                        f"{path}:{line}: {len(row)} fields, the header has {len(header)}"
                    )
                if prev_row is not None and row == prev_row:
                    log.warning("cabin_duplicate_row_dropped", file=str(path), line=line)
                    continue
                out.append(_row(path, line, row, col))
                prev = out[-2] if len(out) > 1 else None
                cur = out[-1]
                if prev is not None and not (cur.t_s > prev.t_s and cur.frame > prev.frame):
                    raise CabinTrackError(
                        f"{path}:{line}: frame {cur.frame} at t_s {cur.t_s} does not follow frame "
                        f"{prev.frame} at t_s {prev.t_s} (rows must increase in frame and t_s)"
                    )
                prev_row = row
        except (csv.Error, UnicodeDecodeError) as err:
            raise CabinTrackError(f"{path}:{reader.line_num}: unreadable row: {err}") from None
    return out


def _row(path: Path, line: int, row: list[str], col: dict[str, int]) -> CabinSample:
    def where(name: str) -> str:
        return f"{path}:{line}: column {name}"

    raw_frame = row[col["frame"]].strip()
    try:
        frame = int(raw_frame)
    except ValueError:
        raise CabinTrackError(f"{where('frame')}: not an integer: {raw_frame!r}") from None
    if frame < 0:
        raise CabinTrackError(f"{where('frame')}: must be >= 0, got {frame}")
    t_s = _float(row[col["t_s"]], where("t_s"), required=True)
    face = _bool(row[col["face"]], where("face"))
    obstructed = (
        _bool(row[col["obstructed"]], where("obstructed")) if "obstructed" in col else False
    )
    phone_score, phone_at = 0.0, None
    if "phone_score" in col:
        score = _float(row[col["phone_score"]], where("phone_score"), required=False)
        if math.isfinite(score) and not 0.0 <= score <= 1.0:
            raise CabinTrackError(f"{where('phone_score')}: must be within 0-1, got {score}")
        phone_score = score if math.isfinite(score) else 0.0
    if "phone_at" in col:
        at = row[col["phone_at"]].strip().lower()
        if at not in ("", "face", "hand"):
            raise CabinTrackError(f"{where('phone_at')}: expected face, hand or empty, got {at!r}")
        phone_at = at or None
    if not face:
        return replace(
            CabinSample.no_face(frame, t_s, obstructed=obstructed), phone_score=phone_score, phone_at=phone_at
        )
    vals: dict[str, float] = {}
    for name in ("ear_left", "ear_right", "yaw_deg", "pitch_deg", "roll_deg", "mouth_open"):
        x = _float(row[col[name]], where(name), required=name.startswith("ear"))
        if name.endswith("_deg") and math.isfinite(x) and abs(x) > _ANGLE_LIMIT:
            raise CabinTrackError(f"{where(name)}: {x} is outside -180..180 degrees")
        if (name.startswith("ear") or name == "mouth_open") and x < 0:
            raise CabinTrackError(f"{where(name)}: must be >= 0, got {x}")
        vals[name] = x
    return CabinSample(
        frame=frame,
        t_s=t_s,
        face=True,
        eyes_closed=_bool(row[col["eyes_closed"]], where("eyes_closed")),
        obstructed=obstructed,
        phone_score=phone_score,
        phone_at=phone_at,
        **vals,
    )


def _fmt(x: float) -> str:
    return "" if not math.isfinite(x) else f"{x:.6g}"


def write_cabin_csv(path: Path, samples: Sequence[CabinSample], obstructed: bool = False) -> None:
    """Write samples as ``cabin.csv`` (with the optional ``obstructed`` column when asked, the
    phone columns when a sample has a phone)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    phone = any(s.phone_score > 0 or s.phone_at is not None for s in samples)
    with path.open("w", encoding="utf-8", newline="") as fh:
        w = csv.writer(fh, lineterminator="\n")
        w.writerow(COLUMNS + (("obstructed",) if obstructed else ()) + (("phone_score", "phone_at") if phone else ()))
        for s in samples:
            row = [
                str(s.frame),
                f"{s.t_s:.6f}",
                "1" if s.face else "0",
                _fmt(s.ear_left),
                _fmt(s.ear_right),
                "1" if s.eyes_closed else "0",
                _fmt(s.yaw_deg),
                _fmt(s.pitch_deg),
                _fmt(s.roll_deg),
                _fmt(s.mouth_open),
            ]
            if obstructed:
                row.append("1" if s.obstructed else "0")
            if phone:
                row += [_fmt(s.phone_score), s.phone_at or ""]
            w.writerow(row)


def cabin_table(
    samples: Sequence[CabinSample], states: Sequence[CabinState] | None = None
) -> pa.Table:
    """Per-frame table: the ``cabin.csv`` columns, ``obstructed``, the upper-lid apertures
    ``lid_left``/``lid_right`` (NaN from a signal track), and (with states) the
    monitor's ``perclos``, ``blink_rate_per_min`` and ``off_road``."""
    data: dict[str, pa.Array] = {
        "frame": pa.array([s.frame for s in samples], pa.int64()),
        "t_s": pa.array([s.t_s for s in samples], pa.float64()),
        "face": pa.array([s.face for s in samples], pa.bool_()),
        "ear_left": pa.array([s.ear_left for s in samples], pa.float64()),
        "ear_right": pa.array([s.ear_right for s in samples], pa.float64()),
        "eyes_closed": pa.array([s.eyes_closed for s in samples], pa.bool_()),
        "yaw_deg": pa.array([s.yaw_deg for s in samples], pa.float64()),
        "pitch_deg": pa.array([s.pitch_deg for s in samples], pa.float64()),
        "roll_deg": pa.array([s.roll_deg for s in samples], pa.float64()),
        "mouth_open": pa.array([s.mouth_open for s in samples], pa.float64()),
        "obstructed": pa.array([s.obstructed for s in samples], pa.bool_()),
        "lid_left": pa.array([s.lid_left for s in samples], pa.float64()),
        "lid_right": pa.array([s.lid_right for s in samples], pa.float64()),
        "phone_score": pa.array([s.phone_score for s in samples], pa.float64()),
        "phone_at": pa.array([s.phone_at for s in samples], pa.string()),
    }
    if states is not None:
        data["perclos"] = pa.array([st.perclos for st in states], pa.float64())
        data["blink_rate_per_min"] = pa.array(
            [st.blink_rate_per_min for st in states], pa.float64()
        )
        data["off_road"] = pa.array([st.off_road for st in states], pa.bool_())
    return pa.table(data)


def write_cabin_parquet(
    path: Path, samples: Sequence[CabinSample], states: Sequence[CabinState] | None = None
) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    pq.write_table(cabin_table(samples, states), tmp)
    tmp.replace(path)

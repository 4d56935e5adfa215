"""Ground-truth event labels: saferoad's ``labels.jsonl`` and driverBehaviorDataset's
``groundTruth.csv``."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from pathlib import Path

from saferoad.adapters.jsonl import iter_jsonl
from saferoad.domain.types import NORMAL_MANOEUVRE, Direction, EventLabel, EventType

DBD_TYPES: dict[str, tuple[str, Direction | None]] = {
    "freada_agressiva": (EventType.HARSH_BRAKING.value, None),
    "aceleracao_agressiva": (EventType.HARSH_ACCELERATION.value, None),
    "curva_esquerda_agressiva": (EventType.HARSH_CORNERING.value, Direction.LEFT),
    "curva_direita_agressiva": (EventType.HARSH_CORNERING.value, Direction.RIGHT),
    "troca_faixa_esquerda_agressiva": (EventType.AGGRESSIVE_LANE_CHANGE.value, Direction.LEFT),
    "troca_faixa_direita_agressiva": (EventType.AGGRESSIVE_LANE_CHANGE.value, Direction.RIGHT),
    "evento_nao_agressivo": (NORMAL_MANOEUVRE, None),
}
"""driverBehaviorDataset (Portuguese) event names → saferoad type and direction."""



def _label(typ: str, start: float, end: float, direction: Direction | None, where: str) -> EventLabel:
    if typ != NORMAL_MANOEUVRE and typ not in EventType:  # the types defined now (it is open)
        raise ValueError(f"{where}: field 'type': unknown event type {typ!r}")
    if not (start == start and end == end) or end < start:
        raise ValueError(f"{where}: fields 'start_s','end_s': bad interval {start}..{end}")
    return EventLabel(typ, start, end, direction)


def read_labels_jsonl(path: Path) -> list[EventLabel]:
    """Read saferoad's ``labels.jsonl`` (or an ``events.jsonl``: the keys are the same)."""
    if not path.exists():
        raise FileNotFoundError(f"{path}: file not found")
    out: list[EventLabel] = []
    for _, where, obj in iter_jsonl(path):
        for key in ("type", "start_s", "end_s"):
            if key not in obj:
                raise ValueError(f"{where}: field {key!r}: missing")
        try:
            start, end = float(obj["start_s"]), float(obj["end_s"])
        except (TypeError, ValueError):
            raise ValueError(f"{where}: fields 'start_s','end_s': not numbers") from None
        d = obj.get("direction")
        try:
            direction = Direction(d) if d else None
        except ValueError:
            raise ValueError(f"{where}: field 'direction': {d!r} is not left/right") from None
        out.append(_label(str(obj["type"]), start, end, direction, where))
    return out


def write_labels_jsonl(path: Path, labels: Iterable[EventLabel]) -> None:
    path.write_text(
        "".join(json.dumps(lab.to_dict()) + "\n" for lab in labels), encoding="utf-8"
    )


def read_ground_truth_csv(path: Path) -> list[EventLabel]:
    """driverBehaviorDataset ``groundTruth.csv``: ``evento, inicio, fim`` (seconds from
    ``firstCollectionUptimeNanos``)."""
    if not path.exists():
        raise FileNotFoundError(f"{path}: file not found")
    out: list[EventLabel] = []
    with path.open(encoding="utf-8", newline="") as fh:
        rows = list(csv.reader(fh))
    if not rows:
        raise ValueError(f"{path}: empty file")
    header = [h.strip() for h in rows[0]]
    if header[:3] != ["evento", "inicio", "fim"]:
        raise ValueError(f"{path}:1: expected header 'evento, inicio, fim', got {rows[0]}")
    for lineno, row in enumerate(rows[1:], 2):
        if not row or not "".join(row).strip():
            continue
        where = f"{path}:{lineno}"
        if len(row) < 3:
            raise ValueError(f"{where}: expected 3 fields, found {len(row)}")
        name = row[0].strip()
        if name not in DBD_TYPES:
            raise ValueError(f"{where}: field 'evento': unknown event {name!r}")
        try:
            start, end = float(row[1]), float(row[2])
        except ValueError:
            raise ValueError(f"{where}: fields 'inicio','fim': not numbers: {row[1:3]}") from None
        typ, direction = DBD_TYPES[name]
        out.append(_label(typ, start, end, direction, where))
    return out


def read_labels(path: Path) -> list[EventLabel]:
    """Labels from a file (``groundTruth.csv`` or ``*.jsonl``) or a recording folder."""
    if path.is_dir():
        for name in ("labels.jsonl", "groundTruth.csv"):
            if (path / name).exists():
                return read_labels(path / name)
        raise FileNotFoundError(f"{path}: no labels.jsonl or groundTruth.csv in this folder")
    if path.suffix == ".csv":
        return read_ground_truth_csv(path)
    return read_labels_jsonl(path)

"""``saferoad dataset check``: open every recording of a manifest before a long run, and
report which cannot be read and which have no labels."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from saferoad.application.context import AnalysisPorts
from saferoad.application.evaluation.boxes import read_box_labels
from saferoad.application.evaluation.manifest import Dataset, DatasetItem


@dataclass(frozen=True, slots=True)
class ItemCheck:
    item: DatasetItem
    readable: bool
    source_format: str | None = None
    duration_s: float | None = None
    n_labels: int | None = None
    """``None``: no labels (unlabelled); 0: a labels file with no events."""
    n_boxes: int | None = None
    error: str | None = None

    @property
    def labelled(self) -> bool:
        return self.n_labels is not None


def check_item(item: DatasetItem, ports: AnalysisPorts) -> ItemCheck:
    """Open ``item`` and read its labels and boxes (``ports``: the recording opener and the
    labels reader)."""
    try:
        rec = ports.open_recording(item.path)
    except Exception as err:  # report every failure, never stop the check
        return ItemCheck(item, False, error=f"{type(err).__name__}: {err}")
    try:
        if item.labels == "auto":
            n_labels = len(rec.labels) if rec.labels is not None else None
        elif item.labels is None:
            n_labels = None
        else:
            n_labels = len(ports.read_labels(item.labels))
        n_boxes = None
        if item.boxes == "auto":
            if rec.detections is not None and rec.detections.suffix == ".json":
                n_boxes = len(read_box_labels(rec.detections, ports.read_boxes))
        elif item.boxes is not None:
            n_boxes = len(read_box_labels(item.boxes, ports.read_boxes))
    except (OSError, ValueError) as err:
        return ItemCheck(item, True, rec.source_format, rec.duration_s, error=f"labels: {err}")
    return ItemCheck(item, True, rec.source_format, rec.duration_s, n_labels, n_boxes)


def check_dataset(
    dataset: Dataset, ports: AnalysisPorts, advance: Callable[[ItemCheck], None] | None = None
) -> list[ItemCheck]:
    out = []
    for item in dataset.items:
        c = check_item(item, ports)
        out.append(c)
        if advance is not None:
            advance(c)
    return out

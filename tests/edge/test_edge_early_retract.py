"""Early (provisional) alerts whose event never became final are retracted once they leave the
motion window - each of them, not only the oldest."""

from __future__ import annotations

from saferoad.application.edge import EdgeRecorder, EdgeReport
from saferoad.config import load_config
from saferoad.domain.types import Event, EventType, Severity
from saferoad.entrypoints.wiring import analysis_ports


def test_an_early_alert_that_left_the_window_is_retracted_behind_a_longer_one() -> None:
    """Early alerts in the order announced: a long one first (a cornering until 50 s), then
    one that ended at 5 s. At 10 s the second has left the window: retracted (its clip window
    no longer locks loop segments), the first kept. Before, only the oldest was looked at, and
    the second stayed until the first left too."""
    recorder = EdgeRecorder(load_config(), ports=analysis_ports())
    long = Event(EventType.HARSH_CORNERING, 0.0, 50.0, Severity.MEDIUM, 0.9)
    short = Event(EventType.HARSH_BRAKING, 1.0, 5.0, Severity.MEDIUM, 0.9)
    recorder._early = [long, short]
    report = EdgeReport("trip")
    recorder._retract_early(report, 10.0)
    assert recorder._early == [long] and report.early_retracted == 1
    assert len(recorder._announced_windows()) == 1  # only the cornering's clip window is locked
    recorder._retract_early(report, 60.0)
    assert recorder._early == [] and report.early_retracted == 2

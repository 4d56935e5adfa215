"""Fast road alerts: forward collision and tailgating are announced at the frame that completes
the rule (the run's minimum duration reached), not when the final event comes ``guard`` + the
rest of the run later; the final event confirms the alert and is not announced again; the
recorder's events stay those of the slow path (equal to analyze's: test_edge_equals_batch)."""

from __future__ import annotations

from pathlib import Path

import pytest

from saferoad.adapters.recording import open_recording
from saferoad.application.edge import CallbackSink, EdgeRecorder
from saferoad.config import SaferoadConfig
from saferoad.domain.alerts import Alert
from saferoad.domain.road_events.base import LeadState, RoadSample
from saferoad.domain.road_events.engine import RoadEventParams
from saferoad.domain.road_events.following import ForwardCollisionRule
from saferoad.domain.types import EventType
from saferoad.entrypoints.wiring import analysis_ports, simulate

FRAME_S = 1 / 10  # the simulator's road camera: 10 fps


@pytest.mark.parametrize(
    ("scenario", "etype", "min_duration_s"),
    [
        ("lead_braking", EventType.FORWARD_COLLISION_WARNING, RoadEventParams().fcw_min_duration_s),
        ("tailgating", EventType.TAILGATING, RoadEventParams().tailgating_min_duration_s),
    ],
)
def test_alert_at_the_completing_frame(tmp_path: Path, scenario: str, etype: EventType, min_duration_s: float) -> None:
    rec = tmp_path / scenario
    simulate(scenario, rec, seed=1, video=False)
    cfg = SaferoadConfig()
    got: list[Alert] = []
    report = EdgeRecorder(cfg, ports=analysis_ports(), sinks=[CallbackSink(got.append)]).replay(open_recording(rec), speed=0)
    finals = [e for e in report.events if e.type == etype]
    alerts = [a for a in got if a.event.type == etype]
    assert len(finals) == 1, report.events
    (final,) = finals
    (alert,) = alerts  # announced once: the final event confirmed it
    assert alert.provisional
    # at the frame that completes the rule: the run has just lasted its minimum duration
    assert alert.event.start_s == pytest.approx(final.start_s, abs=FRAME_S + 1e-6)
    assert min_duration_s - 1e-6 <= alert.completed_s - alert.event.start_s <= min_duration_s + FRAME_S + 1e-6
    # raised in the step that brought that frame (sensor time), not guard + hop later
    (lag,) = report.fast_road_lag_s
    assert 0.0 <= lag <= cfg.edge.tick_s + 1e-6
    # the slow path's final event came much later: guard (+ the rest of the run)
    (final_lag,) = report.road_final_lag_s
    assert final_lag >= cfg.edge.motion_guard_s
    assert report.fast_road == {"confirmed": 1, "retracted": 0}


def test_onsets_once_per_run_and_only_when_collected() -> None:
    """The rule's onset: kept once per run at the frame where it reached its minimum duration,
    and not at all when not asked for (the slow path's engine keeps no onsets)."""
    lead = LeadState(track_id=7, distance_m=18.0, range_rate_mps=-12.0, headway_s=0.9, ttc_s=1.5)

    def sample(t: float) -> RoadSample:
        return RoadSample(t, round(t * 10), 20.0, (), lead, False)

    for collect in (True, False):
        rule = ForwardCollisionRule()
        rule.collect_onsets = collect
        onsets = []
        for i in range(10):  # 0.0 .. 0.9 s of TTC 1.5 s
            rule.update(sample(i / 10))
            onsets.append([e.end_s for e in rule.take_onsets()])
        if collect:
            assert onsets == [[]] * 3 + [[pytest.approx(0.3)]] + [[]] * 6
        else:
            assert onsets == [[]] * 10
        (final,) = rule.finish()
        assert final.start_s == 0.0 and final.end_s == pytest.approx(0.9)

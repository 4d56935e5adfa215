"""The composition root: the ports it builds travel to worker processes, and a use case runs
with an adapter replaced through them."""

from __future__ import annotations

import dataclasses
import pickle
from pathlib import Path

import pytest

from saferoad.adapters.alerts.udp import UdpAlertSink
from saferoad.application.analyze import analyze_recording
from saferoad.config import SaferoadConfig, load_config, parse_assignments
from saferoad.entrypoints import wiring
from saferoad.entrypoints.wiring import simulate


def test_analysis_ports_pickle_for_the_fleet_and_evaluation_workers() -> None:
    ports = wiring.analysis_ports()
    back = pickle.loads(pickle.dumps(ports))
    assert type(back) is type(ports)
    assert [f.name for f in dataclasses.fields(back)] == [f.name for f in dataclasses.fields(ports)]
    assert back.outputs.saferoad_version == ports.outputs.saferoad_version  # type: ignore[attr-defined]


class CountingOutputs:
    """The real output files, counting what analyze asks of them."""

    def __init__(self) -> None:
        self.real = wiring.outputs()
        self.calls: list[str] = []

    def staged(self, out_dir: Path):  # type: ignore[no-untyped-def]
        self.calls.append("staged")
        return self.real.staged(out_dir)

    def write_json(self, path: Path, data: object) -> None:
        self.calls.append(f"json:{path.name}")
        self.real.write_json(path, data)

    def write_events(self, path: Path, events: object) -> None:
        raise AssertionError("analyze writes events.jsonl through its events_file sink")

    def write_timeline(self, path: Path, timeline: object) -> None:
        self.calls.append(f"timeline:{path.name}")
        self.real.write_timeline(path, timeline)  # type: ignore[arg-type]

    def write_lanes(self, path: Path, rows: object) -> None:
        self.calls.append(f"lanes:{path.name}")
        self.real.write_lanes(path, rows)  # type: ignore[arg-type]

    def events_file(self, path: Path):  # type: ignore[no-untyped-def]
        self.calls.append(f"events:{path.name}")
        return self.real.events_file(path)

    def open_tracks(self, path: Path):  # type: ignore[no-untyped-def]
        self.calls.append(f"tracks:{path.name}")
        return self.real.open_tracks(path)


def test_a_use_case_runs_with_an_adapter_replaced_through_its_ports(tmp_path: Path) -> None:
    simulate("harsh_braking", tmp_path / "rec", seed=0, video=False, config=SaferoadConfig())
    outputs = CountingOutputs()
    ports = dataclasses.replace(wiring.analysis_ports(), outputs=outputs)
    res = analyze_recording(ports.open_recording(tmp_path / "rec"), SaferoadConfig(), tmp_path / "out", ports=ports)
    # every file of the folder through the port: tracks.parquet too (from the detections replayed)
    assert outputs.calls == [
        "staged", "events:events.jsonl", "timeline:timeline.parquet", "tracks:tracks.parquet", "json:summary.json"
    ]
    assert res.events and (tmp_path / "out/events.jsonl").read_text().count("\n") == len(res.events)


def test_alert_sinks_close_the_built_ones_when_a_later_one_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    """The UDP sink is built, then the MQTT sink fails (a device id with an MQTT wildcard: no
    publish topic, the adapter's ValueError; a bad topic template is refused at load now): the
    UDP socket is closed before the error is raised (it was left open)."""
    built: list[UdpAlertSink] = []

    class Kept(UdpAlertSink):
        def __init__(self, address: str) -> None:
            super().__init__(address)
            built.append(self)

    monkeypatch.setattr(wiring, "UdpAlertSink", Kept)
    cfg = load_config(None, parse_assignments(
        ["edge.alert_udp=127.0.0.1:9", "edge.mqtt_host=127.0.0.1"]
    ))  # fmt: skip
    with pytest.raises(ValueError, match=r"edge\.mqtt_topic.*'dev#1'"):
        wiring.alert_sinks(cfg.edge, "dev#1")
    [udp] = built
    assert udp.sock.fileno() == -1  # closed
    # without the failing one, the caller gets them open (and closes them)
    ok = wiring.alert_sinks(load_config(None, parse_assignments(["edge.alert_udp=127.0.0.1:9"])).edge, "dev1")
    try:
        assert [type(s) for s in ok] == [Kept] and ok[0].sock.fileno() != -1  # type: ignore[attr-defined]
    finally:
        for s in ok:
            s.close()


def test_all_names_every_public_function_and_re_export() -> None:
    """``__all__`` lists what the composition root offers: its own public functions and
    classes (``event_sinks``, ``load_speed_limits`` and ``Detectors`` were missing) and the
    ``detect_wiring`` names it re-exports; each resolves."""
    import ast

    tree = ast.parse(Path(wiring.__file__).read_text(encoding="utf-8"))
    own = {
        n.name for n in tree.body
        if isinstance(n, ast.FunctionDef | ast.ClassDef) and not n.name.startswith("_")
    }  # fmt: skip
    assert own | {"detect_ports", "detect_sources"} <= set(wiring.__all__)
    assert all(hasattr(wiring, name) for name in wiring.__all__)

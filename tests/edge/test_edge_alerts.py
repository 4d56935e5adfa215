"""In-cab alerts: per-type grace periods, the callback, a loopback UDP socket and MQTT through a
real mosquitto broker on 127.0.0.1 (events not retained, status retained, last will on kill -9)."""

from __future__ import annotations

import json
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import paho.mqtt.client as mqtt
import pytest
from paho.mqtt.enums import CallbackAPIVersion

from saferoad.adapters.alerts.mqtt import MqttAlertSink
from saferoad.adapters.alerts.udp import UdpAlertSink
from saferoad.adapters.recording import open_recording
from saferoad.application.edge import CallbackSink, EdgeRecorder
from saferoad.config import SaferoadConfig
from saferoad.domain.alerts import Alert, AlertDebouncer
from saferoad.domain.event_specs import Family, spec
from saferoad.domain.types import Event, EventType, Severity
from saferoad.entrypoints.wiring import analysis_ports, simulate


def _ev(typ: EventType, start: float, end: float | None = None) -> Event:
    return Event(typ, start, start + 1.0 if end is None else end, Severity.LOW, 0.8)


def test_grace_period_holds_back_repeats_of_one_type_only() -> None:
    deb = AlertDebouncer({"tailgating": 60.0, "harsh_braking": 10.0, "forward_collision_warning": 0.0})
    decisions = [
        deb.should_alert(_ev(EventType.TAILGATING, 0.0, 20.0)),  # announced
        deb.should_alert(_ev(EventType.HARSH_BRAKING, 25.0)),  # another type: announced
        deb.should_alert(_ev(EventType.TAILGATING, 50.0)),  # 30 s after the last one ended: held
        deb.should_alert(_ev(EventType.TAILGATING, 81.0)),  # 61 s after: announced
        deb.should_alert(_ev(EventType.HARSH_BRAKING, 30.0)),  # 4 s after the first ended: held
        deb.should_alert(_ev(EventType.FORWARD_COLLISION_WARNING, 31.0)),
        deb.should_alert(_ev(EventType.FORWARD_COLLISION_WARNING, 31.5)),  # grace 0: every one
        deb.should_alert(_ev(EventType.SPEEDING, 40.0)),  # unlisted: the default 10 s
        deb.should_alert(_ev(EventType.SPEEDING, 45.0)),
    ]
    assert decisions == [True, True, False, True, False, True, True, True, False]
    assert deb.held_back == {"tailgating": 1, "harsh_braking": 1, "speeding": 1}


@pytest.fixture(scope="module")
def drive(tmp_path_factory: pytest.TempPathFactory) -> Path:
    rec = tmp_path_factory.mktemp("edge") / "demo"
    simulate("demo", rec, seed=5, video=False)
    return rec


def test_callback_and_udp_get_every_alert_with_its_latency(drive: Path) -> None:
    got: list[Alert] = []
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(2.0)
    udp = UdpAlertSink(f"127.0.0.1:{sock.getsockname()[1]}")
    report = EdgeRecorder(SaferoadConfig(), ports=analysis_ports(), sinks=[CallbackSink(got.append), udp]).replay(open_recording(drive), speed=0)
    udp.close()
    assert got and [a.event_id for a in got] == [a.event_id for a in report.alerts]
    datagrams = []
    try:
        while True:
            datagrams.append(json.loads(sock.recv(65536)))
    except TimeoutError:
        pass
    alerts = [d for d in datagrams if d["kind"] == "alert"]
    assert [d["event_id"] for d in alerts] == [a.event_id for a in got]
    assert [d["state"] for d in datagrams if d["kind"] == "status"] == ["recording", "idle"]
    # latency: measured for every alert, from the completing sample's arrival to the sinks' return
    assert len(report.alert_latency_s) == len(got) and all(0 < x < 5.0 for x in report.alert_latency_s)
    # each alert names the sample that completed it; a harsh-driving alert comes early, within
    # motion_early_alert_s + hop of the event's end (road rules take their own decision time)
    cfg = SaferoadConfig().edge
    assert cfg.motion_early_alert_s is not None
    for a in got:
        assert a.event.end_s <= a.completed_s
        if spec(a.event.type).family == Family.MOTION:
            assert a.provisional and a.completed_s <= a.event.end_s + cfg.motion_early_alert_s + cfg.motion_hop_s + cfg.tick_s + 1e-6
    assert any(spec(a.event.type).family == Family.MOTION for a in got)
    assert report.early_confirmed >= 1 and report.early_retracted == 0


# --- MQTT ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def broker(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    exe = shutil.which("mosquitto") or "/usr/sbin/mosquitto"
    if not Path(exe).exists():
        pytest.fail("mosquitto is not installed (scripts/system-deps.sh installs it)")
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    conf = tmp_path_factory.mktemp("mqtt") / "mosquitto.conf"
    conf.write_text(f"listener {port} 127.0.0.1\nallow_anonymous true\npersistence false\n")
    proc = subprocess.Popen([exe, "-c", str(conf)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    yield port
    proc.terminate()
    proc.wait(timeout=10)


def _collect(port: int, topic: str, seconds: float) -> list[tuple[str, dict[str, Any], bool]]:
    got: list[tuple[str, dict[str, Any], bool]] = []
    c = mqtt.Client(CallbackAPIVersion.VERSION2)
    c.on_message = lambda _c, _u, m: got.append((m.topic, json.loads(m.payload), bool(m.retain)))
    c.on_connect = lambda cl, *_: cl.subscribe(topic, qos=1)
    c.connect("127.0.0.1", port)
    c.loop_start()
    time.sleep(seconds)
    c.loop_stop()
    c.disconnect()
    return got


def test_mqtt_events_not_retained_status_retained(broker: int, drive: Path) -> None:
    live: list[tuple[str, dict[str, Any], bool]] = []
    sub = mqtt.Client(CallbackAPIVersion.VERSION2)
    sub.on_message = lambda _c, _u, m: live.append((m.topic, json.loads(m.payload), bool(m.retain)))
    sub.on_connect = lambda cl, *_: cl.subscribe("saferoad/#", qos=1)
    sub.connect("127.0.0.1", broker)
    sub.loop_start()
    time.sleep(0.3)
    rec = open_recording(drive)
    sink = MqttAlertSink("127.0.0.1", broker, "saferoad/{device_id}", rec.meta.device_id)
    report = EdgeRecorder(SaferoadConfig(), ports=analysis_ports(), sinks=[sink]).replay(rec, speed=0)
    sink.close()
    time.sleep(0.5)
    sub.loop_stop()
    sub.disconnect()
    prefix = f"saferoad/{rec.meta.device_id}"
    events = [p for t, p, _ in live if t == f"{prefix}/events"]
    assert [p["event_id"] for p in events] == [a.event_id for a in report.alerts] and events
    # a subscriber arriving later gets the last status (retained) and no old alert
    later = _collect(broker, "saferoad/#", 0.5)
    assert [(t, p["state"], r) for t, p, r in later] == [(f"{prefix}/status", "offline", True)]
    assert later[0][1]["why"] == "stopped"


def test_mqtt_last_will_when_the_recorder_is_killed(broker: int, tmp_path: Path) -> None:
    script = tmp_path / "sink.py"
    script.write_text(
        "import sys, time\n"
        "from saferoad.adapters.alerts.mqtt import MqttAlertSink\n"
        f"s = MqttAlertSink('127.0.0.1', {broker}, 'saferoad/{{device_id}}', 'KILLED', keepalive_s=5)\n"
        "s.status({'state': 'recording'})\n"
        "time.sleep(1.0)\n"
        "print('ready', flush=True)\n"
        "time.sleep(60)\n"
    )
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.PIPE)
    assert proc.stdout is not None and proc.stdout.readline().strip() == b"ready"
    assert [p["state"] for _, p, _ in _collect(broker, "saferoad/KILLED/status", 0.4)] == ["recording"]
    proc.kill()
    proc.wait()
    time.sleep(0.5)
    got = _collect(broker, "saferoad/KILLED/status", 0.4)
    assert [(p["state"], p["why"], r) for _, p, r in got] == [("offline", "connection lost", True)]


def test_mqtt_sink_names_a_bad_topic_before_connecting() -> None:
    """A template the config did not check (the sink built directly), or a device id that makes
    the prefix no publish topic: a ValueError naming ``edge.mqtt_topic`` and the device, before
    any connection (it was a bare ``KeyError: 'fleet'``; with a wildcard each publish failed
    later, paho's ``Invalid topic.``)."""
    with pytest.raises(ValueError, match=r"edge\.mqtt_topic.*'dev1'.*placeholder \{fleet\} is not known"):
        MqttAlertSink("127.0.0.1", 9, "fleet/{fleet}/x", "dev1")
    with pytest.raises(ValueError, match=r"edge\.mqtt_topic.*'dev#1'.*'saferoad/dev#1': '#' may not be in a publish topic"):
        MqttAlertSink("127.0.0.1", 9, "saferoad/{device_id}", "dev#1")

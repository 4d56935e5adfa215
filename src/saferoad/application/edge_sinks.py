"""Builds the recorder's alert sinks and spool from ``config.edge``."""

from __future__ import annotations

from pathlib import Path

from saferoad.adapters.spool import SqliteSpool
from saferoad.config.edge import EdgeConfig
from saferoad.ports.edge import AlertSink


def build_sinks(cfg: EdgeConfig, device_id: str) -> list[AlertSink]:
    sinks: list[AlertSink] = []
    if cfg.alert_udp is not None:
        from saferoad.adapters.alerts.udp import UdpAlertSink

        sinks.append(UdpAlertSink(cfg.alert_udp))
    if cfg.mqtt_host is not None:
        from saferoad.adapters.alerts.mqtt import MqttAlertSink

        sinks.append(MqttAlertSink(cfg.mqtt_host, cfg.mqtt_port, cfg.mqtt_topic, device_id))
    return sinks


def open_spool(cfg: EdgeConfig, path: Path | None = None) -> SqliteSpool:
    caps = {t: (c.per_hour, c.per_day) for t, c in cfg.upload_caps.items()}
    return SqliteSpool(path or Path(cfg.spool), caps)

"""Alerts and the recorder's status over MQTT (paho-mqtt).

* ``PREFIX/events``: one JSON message per in-cab alert, QoS 1, **not retained** (a subscriber
  that connects later must not take an old alert for a new one).
* ``PREFIX/status``: the recorder's state (``recording``, ``idle``, ``offline``), QoS 1,
  **retained**, so a fleet gateway that connects at any time sees the current state; the
  broker itself publishes ``offline`` as the client's **last will** when the recorder dies
  without disconnecting (kill -9, power cut, lost link).

paho's network loop runs in its own thread; ``publish`` only queues, and the queue is bounded
(``max_queued``): while the broker is away the oldest alerts are dropped and counted rather
than the recorder blocking or growing without bound.
"""

from __future__ import annotations

import json
from typing import Any

import paho.mqtt.client as mqtt
from paho.mqtt.enums import CallbackAPIVersion

from saferoad.config.edge import mqtt_topic_prefix
from saferoad.domain.alerts import Alert


class MqttAlertSink:
    def __init__(
        self,
        host: str,
        port: int,
        prefix: str,
        device_id: str,
        *,
        keepalive_s: int = 30,
        max_queued: int = 1000,
    ) -> None:
        """``prefix``: the topic template (``edge.mqtt_topic``, ``{device_id}`` its only
        placeholder); a bad one, or a device id that makes it no publish topic, is a ValueError
        naming it (:func:`~saferoad.config.edge.mqtt_topic_prefix`)."""
        try:
            self.prefix = mqtt_topic_prefix(prefix, device_id)
        except ValueError as err:
            raise ValueError(f"MQTT topic prefix (edge.mqtt_topic) for device {device_id!r}: {err}") from None
        self.device_id = device_id
        self.client = mqtt.Client(
            CallbackAPIVersion.VERSION2, client_id=f"saferoad-edge-{device_id}", clean_session=True
        )
        self.client.max_queued_messages_set(max_queued)
        self.client.will_set(
            f"{self.prefix}/status",
            json.dumps({"state": "offline", "device_id": device_id, "why": "connection lost"}),
            qos=1,
            retain=True,
        )
        self.dropped = 0
        self.client.connect_async(host, port, keepalive=keepalive_s)
        self.client.loop_start()

    def _publish(self, topic: str, obj: dict[str, Any], retain: bool) -> None:
        info = self.client.publish(f"{self.prefix}/{topic}", json.dumps(obj, ensure_ascii=False), qos=1, retain=retain)
        if info.rc not in (mqtt.MQTT_ERR_SUCCESS, mqtt.MQTT_ERR_NO_CONN):
            self.dropped += 1

    def alert(self, alert: Alert) -> None:
        self._publish("events", alert.to_dict(), retain=False)

    def status(self, status: dict[str, Any]) -> None:
        self._publish("status", {"device_id": self.device_id, **status}, retain=True)

    def close(self, timeout_s: float = 5.0) -> None:
        """A clean stop: ``offline`` retained (the will is not sent on a clean disconnect)."""
        info = self.client.publish(
            f"{self.prefix}/status", json.dumps({"state": "offline", "device_id": self.device_id, "why": "stopped"}), qos=1, retain=True
        )
        if self.client.is_connected():
            info.wait_for_publish(timeout_s)
        self.client.disconnect()
        self.client.loop_stop()

"""Alerts as JSON datagrams to a loopback UDP port: the cab display listens; the recorder never
waits for it (a datagram nobody reads is simply lost, and counted if the send fails)."""

from __future__ import annotations

import json
import socket
from typing import Any

from saferoad.domain.alerts import Alert


class UdpAlertSink:
    def __init__(self, address: str) -> None:
        host, _, port = address.rpartition(":")
        self.address = (host, int(port))
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self.sock.setblocking(False)
        self.sent = 0
        self.dropped = 0

    def _send(self, obj: dict[str, Any]) -> None:
        try:
            self.sock.sendto(json.dumps(obj, ensure_ascii=False).encode(), self.address)
            self.sent += 1
        except OSError:
            self.dropped += 1

    def alert(self, alert: Alert) -> None:
        self._send({"kind": "alert", **alert.to_dict()})

    def status(self, status: dict[str, Any]) -> None:
        self._send({"kind": "status", **status})

    def close(self) -> None:
        self.sock.close()

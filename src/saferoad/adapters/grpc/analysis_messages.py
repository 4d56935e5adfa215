"""The ``saferoad.v1`` stream's event message and :class:`~saferoad.domain.types.Event`, both
ways: the server (:mod:`saferoad.entrypoints.services.analysis_service`) sends
:func:`event_message`, a Python client reads :func:`event_from_message`."""

from __future__ import annotations

import json
from typing import Any

from google.protobuf import struct_pb2
from google.protobuf.json_format import MessageToDict

from saferoad.adapters.grpc.generated import saferoad_analysis_v1_pb2 as pb
from saferoad.domain.types import Event


def event_message(ev: Event) -> Any:
    d = ev.to_dict()
    evidence = struct_pb2.Struct()
    evidence.update(json.loads(json.dumps(d["evidence"], default=str)))
    return pb.Event(
        type=d["type"],
        start_s=d["start_s"],
        end_s=d["end_s"],
        direction=d["direction"] or "",
        severity=d["severity"],
        confidence=d["confidence"],
        peak={k: float(v) for k, v in d["peak"].items() if v is not None},
        evidence=evidence,
    )


def event_from_message(m: Any) -> Event:
    """The :class:`Event` a stream message carries (for clients written in Python)."""
    return Event.from_dict(
        {
            "type": m.type,
            "start_s": m.start_s,
            "end_s": m.end_s,
            "direction": m.direction or None,
            "severity": m.severity,
            "confidence": m.confidence,
            "peak": dict(m.peak),
            "evidence": MessageToDict(m.evidence),
        }
    )

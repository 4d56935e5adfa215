"""A small ingest server on 127.0.0.1 that follows the device ingest API v1 contract (trips,
events, resumable clips, bearer token), recording what arrives and in which order. The
uploader tests run against it until the fleet web app's server is the one in the tree."""

from __future__ import annotations

import hashlib
import json
import re
import socket
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

TOKEN = "device-secret"
TRIP = re.compile(r"^/api/v1/ingest/trips/([^/]+)$")
SUMMARY = re.compile(r"^/api/v1/ingest/trips/([^/]+)/summary$")
EVENT = re.compile(r"^/api/v1/ingest/trips/([^/]+)/events/([^/]+)$")
CLIP = re.compile(r"^/api/v1/ingest/trips/([^/]+)/events/([^/]+)/clip$")


@dataclass
class IngestState:
    trips: dict[str, dict[str, Any]] = field(default_factory=dict)
    events: dict[str, dict[str, Any]] = field(default_factory=dict)
    clips: dict[str, bytearray] = field(default_factory=dict)
    done: set[str] = field(default_factory=set)
    arrivals: list[tuple[str, str]] = field(default_factory=list)
    """(kind, id) of each first arrival (201), in order."""
    puts: dict[str, int] = field(default_factory=dict)
    """Every PUT per id (repeats included)."""
    fail_event: dict[str, int] = field(default_factory=dict)
    """event id -> status to answer (a final error the test wants)."""
    fail_patches: int = 0
    """Answer this many coming PATCHes with 503 (after storing nothing)."""
    patch_bytes: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)


def _handler(state: IngestState) -> type[BaseHTTPRequestHandler]:
    class H(BaseHTTPRequestHandler):
        def log_message(self, *args: Any) -> None:
            return

        def _reply(self, status: int, body: dict[str, Any] | None = None, headers: dict[str, str] | None = None) -> None:
            data = b"" if body is None else json.dumps(body).encode()
            self.send_response(status)
            for k, v in (headers or {}).items():
                self.send_header(k, v)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            if data and self.command != "HEAD":
                self.wfile.write(data)

        def _auth(self) -> bool:
            if self.headers.get("Authorization") != f"Bearer {TOKEN}":
                self._reply(401, {"detail": "invalid token"})
                return False
            return True

        def _body(self) -> bytes:
            return self.rfile.read(int(self.headers.get("Content-Length", "0")))

        def do_PUT(self) -> None:
            raw = self._body()
            if not self._auth():
                return
            body = json.loads(raw)
            with state.lock:
                if m := TRIP.match(self.path):
                    tid = m.group(1)
                    if "device_id" not in body:
                        return self._reply(422, {"detail": "device_id is required"})
                    # without summary: opened at the drive's start, completed by PUT .../summary
                    store, key, kind = state.trips, tid, "trip"
                elif m := SUMMARY.match(self.path):
                    tid = m.group(1)
                    if tid not in state.trips:
                        return self._reply(404, {"detail": "unknown trip"})
                    trip = state.trips[tid]
                    state.puts[f"summary:{tid}"] = state.puts.get(f"summary:{tid}", 0) + 1
                    if trip.get("summary") is not None:
                        return self._reply(200 if trip["summary"] == body else 409, {"detail": "stored"})
                    trip["summary"] = body
                    state.arrivals.append(("summary", tid))
                    return self._reply(201, {"detail": "completed"})
                elif m := EVENT.match(self.path):
                    tid, eid = m.groups()
                    if tid not in state.trips:
                        return self._reply(404, {"detail": "unknown trip"})
                    if eid in state.fail_event:
                        return self._reply(state.fail_event[eid], {"detail": "type: not a known event type"})
                    store, key, kind = state.events, eid, "event"
                else:
                    return self._reply(404, {"detail": "no such route"})
                state.puts[key] = state.puts.get(key, 0) + 1
                if key in store:
                    return self._reply(200 if store[key] == body else 409, {"detail": "stored"})
                store[key] = body
                state.arrivals.append((kind, key))
                self._reply(201, {"detail": "created"})

        def do_HEAD(self) -> None:
            if not self._auth():
                return
            m = CLIP.match(self.path)
            with state.lock:
                if m is None or m.group(2) not in state.clips:
                    return self._reply(404)
                return self._reply(200, headers={"Upload-Offset": str(len(state.clips[m.group(2)]))})

        def do_PATCH(self) -> None:
            chunk = self._body()
            if not self._auth():
                return
            m = CLIP.match(self.path)
            if m is None:
                return self._reply(404, {"detail": "no such route"})
            eid = m.group(2)
            with state.lock:
                if state.fail_patches > 0:
                    state.fail_patches -= 1
                    return self._reply(503, {"detail": "busy"}, {"Retry-After": "2"})
                if eid not in state.events:
                    return self._reply(404, {"detail": "unknown event"})
                if eid in state.done:
                    return self._reply(200)
                have = state.clips.setdefault(eid, bytearray())
                offset = int(self.headers["Upload-Offset"])
                length = int(self.headers["Upload-Length"])
                if offset != len(have):
                    return self._reply(409, {"detail": "offset"}, {"Upload-Offset": str(len(have))})
                have += chunk
                state.patch_bytes += len(chunk)
                if len(have) < length:
                    return self._reply(204, headers={"Upload-Offset": str(len(have))})
                if hashlib.sha256(have).hexdigest() != self.headers["Clip-SHA256"]:
                    del state.clips[eid]
                    return self._reply(422, {"detail": "Clip-SHA256 does not match"})
                state.done.add(eid)
                state.arrivals.append(("clip", eid))
                return self._reply(201, headers={"Upload-Offset": str(len(have))})

    return H


class IngestServer:
    """Start and stop on a fixed loopback port (stopped: connections are refused)."""

    token = TOKEN

    def __init__(self) -> None:
        self.state = IngestState()
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            self.port = s.getsockname()[1]
        self.httpd: ThreadingHTTPServer | None = None
        self.thread: threading.Thread | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/api/v1/ingest"

    def start(self) -> None:
        # restarted on its port while the last connections are in TIME_WAIT: the stdlib's
        # HTTPServer sets allow_reuse_address itself (nothing to set, on it or a subclass)
        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), _handler(self.state))
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        if self.httpd is not None:
            self.httpd.shutdown()
            self.httpd.server_close()
            self.httpd = None


@pytest.fixture
def ingest_server() -> Iterator[IngestServer]:
    srv = IngestServer()
    yield srv
    srv.stop()

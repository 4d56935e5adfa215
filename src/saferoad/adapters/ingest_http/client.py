"""The device side of the fleet's ingest API v1 over HTTP(S) (``http.client``, no extra
dependency): one request per call, bearer token, JSON bodies, tus-like clip PATCHes.

Any failure to get an answer (refused, reset, timeout, DNS) is reported as status 0 - a
transient error for the uploader - never raised.
"""

from __future__ import annotations

import http.client
import json
import ssl
from typing import Any
from urllib.parse import quote, urlsplit

from saferoad.ports.edge import IngestReply


class HttpIngestClient:
    def __init__(self, base_url: str, token: str, timeout_s: float = 10.0) -> None:
        parts = urlsplit(base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"edge.ingest_url: {base_url!r} is not an http(s) URL")
        self.scheme = parts.scheme
        self.host = parts.hostname
        self.port = parts.port
        self.base = parts.path.rstrip("/")
        self.token = token
        self.timeout_s = timeout_s

    def _conn(self) -> http.client.HTTPConnection:
        if self.scheme == "https":
            return http.client.HTTPSConnection(self.host, self.port, timeout=self.timeout_s, context=ssl.create_default_context())
        return http.client.HTTPConnection(self.host, self.port, timeout=self.timeout_s)

    def _request(self, method: str, path: str, body: bytes | None, headers: dict[str, str]) -> IngestReply:
        conn = self._conn()
        try:
            conn.request(method, self.base + path, body=body, headers={"Authorization": f"Bearer {self.token}", **headers})
            resp = conn.getresponse()
            data = resp.read()
        except (TimeoutError, OSError, http.client.HTTPException) as err:
            return IngestReply(0, f"no answer: {type(err).__name__}: {err}")
        finally:
            conn.close()
        detail = ""
        if data and resp.status >= 400:
            try:
                detail = str(json.loads(data).get("detail", ""))
            except (ValueError, AttributeError):
                detail = data[:200].decode("utf-8", "replace")
        retry = resp.getheader("Retry-After")
        offset = resp.getheader("Upload-Offset")
        return IngestReply(
            resp.status,
            detail or resp.reason,
            float(retry) if retry and retry.replace(".", "", 1).isdigit() else None,
            int(offset) if offset and offset.isdigit() else None,
        )

    def _json(self, method: str, path: str, body: dict[str, Any]) -> IngestReply:
        data = json.dumps(body, ensure_ascii=False).encode()
        return self._request(method, path, data, {"Content-Type": "application/json"})

    def put_trip(self, trip_id: str, body: dict[str, Any]) -> IngestReply:
        return self._json("PUT", f"/trips/{quote(trip_id)}", body)

    def put_trip_summary(self, trip_id: str, summary: dict[str, Any]) -> IngestReply:
        return self._json("PUT", f"/trips/{quote(trip_id)}/summary", summary)

    def put_event(self, trip_id: str, event_id: str, body: dict[str, Any]) -> IngestReply:
        return self._json("PUT", f"/trips/{quote(trip_id)}/events/{quote(event_id)}", body)

    def clip_offset(self, trip_id: str, event_id: str) -> IngestReply:
        return self._request("HEAD", f"/trips/{quote(trip_id)}/events/{quote(event_id)}/clip", None, {})

    def patch_clip(
        self, trip_id: str, event_id: str, offset: int, length: int, sha256: str, chunk: bytes
    ) -> IngestReply:
        return self._request(
            "PATCH",
            f"/trips/{quote(trip_id)}/events/{quote(event_id)}/clip",
            chunk,
            {
                "Upload-Offset": str(offset),
                "Upload-Length": str(length),
                "Clip-SHA256": sha256,
                "Content-Type": "application/offset+octet-stream",
            },
        )

"""The on-device spool: SQLite in WAL mode with ``synchronous=FULL``.

Every write is one transaction; in WAL mode with ``synchronous=FULL`` a commit returns only
after the write-ahead log has been fsynced, so an event whose :meth:`SqliteSpool.add_event` has
returned survives ``kill -9`` and a power cut (the SQLite documentation, "Write-Ahead Logging"
and "PRAGMA synchronous"). Clip files are written beside the database through a temporary file
that is fsynced and renamed (and the folder fsynced) *before* the row naming them commits, so a
row never names a missing or half-written clip.

Tables: ``trips``, ``events`` and ``clips``, each with its upload ``state`` (``queued``,
``sent``, ``failed``; events also ``capped``), ``attempts``, ``last_error`` and times; the
uploader reads and updates them (``saferoad.application.uploader``).
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from saferoad.domain.event_specs import Priority, spec
from saferoad.domain.types import Event
from saferoad.ports.edge import UploadJob as Job

RANKS = {Priority.COLLISION: 0, Priority.SAFETY: 1, Priority.DEVICE: 2}
"""Upload order: collision-class events first, device events last."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS trips (
    trip_id TEXT PRIMARY KEY,
    body TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'queued',
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    created_at REAL NOT NULL,
    sent_at REAL,
    summary TEXT,
    summary_state TEXT
);
CREATE TABLE IF NOT EXISTS events (
    event_id TEXT PRIMARY KEY,
    trip_id TEXT NOT NULL,
    type TEXT NOT NULL,
    rank INTEGER NOT NULL,
    event_utc_s REAL,
    start_s REAL NOT NULL,
    body TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'queued',
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    created_at REAL NOT NULL,
    sent_at REAL
);
CREATE INDEX IF NOT EXISTS events_queue ON events (state, rank, event_utc_s, start_s);
CREATE INDEX IF NOT EXISTS events_cap ON events (type, event_utc_s);
CREATE TABLE IF NOT EXISTS clips (
    event_id TEXT PRIMARY KEY REFERENCES events (event_id),
    path TEXT NOT NULL,
    size INTEGER NOT NULL,
    sha256 TEXT NOT NULL,
    state TEXT NOT NULL DEFAULT 'queued',
    attempts INTEGER NOT NULL DEFAULT 0,
    last_error TEXT,
    sent_at REAL
);
"""


class SqliteSpool:
    """Trips, events and clips waiting for (or done with) upload."""

    def __init__(self, path: Path, caps: dict[str, tuple[int, int]] | None = None) -> None:
        self.path = path
        self.clip_dir = path.parent / (path.name + ".clips")
        self.caps = dict(caps or {})
        """Per event type: (per hour, per day) uploads at most, by event time (UTC)."""
        path.parent.mkdir(parents=True, exist_ok=True)
        self.db = sqlite3.connect(str(path), timeout=30.0, isolation_level=None)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=FULL")
        self.db.executescript(SCHEMA)
        columns = {r[1] for r in self.db.execute("PRAGMA table_info(trips)")}
        for col in ("summary", "summary_state"):  # a spool written before trips were opened
            if col not in columns:
                self.db.execute(f"ALTER TABLE trips ADD COLUMN {col} TEXT")

    def close(self) -> None:
        self.db.close()

    # -- the recorder's side ----------------------------------------------------------------

    def add_event(
        self,
        trip_id: str,
        event_id: str,
        event: Event,
        event_utc_s: float | None,
        clip: bytes | None = None,
    ) -> bool:
        """Store an event (and its clip) durably; False if this id is already stored. Over its
        type's upload cap the event is kept with state ``capped``."""
        body = json.dumps(event.to_dict(), ensure_ascii=False, sort_keys=True)
        now = time.time()
        with self._tx() as db:
            if db.execute("SELECT 1 FROM events WHERE event_id = ?", (event_id,)).fetchone():
                return False
            state, why = "queued", None
            over = self._over_cap(db, event.type.value, event_utc_s)
            if over is not None:
                state, why = "capped", over
            db.execute(
                "INSERT INTO events (event_id, trip_id, type, rank, event_utc_s, start_s, body, state, last_error, created_at)"
                " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (event_id, trip_id, event.type.value, RANKS[spec(event.type).priority], event_utc_s, event.start_s, body, state, why, now),
            )
        if clip is not None:
            self.add_clip(event_id, clip)
        return True

    def add_clip(self, event_id: str, clip: bytes) -> bool:
        """Store an event's clip durably (file fsynced and renamed, then the row); False if
        the event already has one. A capped event's clip is capped too."""
        path = self.clip_dir / f"{event_id}.mp4"
        row = self.db.execute(
            "SELECT e.state, c.event_id FROM events e LEFT JOIN clips c ON c.event_id = e.event_id WHERE e.event_id = ?",
            (event_id,),
        ).fetchone()
        if row is None:
            raise ValueError(f"spool: no event {event_id} for this clip")
        if row[1] is not None:
            return False  # stored already: its file must stay the bytes its row's sha256 names
        digest = hashlib.sha256(clip).hexdigest()
        write_durably(path, clip)  # (again, after a crash between file and row: the row below names these bytes)
        with self._tx() as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO clips (event_id, path, size, sha256, state) VALUES (?, ?, ?, ?, ?)",
                (event_id, str(path), len(clip), digest, "capped" if row[0] == "capped" else "queued"),
            )
            return cur.rowcount == 1

    def open_trip(self, trip_id: str, body: dict[str, Any]) -> bool:
        """Open the trip at the start of its drive (``body`` without ``summary``), so that its
        events can be uploaded during the drive; False if it is stored already."""
        body = {k: v for k, v in body.items() if k != "summary"}
        with self._tx() as db:
            cur = db.execute(
                "INSERT OR IGNORE INTO trips (trip_id, body, created_at) VALUES (?, ?, ?)",
                (trip_id, json.dumps(body, ensure_ascii=False, sort_keys=True), time.time()),
            )
            return cur.rowcount == 1

    def add_trip(self, trip_id: str, body: dict[str, Any]) -> bool:
        """The whole trip at the end of its drive. An opened trip gets its ``summary`` (sent
        with the opening ``PUT`` if that has not gone yet, else as ``PUT .../summary``); a trip
        never opened is stored whole. False if the trip has its summary already."""
        summary = json.dumps(body.get("summary"), ensure_ascii=False, sort_keys=True)
        with self._tx() as db:
            cur = db.execute(
                "UPDATE trips SET summary = ?, summary_state = 'queued' WHERE trip_id = ? AND summary_state IS NULL"
                " AND json_extract(body, '$.summary') IS NULL",
                (summary, trip_id),
            )
            if cur.rowcount == 1:
                return True
            cur = db.execute(
                "INSERT OR IGNORE INTO trips (trip_id, body, created_at) VALUES (?, ?, ?)",
                (trip_id, json.dumps(body, ensure_ascii=False, sort_keys=True), time.time()),
            )
            return cur.rowcount == 1

    def _over_cap(self, db: sqlite3.Connection, typ: str, utc: float | None) -> str | None:
        cap = self.caps.get(typ)
        if cap is None or utc is None:
            return None
        per_hour, per_day = cap
        for limit, span, unit in ((per_hour, 3600, "hour"), (per_day, 86400, "day")):
            start = utc - utc % span
            (n,) = db.execute(
                "SELECT COUNT(*) FROM events WHERE type = ? AND state != 'capped' AND event_utc_s >= ? AND event_utc_s < ?",
                (typ, start, start + span),
            ).fetchone()
            if n >= limit:
                when = datetime.fromtimestamp(start, UTC).isoformat()
                return f"capped: {limit} {typ} uploads per {unit} (the {unit} from {when})"
        return None

    # -- the uploader's side ----------------------------------------------------------------

    def next_job(self) -> Job | None:
        """Trips first (events need their trip; an opened trip whose summary is known by now
        goes whole), then event metadata by priority and time, then the summaries completing
        trips opened during their drive, then clips of sent events in the same order."""
        row = self.db.execute(
            "SELECT trip_id, body, summary FROM trips WHERE state = 'queued' ORDER BY created_at, trip_id LIMIT 1"
        ).fetchone()
        if row:
            body = json.loads(row[1])
            if row[2] is not None:
                body["summary"] = json.loads(row[2])
            return Job("trip", row[0], None, body)
        row = self.db.execute(
            "SELECT e.event_id, e.trip_id, e.body FROM events e JOIN trips t ON t.trip_id = e.trip_id"
            " WHERE e.state = 'queued' AND t.state = 'sent'"
            " ORDER BY e.rank, e.event_utc_s, e.start_s, e.event_id LIMIT 1"
        ).fetchone()
        if row:
            return Job("event", row[1], row[0], json.loads(row[2]))
        row = self.db.execute(
            "SELECT trip_id, summary FROM trips WHERE state = 'sent' AND summary_state = 'queued' ORDER BY created_at, trip_id LIMIT 1"
        ).fetchone()
        if row:
            return Job("summary", row[0], None, json.loads(row[1]))
        row = self.db.execute(
            "SELECT c.event_id, e.trip_id, c.path, c.size, c.sha256 FROM clips c JOIN events e ON e.event_id = c.event_id"
            " WHERE c.state = 'queued' AND e.state = 'sent'"
            " ORDER BY e.rank, e.event_utc_s, e.start_s, e.event_id LIMIT 1"
        ).fetchone()
        if row:
            return Job("clip", row[1], row[0], None, Path(row[2]), int(row[3]), row[4])
        return None

    def mark(self, job: Job, state: str, error: str | None = None) -> None:
        """Record an attempt's outcome: ``sent``, ``failed`` (final, with why) or ``queued``
        (transient: tried again later, ``error`` says why)."""
        sent = time.time() if state == "sent" else None
        if job.kind == "summary":
            with self._tx() as db:
                db.execute(
                    "UPDATE trips SET summary_state = ?, attempts = attempts + 1, last_error = ? WHERE trip_id = ?",
                    (state, error, job.trip_id),
                )
            return
        table, key, value = {
            "trip": ("trips", "trip_id", job.trip_id),
            "event": ("events", "event_id", job.event_id),
            "clip": ("clips", "event_id", job.event_id),
        }[job.kind]
        with self._tx() as db:
            db.execute(
                f"UPDATE {table} SET state = ?, attempts = attempts + 1, last_error = ?, sent_at = ? WHERE {key} = ?",
                (state, error, sent, value),
            )
            if job.kind == "trip" and job.body is not None and job.body.get("summary") is not None:
                # the summary went with the trip (the drive had ended before the trip was sent)
                db.execute(
                    "UPDATE trips SET summary_state = ? WHERE trip_id = ? AND summary_state IS NOT NULL",
                    (state, job.trip_id),
                )

    def device_id(self) -> str | None:
        """The device the spooled trips come from (None: no trip yet)."""
        row = self.db.execute("SELECT body FROM trips ORDER BY created_at DESC LIMIT 1").fetchone()
        return None if row is None else str(json.loads(row[0]).get("device_id") or "") or None

    def pending_windows(self, before_s: float, after_s: float) -> list[tuple[float, float]]:
        """Absolute time windows (epoch s; sensor time where the drive's start is unknown) of
        the events whose metadata or clip still waits for upload, widened by the clip's span:
        what loop recording must keep."""
        rows = self.db.execute(
            "SELECT COALESCE(e.event_utc_s, e.start_s), json_extract(e.body, '$.end_s') - json_extract(e.body, '$.start_s')"
            " FROM events e LEFT JOIN clips c ON c.event_id = e.event_id"
            " WHERE e.state = 'queued' OR c.state = 'queued'"
        ).fetchall()
        return [(float(a) - before_s, float(a) + float(length) + after_s) for a, length in rows]

    def status(self) -> dict[str, Any]:
        """Counts per state, and every failed or capped entry with why (what a fleet sees)."""
        out: dict[str, Any] = {}
        for table in ("trips", "events", "clips"):
            rows = self.db.execute(f"SELECT state, COUNT(*) FROM {table} GROUP BY state").fetchall()
            out[table] = {s: n for s, n in rows}
        # a trip's summary: with the trip (sent whole), after it (opened during the drive), or
        # ``open``: the drive has not ended yet
        rows = self.db.execute(
            "SELECT COALESCE(summary_state, CASE WHEN json_extract(body, '$.summary') IS NULL THEN 'open' ELSE state END),"
            " COUNT(*) FROM trips GROUP BY 1"
        ).fetchall()
        out["trip_summaries"] = {s: n for s, n in rows}
        out["problems"] = [
            {"kind": k, "id": i, "state": s, "attempts": a, "why": w}
            for k, i, s, a, w in self.db.execute(
                "SELECT 'trip', trip_id, CASE WHEN state = 'sent' THEN 'summary ' || summary_state ELSE state END, attempts, last_error"
                " FROM trips WHERE last_error IS NOT NULL AND (state != 'sent' OR summary_state != 'sent')"
                " UNION ALL SELECT 'event', event_id, state, attempts, last_error FROM events WHERE last_error IS NOT NULL AND state != 'sent'"
                " UNION ALL SELECT 'clip', event_id, state, attempts, last_error FROM clips WHERE last_error IS NOT NULL AND state != 'sent'"
            ).fetchall()
        ]
        return out

    def events(self) -> list[dict[str, Any]]:
        """Every stored event: id, type, state (for tests and the status page)."""
        return [
            {"event_id": i, "trip_id": t, "type": ty, "state": s, "start_s": st}
            for i, t, ty, s, st in self.db.execute(
                "SELECT event_id, trip_id, type, state, start_s FROM events ORDER BY start_s, type"
            ).fetchall()
        ]

    def _tx(self) -> _Transaction:
        return _Transaction(self.db)


class _Transaction:
    """``BEGIN IMMEDIATE`` ... ``COMMIT`` (rolled back on error)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db

    def __enter__(self) -> sqlite3.Connection:
        self.db.execute("BEGIN IMMEDIATE")
        return self.db

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        self.db.execute("COMMIT" if exc_type is None else "ROLLBACK")


def write_durably(path: Path, data: bytes) -> None:
    """Temporary file, fsync, rename, fsync the folder: the name appears whole or not at all."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    dfd = os.open(path.parent, os.O_RDONLY)
    try:
        os.fsync(dfd)
    finally:
        os.close(dfd)

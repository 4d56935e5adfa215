"""A GPS receiver on a serial port speaking NMEA 0183 (pyserial + pynmea2), as the recording
reader understands ``gps.nmea``: RMC gives position, speed, course and the date, GGA position
and altitude, VTG speed and course for the fix before it; RMC status ``V`` and GGA quality 0
are no fix. The sentences of one epoch (same UTC time) make one fix, handed on when the next
epoch begins or ``hold_s`` after its last sentence. A sentence with a bad checksum, or that
does not parse, is counted and skipped, its reason kept (``serial PORT line N: ...``); a port
that fails is reopened every second."""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from datetime import UTC, date, datetime
from datetime import time as time_of_day
from typing import Any

import pynmea2
import serial

from saferoad.adapters.sensors._feed import ClockAligner, SampleBuffer, gps_series
from saferoad.domain.types import GpsSeries, ImuSeries
from saferoad.ports.sensors import FeedStats

KNOT_MPS = 1852.0 / 3600.0
HOLD_S = 0.2
"""An epoch's fix is complete this long after its last sentence (a receiver sends an epoch's
sentences in one burst, well under 100 ms at 9600 baud)."""


def _f(v: object) -> float:
    try:
        x = float(v)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return math.nan
    return x if math.isfinite(x) else math.nan


Fix = tuple[tuple[float, ...], float]
"""``(utc_s, lat, lon, speed_mps, course_deg, alt_m)`` and the arrival of the epoch's first
sentence (the receiver's clock is aligned on it, not on the sentence that completed it)."""


class NmeaFixes:
    """Assembles sentences into fixes."""

    def __init__(self, today: Callable[[], date] = lambda: datetime.now(UTC).date()) -> None:
        self.today = today
        self.day: date | None = None
        self._key: time_of_day | None = None
        """The pending epoch's UTC time of day (its date is the newest RMC's, known by the
        time the epoch is handed on even when its GGA came before the RMC)."""
        self._fix: dict[str, float] = {}
        self._last_arrival = 0.0
        self._first_arrival = 0.0

    def add(self, msg: Any, arrival: float) -> list[Fix]:
        """One parsed sentence; returns the fixes it completed (the previous epoch's)."""
        out: list[Fix] = []
        if isinstance(msg, pynmea2.types.talker.VTG):
            if self._key is not None:
                kmph = _f(msg.spd_over_grnd_kmph)
                if math.isnan(kmph):
                    kmph = _f(msg.spd_over_grnd_kts) * KNOT_MPS * 3.6
                if math.isnan(self._fix.get("speed", math.nan)):
                    self._fix["speed"] = kmph / 3.6
                if math.isnan(self._fix.get("course", math.nan)):
                    self._fix["course"] = _f(msg.true_track)
                self._last_arrival = arrival
            return out
        if isinstance(msg, pynmea2.types.talker.RMC):
            if msg.datestamp is not None:
                self.day = msg.datestamp
            if msg.status != "A" or msg.timestamp is None:
                return out
            values = {"lat": msg.latitude, "lon": msg.longitude, "speed": _f(msg.spd_over_grnd) * KNOT_MPS, "course": _f(msg.true_course)}
        elif isinstance(msg, pynmea2.types.talker.GGA):
            if msg.timestamp is None or _f(msg.gps_qual) == 0 or not msg.lat:
                return out
            values = {"lat": msg.latitude, "lon": msg.longitude, "alt": _f(msg.altitude)}
        else:
            return out  # other sentences (GSA, GSV ...) carry nothing the rules use
        key: time_of_day = msg.timestamp
        if self._key is not None and key != self._key:
            out += self.flush()
        if self._key is None:
            self._first_arrival = arrival
        self._key = key
        for k, v in values.items():
            if k in ("lat", "lon") and k in self._fix:
                continue  # RMC and GGA of one epoch give the same position
            self._fix[k] = float(v)
        self._last_arrival = arrival
        return out

    def due(self, now: float, hold_s: float = HOLD_S) -> list[Fix]:
        """The pending fix, once ``hold_s`` passed without a sentence of its epoch."""
        if self._key is not None and now - self._last_arrival >= hold_s:
            return self.flush()
        return []

    def flush(self) -> list[Fix]:
        if self._key is None:
            return []
        f, key = self._fix, self._key
        self._fix, self._key = {}, None
        get = f.get
        utc = datetime.combine(self.day or self.today(), key).replace(tzinfo=UTC).timestamp()
        fix = (utc, get("lat", math.nan), get("lon", math.nan), get("speed", math.nan), get("course", math.nan), get("alt", math.nan))
        return [(fix, self._first_arrival)]


class SerialNmeaFeed:
    """GPS fixes from an NMEA 0183 receiver on ``port`` (``/dev/ttyUSB0``, ``/dev/ttyACM0``,
    a pseudo-terminal in tests) at ``baud``."""

    def __init__(
        self,
        port: str,
        baud: int,
        origin: float,
        *,
        clock: Callable[[], float] = time.monotonic,
        hold_s: float = HOLD_S,
    ) -> None:
        self.port = port
        self.baud = baud
        self.name = "gps_serial"
        self.stats = FeedStats()
        self.hold_s = hold_s
        self._clock = clock
        self._align = ClockAligner(origin, self.stats)
        self._buf = SampleBuffer(self.stats)
        self._fixes = NmeaFixes()
        self._fix_lock = threading.Lock()
        self._line = 0
        self._serial = self._open()  # fails at once (a ValueError naming the port) if it cannot open
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="feed-gps-serial", daemon=True)
        self._thread.start()

    def _open(self) -> serial.Serial:
        try:
            return serial.Serial(self.port, self.baud, timeout=0.1)
        except (serial.SerialException, OSError) as err:
            raise ValueError(f"edge.gps_serial: cannot open {self.port}: {err}") from None

    def _run(self) -> None:
        port: serial.Serial | None = self._serial
        while not self._stop.is_set():
            if port is None:
                try:
                    port = self._serial = self._open()
                except ValueError as err:
                    self.stats.last_error = str(err)
                    self._stop.wait(1.0)
                    continue
            try:
                raw = port.readline()
            except (serial.SerialException, OSError, TypeError) as err:
                if self._stop.is_set():
                    return
                self.stats.last_error = f"serial {self.port}: {err} (reopening)"
                port.close()
                port = None
                continue
            now = self._clock()
            if raw:
                self.feed(raw, now)
            with self._fix_lock:
                fixes = self._fixes.due(now, self.hold_s)
            self._add(fixes, now)

    def feed(self, raw: bytes, arrival: float) -> None:
        """One line from the port (the reader thread calls it; tests may too)."""
        line = raw.decode("ascii", errors="replace").strip()
        if not line:
            return
        self._line += 1
        self.stats.lines += 1
        try:
            msg = pynmea2.parse(line, check=True)
        except pynmea2.ChecksumError as err:
            self._bad(f"bad checksum: {err.args[0][0] if err.args and isinstance(err.args[0], tuple) else err}")
            return
        except (pynmea2.ParseError, ValueError, AttributeError) as err:
            detail = err.args[0][0] if err.args and isinstance(err.args[0], tuple) else err
            self._bad(f"bad NMEA sentence: {detail} ({line[:40]!r})")
            return
        try:
            with self._fix_lock:
                fixes = self._fixes.add(msg, arrival)
        except (ValueError, TypeError, AttributeError) as err:
            self._bad(f"bad field in {getattr(msg, 'sentence_type', '?')}: {err}")
            return
        self._add(fixes, arrival)

    def _bad(self, why: str) -> None:
        self.stats.bad += 1
        self.stats.last_error = f"serial {self.port} line {self._line}: {why}"

    def _add(self, fixes: list[Fix], arrival: float) -> None:
        for fix, first in fixes:
            self._buf.add((self._align(fix[0], first), *fix[1:]), arrival)

    def poll(self) -> tuple[ImuSeries | None, GpsSeries | None]:
        return None, gps_series(self._buf.take())

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2)
        if self._serial is not None:
            self._serial.close()

"""IMU, GPS or CAN lines over UDP, in the recording format's columns: ``imu.csv``'s
``t_s,ax,ay,az[,gx,gy,gz]`` (m/s² with gravity, rad/s), ``gps.csv``'s
``t_s,lat,lon[,speed_mps,course_deg,alt_m]`` or ``can.csv``'s ``t_s,speed_mps[,turn_signal]``
(a gateway that decodes the vehicle bus sends them); one or more lines per datagram, a header line
(``t_s,...``) ignored. ``t_s`` is the sensor's own clock (aligned to the recorder's at the
first sample). A bad line is counted and skipped, its reason kept with the datagram, line and
field; it never stops the feed."""

from __future__ import annotations

import math
import socket
import threading
import time
from collections.abc import Callable

import numpy as np

from saferoad.adapters.sensors._feed import ClockAligner, SampleBuffer, gps_series, imu_series
from saferoad.domain.types import GpsSeries, ImuSeries, SpeedSeries, TurnSignalSeries
from saferoad.ports.sensors import FeedStats

IMU_FIELDS = ("t_s", "ax", "ay", "az", "gx", "gy", "gz")
GPS_FIELDS = ("t_s", "lat", "lon", "speed_mps", "course_deg", "alt_m")
CAN_FIELDS = ("t_s", "speed_mps", "turn_signal")
TURN_STATES = (-1.0, 0.0, 1.0)
_LIMITS = {"lat": (-90.0, 90.0), "lon": (-180.0, 180.0), "speed_mps": (0.0, math.inf), "course_deg": (0.0, 360.0)}


def parse_host_port(address: str, key: str) -> tuple[str, int]:
    host, _, port = address.rpartition(":")
    if not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"{key}: {address!r} is not HOST:PORT")
    return host, int(port)


class LineError(ValueError):
    pass


def parse_fields(
    fields: list[str], names: tuple[str, ...], required: int, check: Callable[[str, str, float], str | None]
) -> tuple[float, ...]:
    """The line's ``names`` fields as numbers: the first ``required`` must be given, a later one
    empty or left out is NaN; ``check(name, raw, value)`` says what is wrong with a value (None:
    nothing). Raises :class:`LineError` naming the field."""
    out = []
    for i, name in enumerate(names):
        raw = fields[i].strip() if i < len(fields) else ""
        if raw == "" and i >= required:
            out.append(math.nan)
            continue
        try:
            v = float(raw)
        except ValueError:
            raise LineError(f"field '{name}': not a number ({raw[:20]!r})") from None
        problem = check(name, raw, v)
        if problem is not None:
            raise LineError(f"field '{name}': {problem}")
        out.append(v)
    return tuple(out)


def _finite(_name: str, raw: str, v: float) -> str | None:
    return None if math.isfinite(v) else f"not finite ({raw[:20]!r})"


def _in_range(name: str, raw: str, v: float) -> str | None:
    lo, hi = _LIMITS.get(name, (-math.inf, math.inf))
    return None if math.isfinite(v) and lo <= v <= hi else f"{raw[:20]!r} outside {lo:g} .. {hi:g}"


def _can_value(name: str, raw: str, v: float) -> str | None:
    if name == "speed_mps":
        return None if math.isfinite(v) and v >= 0 else f"{raw[:20]!r} is not a finite speed >= 0"
    if name == "turn_signal" and math.isfinite(v) and v not in TURN_STATES:
        return f"{raw[:20]!r} is not -1 (left), 0 (off) or 1 (right)"
    return _finite(name, raw, v)


def parse_imu_line(fields: list[str], gyro: bool | None) -> tuple[float, ...]:
    """One ``imu.csv`` line: 4 fields (no gyroscope) or 7; ``gyro`` (from the first line)
    fixes which for the whole stream. Every field a finite number."""
    if len(fields) not in (4, 7) or (gyro is not None and len(fields) != (7 if gyro else 4)):
        want = "7 (t_s,ax,ay,az,gx,gy,gz)" if gyro else "4 (t_s,ax,ay,az)" if gyro is False else "4 or 7"
        raise LineError(f"{len(fields)} fields, expected {want}")
    return parse_fields(fields, IMU_FIELDS[: len(fields)], len(fields), _finite)


def parse_gps_line(fields: list[str]) -> tuple[float, ...]:
    """One ``gps.csv`` line: ``t_s,lat,lon`` required, ``speed_mps,course_deg,alt_m`` may be
    empty or left out (NaN); latitude, longitude, speed and course within their ranges."""
    if not 3 <= len(fields) <= 6:
        raise LineError(f"{len(fields)} fields, expected 3 to 6 (t_s,lat,lon[,speed_mps,course_deg,alt_m])")
    return parse_fields(fields, GPS_FIELDS, 3, _in_range)


def parse_can_line(fields: list[str]) -> tuple[float, ...]:
    """One ``can.csv`` line: ``t_s,speed_mps`` and, where the bus carries it, ``turn_signal``
    (-1 left, 0 off, 1 right; empty or left out: not known on this line, NaN)."""
    if not 2 <= len(fields) <= 3:
        raise LineError(f"{len(fields)} fields, expected 2 or 3 (t_s,speed_mps[,turn_signal])")
    return parse_fields(fields, CAN_FIELDS, 2, _can_value)


class UdpCsvFeed:
    """Receives ``kind`` (``imu`` or ``gps``) lines on ``address`` (HOST:PORT, bound here)."""

    def __init__(
        self,
        address: str,
        kind: str,
        origin: float,
        *,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        if kind not in ("imu", "gps", "can"):
            raise ValueError(f"UDP feed kind {kind!r}: expected 'imu', 'gps' or 'can'")
        self.kind = kind
        self.address = address
        self.name = f"{kind}_udp"
        self.stats = FeedStats()
        self._clock = clock
        self._align = ClockAligner(origin, self.stats)
        self._buf = SampleBuffer(self.stats)
        self._gyro: bool | None = None
        self._datagrams = 0
        host, port = parse_host_port(address, f"edge.{kind}_udp")
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        try:
            self.sock.bind((host, port))
        except OSError as err:
            self.sock.close()
            raise ValueError(f"edge.{kind}_udp: cannot listen on {address}: {err.strerror or err}") from None
        self.sock.settimeout(0.2)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"feed-{self.name}", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                data = self.sock.recv(65535)
            except TimeoutError:
                continue
            except OSError:
                return  # closed
            self.feed(data, self._clock())

    def feed(self, data: bytes, arrival: float) -> None:
        """Parse one datagram (the reader thread calls it; tests may too)."""
        self._datagrams += 1
        for lineno, line in enumerate(data.decode("ascii", errors="replace").splitlines(), 1):
            line = line.strip()
            if not line:
                continue
            self.stats.lines += 1
            fields = line.split(",")
            if fields[0].strip() == "t_s":
                continue  # a header
            try:
                if self.kind == "imu":
                    row = parse_imu_line(fields, self._gyro)
                    self._gyro = len(row) == 7
                elif self.kind == "can":
                    row = parse_can_line(fields)
                else:
                    row = parse_gps_line(fields)
            except LineError as err:
                self.stats.bad += 1
                self.stats.last_error = f"udp {self.address}: datagram {self._datagrams} line {lineno}: {err}"
                continue
            self._buf.add((self._align(row[0], arrival), *row[1:]), arrival)

    def poll(self) -> tuple[ImuSeries | None, GpsSeries | None]:
        if self.kind == "can":
            return None, None  # UdpCanFeed.poll_can takes them
        rows = self._buf.take()
        return (imu_series(rows), None) if self.kind == "imu" else (None, gps_series(rows))

    def close(self) -> None:
        self._stop.set()
        self.sock.close()
        self._thread.join(timeout=2)


class UdpCanFeed(UdpCsvFeed):
    """Vehicle-bus lines (``t_s,speed_mps[,turn_signal]``) on ``address``: the vehicle speed
    and the turn signal (``ports.sensors.CanFeed``)."""

    def __init__(self, address: str, origin: float, *, clock: Callable[[], float] = time.monotonic) -> None:
        super().__init__(address, "can", origin, clock=clock)

    def poll_can(self) -> tuple[SpeedSeries | None, TurnSignalSeries | None]:
        rows = self._buf.take()
        if rows is None:
            return None, None
        speed = SpeedSeries(rows[:, 0].copy(), rows[:, 1].copy(), "can")
        known = np.isfinite(rows[:, 2])
        turn = TurnSignalSeries(rows[known, 0].copy(), rows[known, 2].copy()) if known.any() else None
        return speed, turn

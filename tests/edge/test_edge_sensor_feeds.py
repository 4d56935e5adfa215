"""Live sensor feeds with real parts: an NMEA receiver on a pseudo-terminal pair (the feed opens
the slave side with pyserial, the test writes the master side) and imu.csv / gps.csv lines over
UDP on 127.0.0.1. Bad lines are counted and skipped with the reason named; the sensor's own
sample spacing survives the transport."""

from __future__ import annotations

import math
import os
import re
import socket
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import pynmea2
import pytest

from saferoad.adapters.sensors import SerialNmeaFeed, UdpCsvFeed


def _free_udp_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _poll_until(feed: Any, want: int, kind: int, timeout_s: float = 5.0) -> list[Any]:
    got: list[Any] = []
    end = time.monotonic() + timeout_s
    while sum(len(g) for g in got) < want and time.monotonic() < end:
        series = feed.poll()[kind]
        if series is not None:
            got.append(series)
        time.sleep(0.05)
    return got


def _sentence(talker: str, kind: str, fields: tuple[str, ...]) -> bytes:
    cls: Callable[..., Any] = getattr(pynmea2.types.talker, kind)
    return (str(cls(talker, kind, fields)) + "\r\n").encode()


def test_serial_nmea_feed_on_a_pty_assembles_fixes_and_counts_bad_sentences() -> None:
    master, slave = os.openpty()
    feed = SerialNmeaFeed(os.ttyname(slave), 9600, origin=time.monotonic())
    try:
        for k in range(3):
            hhmmss = f"0815{k:02d}.00"
            os.write(master, _sentence("GP", "GGA", (hhmmss, "3540.0000", "N", "13945.0000", "E", "1", "08", "0.9", f"{40 + k}.0", "M", "39.0", "M", "", "")))
            os.write(master, _sentence("GP", "RMC", (hhmmss, "A", "3540.0000", "N", "13945.0000", "E", f"{10 + k}.0", "90.0", "201126", "", "", "A")))
            os.write(master, _sentence("GP", "VTG", ("90.0", "T", "", "M", f"{10 + k}.0", "N", "", "K", "A")))
            if k == 1:
                os.write(master, b"$GPRMC,081501.50,A,3540.0000,N,13945.0000,E,10.0,90.0,201126,,,A*00\r\n")
                os.write(master, b"$GPXXX garbage\r\n")
                os.write(master, _sentence("GP", "RMC", ("081501.70", "V", "", "", "", "", "", "", "201126", "", "", "N")))
            time.sleep(0.3)  # one epoch per burst, faster than real time: the clock is the receiver's
        parts = _poll_until(feed, 3, kind=1)
    finally:
        feed.close()
        os.close(master)
        os.close(slave)
    t = np.concatenate([p.t_s for p in parts])
    speed = np.concatenate([p.speed_mps for p in parts])
    alt = np.concatenate([p.alt_m for p in parts])
    assert len(t) == 3, feed.stats
    # the receiver's own 1 s epochs, not the 0.3 s they took to arrive
    assert np.diff(t) == pytest.approx([1.0, 1.0], abs=1e-6)
    assert speed == pytest.approx(np.array([10.0, 11.0, 12.0]) * 1852.0 / 3600.0, rel=1e-9)
    assert alt == pytest.approx([40.0, 41.0, 42.0])
    lat = np.concatenate([p.lat for p in parts])
    assert lat == pytest.approx([35 + 40 / 60] * 3)
    st = feed.stats
    assert st.bad == 2 and st.samples == 3 and st.late == 0
    assert st.lines == 3 * 3 + 3  # every line read is counted, the void fix (status V) is no sample
    assert "bad NMEA sentence" in (st.last_error or "") and "line 8" in (st.last_error or "")


def test_serial_nmea_feed_names_a_bad_checksum() -> None:
    master, slave = os.openpty()
    feed = SerialNmeaFeed(os.ttyname(slave), 4800, origin=time.monotonic())
    try:
        os.write(master, b"$GPRMC,081500.00,A,3540.0000,N,13945.0000,E,10.0,90.0,201126,,,A*00\r\n")
        end = time.monotonic() + 5
        while feed.stats.bad == 0 and time.monotonic() < end:
            time.sleep(0.05)
    finally:
        feed.close()
        os.close(master)
        os.close(slave)
    assert feed.stats.bad == 1
    assert feed.stats.last_error == f"serial {feed.port} line 1: bad checksum: checksum does not match: 00 != 54"


def test_serial_feed_refuses_a_port_that_does_not_open() -> None:
    with pytest.raises(ValueError, match=re.escape("edge.gps_serial: cannot open /nonexistent/tty")):
        SerialNmeaFeed("/nonexistent/tty", 9600, origin=time.monotonic())


def test_udp_imu_feed_keeps_the_sensor_clock_and_skips_bad_lines() -> None:
    port = _free_udp_port()
    feed = UdpCsvFeed(f"127.0.0.1:{port}", "imu", origin=time.monotonic())
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        lines = [f"{100 + i * 0.02:.3f},0.1,-0.2,9.81,0.001,0.002,0.003" for i in range(100)]
        tx.sendto(b"t_s,ax,ay,az,gx,gy,gz\n" + "\n".join(lines[:50]).encode(), ("127.0.0.1", port))
        tx.sendto(b"100.990,abc,0,9.8,0,0,0\n100.995,0.1,0,9.8\n100.980,0.1,0,9.8,0,0,0\n", ("127.0.0.1", port))
        for line in lines[50:]:
            tx.sendto(line.encode(), ("127.0.0.1", port))
            time.sleep(0.001)
        parts = _poll_until(feed, 100, kind=0)
    finally:
        tx.close()
        feed.close()
    t = np.concatenate([p.t_s for p in parts])
    acc = np.concatenate([p.acc for p in parts])
    assert len(t) == 100 and all(p.gyro is not None for p in parts)
    assert np.diff(t) == pytest.approx(np.full(99, 0.02), abs=1e-9)  # the sensor's spacing
    assert acc[0] == pytest.approx([0.1, -0.2, 9.81])
    st = feed.stats
    # the bad number and the 4-field line in a 7-field stream are refused; the late one dropped
    assert (st.bad, st.late, st.samples) == (2, 1, 100), st
    assert st.last_error is not None and "datagram 2 line 2: 4 fields, expected 7" in st.last_error


def test_udp_gps_feed_reads_gps_csv_lines_with_empty_fields() -> None:
    port = _free_udp_port()
    feed = UdpCsvFeed(f"127.0.0.1:{port}", "gps", origin=time.monotonic())
    tx = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        tx.sendto(b"0.0,35.5,139.5,10.0,90.0,40.0\n1.0,35.5001,139.5,,,\n2.0,95.0,139.5,10,90,40\n", ("127.0.0.1", port))
        parts = _poll_until(feed, 2, kind=1)
    finally:
        tx.close()
        feed.close()
    (gps,) = parts
    assert list(gps.lat) == pytest.approx([35.5, 35.5001])
    assert gps.speed_mps[0] == pytest.approx(10.0) and math.isnan(gps.speed_mps[1])
    assert feed.stats.bad == 1 and "field 'lat'" in (feed.stats.last_error or "")


def test_udp_feed_refuses_a_port_in_use() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
        with pytest.raises(ValueError, match=re.escape(f"edge.imu_udp: cannot listen on 127.0.0.1:{port}")):
            UdpCsvFeed(f"127.0.0.1:{port}", "imu", origin=time.monotonic())


def test_serial_feed_reopens_a_port_that_went_away(tmp_path: Path) -> None:
    """The receiver unplugged and plugged back (a udev-style symlink to the new device): the
    failure is reported, the feed retries every second and reads fixes again."""
    rmc = _sentence("GP", "RMC", ("081500.00", "A", "3540.0000", "N", "13945.0000", "E", "10.0", "90.0", "201126", "", "", "A"))
    link = tmp_path / "gps0"
    m1, s1 = os.openpty()
    link.symlink_to(os.ttyname(s1))
    feed = SerialNmeaFeed(str(link), 9600, origin=time.monotonic())
    m2 = s2 = -1
    try:
        os.write(m1, rmc)
        assert len(_poll_until(feed, 1, kind=1)) == 1
        os.close(m1)
        os.close(s1)  # unplugged: the device node is gone
        end = time.monotonic() + 5
        while "cannot open" not in (feed.stats.last_error or "") and time.monotonic() < end:
            time.sleep(0.05)
        assert str(link) in (feed.stats.last_error or ""), feed.stats
        m2, s2 = os.openpty()  # plugged back, under the same name
        link.unlink()
        link.symlink_to(os.ttyname(s2))
        time.sleep(1.5)  # the next reopen (every second)
        os.write(m2, _sentence("GP", "RMC", ("081501.00", "A", "3540.0000", "N", "13945.0000", "E", "10.0", "90.0", "201126", "", "", "A")))
        got = _poll_until(feed, 1, kind=1)
    finally:
        feed.close()
        for fd in (m2, s2):
            if fd >= 0:
                os.close(fd)
    assert sum(len(g) for g in got) == 1 and feed.stats.samples == 2

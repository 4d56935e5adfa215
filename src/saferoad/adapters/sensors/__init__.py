"""Live sensor feeds (``ports.sensors.SensorFeed``): a serial NMEA 0183 GPS receiver and
IMU/GPS/CAN lines in ``imu.csv``/``gps.csv``/``can.csv`` columns over UDP."""

from saferoad.adapters.sensors.nmea import SerialNmeaFeed
from saferoad.adapters.sensors.udp import UdpCanFeed, UdpCsvFeed

__all__ = ["SerialNmeaFeed", "UdpCanFeed", "UdpCsvFeed"]

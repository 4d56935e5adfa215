"""Limits on the recordings saferoad reads."""

from __future__ import annotations

from pydantic import Field

from saferoad.config.base import Section


class InputConfig(Section):
    """Limits on the recordings saferoad reads."""

    max_file_mb: int = Field(
        1024,
        ge=1,
        description=(
            "Largest sensor or metadata file of a recording (imu.csv, gps.csv/.nmea/.gpx, can.csv, "
            "labels.jsonl, detections.json, a foreign layout's CSV files) that analyze and serve read, "
            "in MiB; a bigger one is refused before it is read. 1 GiB holds about 20 hours of 200 Hz "
            "IMU; reading one needs a few times its size in memory. Video files are not limited."
        ),
    )
    video_reference: str = Field(
        "",
        description=(
            "An intact MP4 from the same road camera and encoder settings (for example an earlier "
            "recording of the same device); a relative path is relative to the recording's folder, "
            "and summary.json names it as written. When a recording's video.mp4 was cut before its index "
            "was written (a power cut) and its H.264 stream does not repeat its parameter sets "
            "in-band, its frames are rebuilt with this file's SPS/PPS (avcC); empty: none, and such "
            "a video is left out (docs/recording-format.md, \"A video cut short\")."
        ),
    )

"""The web app and the device ingest API (``saferoad web``)."""

from __future__ import annotations

from pydantic import Field

from saferoad.config.base import Section


class WebConfig(Section):
    """The web app and the device ingest API (``saferoad web``)."""

    host: str = Field(
        "127.0.0.1",
        description="Address `saferoad web` listens on (loopback by default; put a TLS "
        "reverse proxy in front to serve a network).",
    )
    port: int = Field(8080, ge=1, le=65535, description="TCP port of `saferoad web`.")
    media_dir: str = Field(
        "saferoad-media",
        description="Folder where clips uploaded through the ingest API are kept "
        "(relative paths are relative to the working directory).",
    )
    max_clip_bytes: int = Field(
        64 * 1024 * 1024,
        gt=0,
        description="Largest clip the ingest API accepts (bytes); a larger Upload-Length is "
        "answered 413. 64 MiB holds a 30 s 1080p H.264 clip at 15 Mbit/s with room to spare.",
    )
    session_hours: float = Field(
        12.0,
        gt=0,
        description="How long a login session lasts (hours) before the user logs in again "
        "(OWASP Session Management Cheat Sheet: absolute timeout).",
    )
    cookie_secure: bool = Field(
        False,
        description="Mark the session cookie Secure (send it over HTTPS only); set true behind "
        "a TLS proxy.",
    )
    login_max_failures: int = Field(
        5,
        ge=1,
        description="Failed logins allowed per user name and client address within "
        "login_window_s before further tries are answered 429 (OWASP Authentication Cheat "
        "Sheet: throttle failed logins; NIST SP 800-63B 5.2.2 caps at 100).",
    )
    login_window_s: float = Field(
        900.0, gt=0, description="Window (s) over which failed logins are counted."
    )

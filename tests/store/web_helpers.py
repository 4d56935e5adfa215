"""Helpers of the web tests: a store with two fleets and users of each role, a logged-in
TestClient, a real server on 127.0.0.1."""

from __future__ import annotations

import datetime as dt
import re
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from saferoad.adapters.sql import open_store
from saferoad.adapters.sql.store import SqlStore
from saferoad.application.web import add_user
from saferoad.config import SaferoadConfig, load_config
from saferoad.entrypoints.wiring import find_outputs, ingest_outputs

PASSWORDS = {
    "admin": "admin-pass-1",
    "mgr-a": "manager-a-pass",
    "mgr-b": "manager-b-pass",
    "drv": "driver-pass-1",
}


def web_config(tmp: Path, **web: Any) -> SaferoadConfig:
    return load_config(
        overrides={
            "scoring": {"min_distance_km": 50.0},
            "web": {"media_dir": str(tmp / "media"), **web},
        }
    )


def build_store(url: str, outputs: Path, other_fleet: Path, config: SaferoadConfig) -> SqlStore:
    """Fleet ``tokyo-taxi`` (two weeks, three drivers) and fleet ``osaka-vans`` (one trip);
    an admin, a manager of each fleet and the driver ``tokyo-taxi/D-aggressive``."""
    store = open_store(url)
    ingest_outputs(store.unit_of_work, [*find_outputs(outputs), other_fleet], config)
    add_user(store, "admin", PASSWORDS["admin"], "admin")
    add_user(store, "mgr-a", PASSWORDS["mgr-a"], "manager", fleets=("tokyo-taxi",))
    add_user(store, "mgr-b", PASSWORDS["mgr-b"], "manager", fleets=("osaka-vans",))
    add_user(store, "drv", PASSWORDS["drv"], "driver", driver="tokyo-taxi/D-aggressive")
    return store


OTHER_FLEET: dict[str, Any] = {
    "fleet": "osaka-vans",
    "driver": "O-1",
    "vehicle": "V-1",
    "style": "aggressive",
    "seed": 5,
    "start_utc": dt.datetime(2026, 11, 18, 1, 0, tzinfo=dt.UTC),
}


def other_fleet_events() -> list[dict[str, Any]]:
    return [
        {"type": "tailgating", "start_s": 100.0, "end_s": 104.0, "severity": "high",
         "confidence": 0.9, "peak": {"headway_s": 0.6}},
    ]


def write_other_fleet(make_output: Any, root: Path) -> Path:
    return make_output(root / "osaka", **OTHER_FLEET, events=other_fleet_events())


def write_analyze_output(out: Path, **kw: Any) -> Path:
    """The store tests' synthetic analyze output (tests/store/conftest.py)."""
    import importlib.util

    spec = importlib.util.spec_from_file_location(
        "store_conftest_outputs", Path(__file__).with_name("conftest.py")
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    kw.setdefault("events", other_fleet_events())
    return module.write_analyze_output(out, **kw)  # type: ignore[no-any-return]


def csrf_of(html: str) -> str:
    m = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert m, "no CSRF token in the page"
    return m.group(1)


def log_in(client: Any, username: str, password: str | None = None) -> Any:
    page = client.get("/login")
    return client.post(
        "/login",
        data={
            "username": username,
            "password": password if password is not None else PASSWORDS[username],
            "csrf_token": csrf_of(page.text),
            "next": "/",
        },
        follow_redirects=False,
    )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def serve(app: Any) -> Iterator[str]:
    """Run ``app`` with uvicorn on 127.0.0.1 in a thread; yields its base URL."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="off")
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("uvicorn did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def h264_clip(path: Path, seed: int, seconds: float = 2.0, fps: int = 10) -> None:
    """Rewrite ``path`` as an H.264 MP4 (yuv420p) that a browser plays: a moving bar."""
    import av
    import numpy as np

    path.parent.mkdir(parents=True, exist_ok=True)
    with av.open(str(path), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = 320, 192, "yuv420p"
        for i in range(int(seconds * fps)):
            img = np.full((192, 320, 3), 40 + (seed * 17) % 120, np.uint8)
            x = (i * 12) % 300
            img[60:130, x : x + 20] = (230, 200, 40)
            frame = av.VideoFrame.from_ndarray(img, format="rgb24")
            for packet in stream.encode(frame):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


def browser_outputs(week_outputs: Path, dst: Path) -> Path:
    """A copy of the week outputs whose clips are H.264 (the synthetic ones are MPEG-4 Part 2,
    which browsers do not decode)."""
    import shutil

    shutil.copytree(week_outputs, dst)
    for i, clip in enumerate(sorted(dst.rglob("clips/*.mp4"))):
        h264_clip(clip, i)
    return dst

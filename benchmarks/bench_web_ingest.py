"""Ingest API load test on loopback: N devices x M events with clips, some requests retried,
some clip uploads cut mid-request; then checks that nothing was lost or duplicated.

    .venv/bin/python benchmarks/bench_web_ingest.py [--devices 50] [--events 200]
        [--clip-kib 8] [--db URL]

``saferoad web`` runs as its own process (uvicorn, SQLite in a temporary folder unless
``--db``) on 127.0.0.1; the devices are asyncio tasks sharing one httpx connection pool. Each
device PUTs its trip, then each event and its clip (two PATCH chunks). Every 10th event PUT
and every 7th chunk is sent twice (a retry after a lost answer: 200 / 409 + offset expected);
every 20th clip's first chunk is cut after half its bytes (the socket closed mid-body), and
the device resumes from the server's HEAD offset.

Printed: requests/s, events/s (event + clip stored), p50/p99 latency per kind of request, and
the baseline measured in the same run: p50/p99 of GET /health (the HTTP stack alone, no
database) under the same concurrency. Then the check: trips, events and complete clips in the
store equal what was sent, no duplicate, every clip's SHA-256 right.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import hashlib
import os
import random
import socket
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "src"))

API = "/api/v1/ingest"


@dataclass
class LoadResult:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    wall_s: float = 0.0
    requests: int = 0
    retries: int = 0
    cuts: int = 0
    sent_events: dict[tuple[str, str], str] = field(default_factory=dict)
    """(device, event id) -> SHA-256 of its clip."""
    unexpected: list[str] = field(default_factory=list)
    transport_errors: list[str] = field(default_factory=list)

    def add(self, kind: str, seconds: float) -> None:
        self.latencies.setdefault(kind, []).append(seconds)
        self.requests += 1


def pct(values: list[float], q: float) -> float:
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q / 100 * (len(s) - 1))))] if s else float("nan")


def trip_body(device: str, fleet: str, i: int) -> dict[str, Any]:
    return {
        "device_id": device,
        "driver": f"D-{i:03d}",
        "vehicle": f"V-{i:03d}",
        "fleet": fleet,
        "start_utc": f"2026-11-17T{i % 24:02d}:00:00Z",
        "time_zone": "Europe/Berlin",
        "summary": {"duration_s": 3600.0, "distance_km": 40.0 + i, "event_counts": {}},
    }


def event_body(k: int) -> dict[str, Any]:
    types = ("harsh_braking", "harsh_acceleration", "harsh_cornering", "tailgating", "speeding")
    return {
        "type": types[k % len(types)],
        "start_s": 10.0 + 15.0 * k,
        "end_s": 12.0 + 15.0 * k,
        "severity": ("low", "medium", "high")[k % 3],
        "confidence": 0.9,
        "peak": {"value": 1.0 + k % 7},
        "evidence": {"clip": f"clips/event_{k:03d}.mp4"},
    }


async def _cut_patch(host: str, port: int, path: str, headers: dict[str, str], chunk: bytes,
                     token: str) -> None:
    """Send a PATCH whose body stops halfway, then close the socket (a dropped connection)."""
    _reader, writer = await asyncio.open_connection(host, port)
    head = [f"PATCH {path} HTTP/1.1", f"Host: {host}:{port}", f"Authorization: Bearer {token}",
            f"Content-Length: {len(chunk)}"] + [f"{k}: {v}" for k, v in headers.items()]
    writer.write(("\r\n".join(head) + "\r\n\r\n").encode() + chunk[: len(chunk) // 2])
    await writer.drain()
    await asyncio.sleep(0.01)
    writer.close()
    with contextlib.suppress(OSError):
        await writer.wait_closed()


async def _device(client: Any, base: str, fleet: str, device: str, token: str, i: int,
                  n_events: int, clip_bytes: int, res: LoadResult, rng: random.Random) -> None:
    import httpx

    auth = {"Authorization": f"Bearer {token}"}

    async def call(kind: str, method: str, url: str, expect: set[int], **kw: Any) -> Any:
        headers = {**auth, **kw.pop("headers", {})}
        for attempt in range(5):
            t0 = time.perf_counter()
            try:
                r = await client.request(method, url, headers=headers, **kw)
                break
            except httpx.TransportError as err:  # no answer: a device retries
                res.add(kind, time.perf_counter() - t0)
                res.transport_errors.append(f"{type(err).__name__} on {method} {url}")
                await asyncio.sleep(0.05 * 2**attempt)
        else:
            res.unexpected.append(f"{device} {method} {url}: no answer after 5 tries")
            return None
        res.add(kind, time.perf_counter() - t0)
        if attempt and method == "PATCH" and r.status_code in (200, 409):
            return r  # the lost answer's chunk was stored: the offset says where to go on
        if r.status_code not in expect:
            res.unexpected.append(f"{device} {method} {url}: {r.status_code} {r.text[:120]}")
        return r

    trip = f"trip-{device}"
    await call("put_trip", "PUT", f"{API}/trips/{trip}", {201}, json=trip_body(device, fleet, i))
    await call("put_trip", "PUT", f"{API}/trips/{trip}", {200}, json=trip_body(device, fleet, i))
    res.retries += 1
    for k in range(n_events):
        ev = f"ev-{k:04d}"
        url = f"{API}/trips/{trip}/events/{ev}"
        await call("put_event", "PUT", url, {201}, json=event_body(k))
        if k % 10 == 0:
            await call("put_event", "PUT", url, {200}, json=event_body(k))
            res.retries += 1
        clip = rng.randbytes(clip_bytes)
        sha = hashlib.sha256(clip).hexdigest()
        res.sent_events[device, ev] = sha
        half = clip_bytes // 2
        chunks = [(0, clip[:half]), (half, clip[half:])]
        hdr = {"Upload-Length": str(clip_bytes), "Clip-SHA256": sha,
               "Content-Type": "application/offset+octet-stream"}
        if k % 20 == 3:  # the connection drops in the middle of the first chunk
            host, port = base.split("//")[1].split(":")
            await _cut_patch(host, int(port), f"{url}/clip", {**hdr, "Upload-Offset": "0"},
                             chunks[0][1], token)
            res.cuts += 1
            r = await call("head_clip", "HEAD", f"{url}/clip", {200, 404})
            start = int(r.headers.get("Upload-Offset", "0")) if r and r.status_code == 200 else 0
            chunks = [(start, clip[start:])] if start else chunks
        for n, (off, data) in enumerate(chunks):
            last = off + len(data) == clip_bytes
            await call("patch_clip", "PATCH", f"{url}/clip", {201 if last else 204},
                       content=data, headers={**hdr, "Upload-Offset": str(off)})
            if (k * 2 + n) % 7 == 0:  # a retry of a chunk the server already has
                again = await call("patch_clip", "PATCH", f"{url}/clip", {200 if last else 409},
                                   content=data, headers={**hdr, "Upload-Offset": str(off)})
                res.retries += 1
                if again is not None and not last and again.headers.get(
                    "Upload-Offset"
                ) != str(off + len(data)):
                    res.unexpected.append(f"{device} {ev}: 409 without the stored offset")


async def _health(client: Any, n: int, res: LoadResult) -> None:
    for _ in range(n):
        t0 = time.perf_counter()
        await client.get(f"{API}/health")
        res.add("health (baseline)", time.perf_counter() - t0)


async def run_load(base: str, fleet: str, tokens: dict[str, str], n_events: int,
                   clip_bytes: int = 8192, seed: int = 7, health_per_device: int = 20) -> LoadResult:
    import httpx

    res = LoadResult()
    limits = httpx.Limits(max_connections=len(tokens), max_keepalive_connections=len(tokens))
    async with httpx.AsyncClient(base_url=base, limits=limits, timeout=60.0) as client:
        base_res = LoadResult()
        await asyncio.gather(*(_health(client, health_per_device, base_res) for _ in tokens))
        t0 = time.perf_counter()
        await asyncio.gather(*(
            _device(client, base, fleet, dev, tok, i, n_events, clip_bytes, res,
                    random.Random(seed * 1000 + i))
            for i, (dev, tok) in enumerate(sorted(tokens.items()))
        ))
        res.wall_s = time.perf_counter() - t0
        res.latencies.update(base_res.latencies)
    return res


def check_store(url: str, fleet: str, res: LoadResult) -> list[str]:
    """What is wrong in the store after the load (empty: nothing lost, nothing duplicated)."""
    from sqlalchemy import func, select

    from saferoad.adapters.sql import open_store
    from saferoad.adapters.sql.models import EventRow, Trip
    from saferoad.adapters.sql.web_models import ClipUpload, IngestEvent, IngestTrip

    problems: list[str] = []
    store = open_store(url)
    try:
        with store.unit_of_work() as uow:
            s = uow.session  # type: ignore[attr-defined]
            devices = {d for d, _ in res.sent_events}
            n_trips = s.scalar(select(func.count(IngestTrip.id)))
            if n_trips != len(devices) or s.scalar(select(func.count(Trip.id))) != len(devices):
                problems.append(f"{n_trips} trips stored, {len(devices)} sent")
            n_events = s.scalar(select(func.count(EventRow.id)))
            if n_events != len(res.sent_events):
                problems.append(f"{n_events} events stored, {len(res.sent_events)} sent")
            stored = {
                (dev, ext): (sha, path, done)
                for dev, ext, sha, path, done in s.execute(
                    select(IngestTrip.device_code, IngestEvent.external_id, ClipUpload.sha256,
                           ClipUpload.path, ClipUpload.complete)
                    .join(IngestEvent, IngestEvent.trip_id == IngestTrip.trip_id)
                    .join(ClipUpload, ClipUpload.event_id == IngestEvent.event_id, isouter=True)
                )
            }
            for key, sha in res.sent_events.items():
                got = stored.get(key)
                if got is None or not got[2]:
                    problems.append(f"{key}: clip missing or incomplete")
                    continue
                if got[0] != sha or hashlib.sha256(Path(got[1]).read_bytes()).hexdigest() != sha:
                    problems.append(f"{key}: clip bytes differ")
            trip_events = s.execute(select(Trip.n_events)).scalars().all()
            if sum(trip_events) != len(res.sent_events):
                problems.append(f"trip.n_events sum {sum(trip_events)} != {len(res.sent_events)}")
    finally:
        store.close()
    return problems[:20]


def report(res: LoadResult) -> None:
    n_events = len(res.sent_events)
    print(f"{res.requests - len(res.latencies.get('health (baseline)', []))} requests in "
          f"{res.wall_s:.1f} s: {(res.requests - len(res.latencies.get('health (baseline)', []))) / res.wall_s:,.0f} req/s, "
          f"{n_events / res.wall_s:,.0f} events/s (event + clip stored); "
          f"{res.retries} retried, {res.cuts} uploads cut mid-body, "
          f"{len(res.transport_errors)} requests without an answer (sent again)")
    print(f"{'request':<20}{'n':>8}{'p50 ms':>10}{'p99 ms':>10}")
    for kind in ("put_trip", "put_event", "head_clip", "patch_clip", "health (baseline)"):
        v = res.latencies.get(kind, [])
        if v:
            print(f"{kind:<20}{len(v):>8}{pct(v, 50) * 1000:>10.1f}{pct(v, 99) * 1000:>10.1f}")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--devices", type=int, default=50)
    ap.add_argument("--events", type=int, default=200)
    ap.add_argument("--clip-kib", type=int, default=8)
    ap.add_argument("--db", default=None, help="database URL (default: SQLite in a temp folder)")
    args = ap.parse_args()

    from saferoad.adapters.sql import open_store
    from saferoad.application.web import add_device

    tmp = Path(tempfile.mkdtemp(prefix="saferoad-bench-web-"))
    url = args.db or f"sqlite:///{tmp / 'web.db'}"
    store = open_store(url)
    fleet = "bench-fleet"
    tokens = {f"dev-{i:03d}": add_device(store, fleet, f"dev-{i:03d}") for i in range(args.devices)}
    store.close()
    port = _free_port()
    env = {**os.environ, "SAFEROAD_DB_URL": url}
    server = subprocess.Popen(
        [str(Path(sys.executable).with_name("saferoad")), "web", "--port", str(port),
         "--set", f"web.media_dir={tmp / 'media'}"],
        env=env, cwd=tmp, stdout=subprocess.DEVNULL, stderr=(tmp / "server.log").open("w"),
    )
    try:
        import httpx

        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"http://127.0.0.1:{port}{API}/health").status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline or server.poll() is not None:
                raise SystemExit("saferoad web did not start")
            time.sleep(0.2)
        print(f"saferoad web on 127.0.0.1:{port}, store {url.split(':')[0]}; "
              f"{args.devices} devices x {args.events} events, {args.clip_kib} KiB clips")
        res = asyncio.run(run_load(f"http://127.0.0.1:{port}", fleet, tokens, args.events,
                                   args.clip_kib * 1024))
    finally:
        server.terminate()
        server.wait(10)
    report(res)
    if res.transport_errors:
        print("  first: " + res.transport_errors[0] + f" (server log: {tmp / 'server.log'})")
    problems = res.unexpected[:10] + check_store(url, fleet, res)
    if problems:
        print("PROBLEMS:\n  " + "\n  ".join(problems))
        return 1
    print(f"check: {len(tokens)} trips, {len(res.sent_events)} events, {len(res.sent_events)} "
          "clips stored once each with the right SHA-256; nothing lost, nothing duplicated")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""``saferoad serve``: the ``saferoad.v1.AnalysisService`` gRPC API.

``protos/saferoad_analysis_v1.proto`` is the contract. A client sends a recording — a path
the server can read (``AnalyzePath``) or a tar/zip of the folder in chunks
(``AnalyzeUpload``) — and reads back a stream: ``started``, one ``event`` per risky-driving
event as soon as it is final (one of the sinks of
:func:`~saferoad.entrypoints.wiring.analyze_recording`'s fan-out: every sink, events.jsonl
too, receives the same events, clip paths and the camera's lane-change direction included),
then ``summary``.

Status codes: a missing path is ``NOT_FOUND``; an unreadable recording, a bad archive or a bad
option is ``INVALID_ARGUMENT`` (the message names the file and field); an upload over
``inference.max_upload_mb`` or more analyses than ``inference.max_concurrent_analyses`` is
``RESOURCE_EXHAUSTED``. A client that goes away mid-stream only ends its own call: the
analysis stops when it next hands out final events, and temporary files are removed.
"""

from __future__ import annotations

import json
import queue
import shutil
import tarfile
import tempfile
import threading
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import grpc
from google.protobuf import struct_pb2

from saferoad._version import __version__
from saferoad.adapters.grpc.analysis_messages import event_from_message, event_message
from saferoad.adapters.grpc.generated import saferoad_analysis_v1_pb2 as pb
from saferoad.adapters.grpc.generated import saferoad_analysis_v1_pb2_grpc as pb_grpc
from saferoad.adapters.grpc.server import GrpcServer, is_loopback, start_server
from saferoad.adapters.recording import detect_format
from saferoad.adapters.recording._csv import file_size_limit
from saferoad.config import ConfigError, SaferoadConfig, config_from_dict, parse_assignments
from saferoad.config.cabin import CLIENT_KEYS as CABIN_CLIENT_KEYS
from saferoad.config.cabin import cabin_client_keys
from saferoad.config.motion import CLIENT_KEYS as MOTION_CLIENT_KEYS
from saferoad.config.motion import motion_client_keys
from saferoad.config.perception import CLIENT_KEYS as PERCEPTION_CLIENT_KEYS
from saferoad.config.road_events import road_client_keys
from saferoad.domain.recording import Recording
from saferoad.domain.types import Event
from saferoad.entrypoints import wiring
from saferoad.observability import get_logger

_log = get_logger("grpc.analysis")

__all__ = ["CLIENT_DETECTORS", "CLIENT_OPTIONS", "AnalysisServicer", "event_from_message", "serve_analysis"]

SERVICE_NAME = pb.DESCRIPTOR.services_by_name["AnalysisService"].full_name

AnalyzeFn = Callable[..., Any]


class _Cancelled(Exception):
    """The client went away: stop the analysis at its next event."""


class _QueueSink:
    """EventSink that hands events to the streaming handler."""

    def __init__(self, q: queue.Queue[tuple[str, Any]], cancelled: threading.Event) -> None:
        self._q = q
        self._cancelled = cancelled

    def emit(self, event: Event) -> None:
        if self._cancelled.is_set():
            raise _Cancelled()
        self._q.put(("event", event))

    def close(self) -> None:
        return None


@dataclass
class _Fail(Exception):
    code: grpc.StatusCode
    message: str


class AnalysisServicer(pb_grpc.AnalysisServiceServicer):
    def __init__(
        self,
        config: SaferoadConfig,
        *,
        analyze: AnalyzeFn | None = None,
        open_recording: Callable[[Path], Recording] | None = None,
    ) -> None:
        self.config = config
        self._analyze: AnalyzeFn = analyze or wiring.analyze_recording
        self._open: Callable[[Path], Recording] = open_recording or wiring.open_recording
        inf = config.inference
        self.max_upload_bytes = inf.max_upload_mb * 1024 * 1024
        self._slots = threading.BoundedSemaphore(inf.max_concurrent_analyses)
        self.active = 0
        self._lock = threading.Lock()

    # -- RPCs -------------------------------------------------------------------------------
    def GetServerInfo(self, request: Any, context: Any) -> Any:
        return pb.GetServerInfoResponse(
            saferoad_version=__version__,
            detector=self.config.perception.detector.type,
            inference_url=getattr(self.config.perception.detector, "url", None) or self.config.inference.url,
            max_upload_bytes=self.max_upload_bytes,
        )

    def AnalyzePath(self, request: Any, context: Any) -> Iterator[Any]:
        try:
            if not request.path:
                raise _Fail(grpc.StatusCode.INVALID_ARGUMENT, "path is empty")
            path = Path(request.path)
            self._check_root(path)
            if not path.exists():
                raise _Fail(grpc.StatusCode.NOT_FOUND, f"{path}: no such recording on the server")
            cfg = self._config_for(request.options)
            yield from self._run(path, cfg, context, name=str(path))
        except _Fail as f:
            context.abort(f.code, f.message)

    def AnalyzeUpload(self, request_iterator: Iterator[Any], context: Any) -> Iterator[Any]:
        tmp = Path(tempfile.mkdtemp(prefix="saferoad-upload-"))
        owned = [tmp]  # emptied when the analysis thread takes the folder over
        try:
            first = next(request_iterator, None)
            if first is None or first.WhichOneof("part") != "header":
                raise _Fail(grpc.StatusCode.INVALID_ARGUMENT, "the first message must be the header")
            header = first.header
            fmt = header.archive_format.lower()
            if fmt not in ("tar", "zip"):
                raise _Fail(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"archive_format {header.archive_format!r}: expected 'tar' or 'zip'",
                )
            cfg = self._config_for(header.options)
            archive = tmp / f"upload.{fmt}"
            size = 0
            with archive.open("wb") as fh:
                for msg in request_iterator:
                    if msg.WhichOneof("part") != "chunk":
                        raise _Fail(grpc.StatusCode.INVALID_ARGUMENT, "only the first message may be a header")
                    size += len(msg.chunk)
                    if size > self.max_upload_bytes:
                        raise _Fail(
                            grpc.StatusCode.RESOURCE_EXHAUSTED,
                            f"upload larger than {self.max_upload_bytes} bytes (inference.max_upload_mb)",
                        )
                    fh.write(msg.chunk)
            root = _extract(archive, tmp / "x", fmt, 4 * self.max_upload_bytes)
            archive.unlink()
            yield from self._run(root, cfg, context, name=header.name or root.name, owned=owned)
        except _Fail as f:
            context.abort(f.code, f.message)
        finally:
            for folder in owned:
                shutil.rmtree(folder, ignore_errors=True)

    # -- work -------------------------------------------------------------------------------
    def _check_root(self, path: Path) -> None:
        """AnalyzePath reads only inside ``inference.analyze_path_roots`` (when set), after
        following symbolic links, so a client cannot name a file elsewhere on the server."""
        roots = self.config.inference.analyze_path_roots
        if not roots:
            return
        real = path.resolve()
        if not any(real.is_relative_to(Path(r).resolve()) for r in roots):
            raise _Fail(
                grpc.StatusCode.PERMISSION_DENIED,
                f"{path}: outside the folders this server analyses (inference.analyze_path_roots)",
            )

    def _config_for(self, options: Any) -> SaferoadConfig:
        overrides: dict[str, Any] = {}
        try:
            if options.set:
                overrides = parse_assignments(list(options.set))
            if options.detector:
                overrides.setdefault("perception", {})["detector"] = options.detector
            check_client_options(overrides)
            perception = overrides.get("perception", {})
            if perception.get("detector") == self.config.perception.detector.type:
                # the server's own detector: its table (url, path) stays, not the bare name
                del perception["detector"]
                if not perception:
                    del overrides["perception"]
            if not overrides:
                return self.config
            merged = _merge(self.config.model_dump(mode="json"), overrides)
            return config_from_dict(merged, "<request options>")
        except ConfigError as err:
            raise _Fail(grpc.StatusCode.INVALID_ARGUMENT, str(err)) from None

    def _run(
        self, path: Path, cfg: SaferoadConfig, context: Any, name: str, owned: list[Path] | None = None
    ) -> Iterator[Any]:
        """Analyse in a worker thread and stream its events. ``owned``: temporary folders the
        worker removes when it ends (the call may end first, when the client goes away)."""
        if not self._slots.acquire(blocking=False):
            raise _Fail(
                grpc.StatusCode.RESOURCE_EXHAUSTED,
                f"server busy: {cfg.inference.max_concurrent_analyses} analyses running; retry later",
            )
        released = False
        try:
            try:
                with file_size_limit(cfg.input.max_file_mb << 20):
                    recording = self._open(path)
            except FileNotFoundError as err:
                raise _Fail(grpc.StatusCode.NOT_FOUND, str(err)) from None
            except ValueError as err:
                raise _Fail(grpc.StatusCode.INVALID_ARGUMENT, str(err)) from None
            q: queue.Queue[tuple[str, Any]] = queue.Queue()
            cancelled = threading.Event()
            sink = _QueueSink(q, cancelled)

            def work() -> None:
                with self._lock:
                    self.active += 1
                try:
                    result = self._analyze(recording, cfg, None, sink=sink)
                    q.put(("done", result))
                except _Cancelled:
                    q.put(("cancelled", None))
                except ValueError as err:
                    q.put(("invalid", err))
                except BaseException as err:
                    _log.exception("analysis_failed", recording=name)
                    q.put(("error", err))
                finally:
                    for folder in to_remove:
                        shutil.rmtree(folder, ignore_errors=True)
                    with self._lock:
                        self.active -= 1
                    self._slots.release()

            to_remove = list(owned or [])
            if owned:
                owned.clear()
            released = True  # from here the worker thread owns the slot and the folders
            threading.Thread(target=work, name="analysis", daemon=True).start()
            yield pb.AnalyzeResponse(
                started=pb.Started(
                    recording=name, source_format=recording.source_format, duration_s=recording.duration_s
                )
            )
            n = 0
            while True:
                try:
                    kind, item = q.get(timeout=0.25)
                except queue.Empty:
                    if not context.is_active():
                        cancelled.set()
                        _log.info("client_gone", recording=name, events_sent=n)
                        return
                    continue
                if kind == "event":
                    n += 1
                    yield pb.AnalyzeResponse(event=event_message(item))
                elif kind == "done":
                    summary = struct_pb2.Struct()
                    summary.update(json.loads(json.dumps(item.summary, default=str)))
                    yield pb.AnalyzeResponse(summary=pb.Summary(summary=summary, n_events=len(item.events)))
                    return
                elif kind == "invalid":
                    raise _Fail(grpc.StatusCode.INVALID_ARGUMENT, f"{name}: {item}")
                elif kind == "error":
                    raise _Fail(grpc.StatusCode.INTERNAL, f"{name}: analysis failed: {type(item).__name__}: {item}")
                else:
                    return
        finally:
            if not released:
                self._slots.release()


CLIENT_OPTIONS: frozenset[str] = frozenset(
    # derived: every motion engine parameter not declared client=False (config/motion.CLIENT_KEYS)
    [f"motion.{k}" for k in MOTION_CLIENT_KEYS]
    # derived: the road stage's switches and every road rule parameter not declared
    # client=False (config/road_events.road_client_keys)
    + [f"road_events.{k}" for k in road_client_keys()]
    # derived: the cabin's listed camera keys and every cabin rule threshold not declared
    # client=False (config/cabin.CLIENT_KEYS)
    + [f"cabin.{k}" for k in CABIN_CLIENT_KEYS]
    # derived: the detector, score, tracker and hood keys listed there and every camera
    # geometry parameter not declared client=False (config/perception.CLIENT_KEYS)
    + [f"perception.{k}" for k in PERCEPTION_CLIENT_KEYS]
)
"""The options a client of ``saferoad serve`` may set (``AnalyzeOptions.set`` / ``detector``):
thresholds and switches of the event rules. Nothing that names a host, a file, a secret or a
model, and no resource limit (rates, workers, threads, sizes, clip lengths): those are the
server's (docs/inference.md, "What a client may set")."""
CLIENT_DETECTORS = frozenset({"onnx", "replay", "grpc"})


def _known_option(section: str, key: str) -> bool:
    field = SaferoadConfig.model_fields.get(section)
    # the default's class: road_events is derived at run time from the registered rules
    model = type(field.get_default(call_default_factory=True)) if field is not None else None
    return isinstance(model, type) and key in getattr(model, "model_fields", {})


def _client_option(dotted: str) -> bool:
    """In :data:`CLIENT_OPTIONS`, or a road, motion or cabin rule parameter registered since it
    was made."""
    section, _, key = dotted.partition(".")
    registered = {"road_events": road_client_keys, "motion": motion_client_keys, "cabin": cabin_client_keys}
    return dotted in CLIENT_OPTIONS or (section in registered and key in registered[section]())


def check_client_options(overrides: dict[str, Any]) -> None:
    """Refuse any override outside :data:`CLIENT_OPTIONS` (``INVALID_ARGUMENT`` naming it)."""
    for section, body in overrides.items():
        if not isinstance(body, dict):
            raise _Fail(grpc.StatusCode.INVALID_ARGUMENT, f"option {section!r}: not a client option")
        for key, value in body.items():
            dotted = f"{section}.{key}"
            if not _client_option(dotted) and not _known_option(section, key):
                raise _Fail(grpc.StatusCode.INVALID_ARGUMENT, f"{dotted}: unknown key")
            if not _client_option(dotted) or isinstance(value, dict | list):
                raise _Fail(
                    grpc.StatusCode.INVALID_ARGUMENT,
                    f"option {dotted!r} may not be set by a client: only event-rule thresholds "
                    "and switches may (docs/inference.md)",
                )
    detector = overrides.get("perception", {}).get("detector")
    if detector is not None and detector not in CLIENT_DETECTORS:
        raise _Fail(
            grpc.StatusCode.INVALID_ARGUMENT,
            f"option 'perception.detector': {detector!r} is not one of {', '.join(sorted(CLIENT_DETECTORS))}",
        )


def _merge(a: dict[str, Any], b: dict[str, Any]) -> dict[str, Any]:
    out = dict(a)
    for k, v in b.items():
        out[k] = _merge(out[k], v) if isinstance(v, dict) and isinstance(out.get(k), dict) else v
    return out


def _extract(archive: Path, dest: Path, fmt: str, max_unpacked: int) -> Path:
    """Unpack safely (no absolute paths, no ``..``, no links, bounded size) and return the
    recording folder: ``dest`` itself, or its only sub-folder."""
    dest.mkdir()
    try:
        if fmt == "tar":
            with tarfile.open(archive) as tf:
                total = sum(m.size for m in tf.getmembers() if m.isfile())
                if total > max_unpacked:
                    raise _Fail(grpc.StatusCode.RESOURCE_EXHAUSTED, f"archive unpacks to {total} bytes (limit {max_unpacked})")
                tf.extractall(dest, filter="data")
        else:
            with zipfile.ZipFile(archive) as zf:
                infos = zf.infolist()
                total = sum(i.file_size for i in infos)
                if total > max_unpacked:
                    raise _Fail(grpc.StatusCode.RESOURCE_EXHAUSTED, f"archive unpacks to {total} bytes (limit {max_unpacked})")
                for i in infos:
                    target = (dest / i.filename).resolve()
                    if not target.is_relative_to(dest.resolve()) or (i.external_attr >> 16) & 0o170000 == 0o120000:
                        raise _Fail(grpc.StatusCode.INVALID_ARGUMENT, f"archive member {i.filename!r} points outside the recording")
                zf.extractall(dest)
    except (tarfile.TarError, zipfile.BadZipFile, EOFError, OSError) as err:
        raise _Fail(grpc.StatusCode.INVALID_ARGUMENT, f"not a readable {fmt} archive: {err}") from None
    entries = [p for p in dest.iterdir() if p.name not in ("__MACOSX",)]
    if detect_format(dest) is None and len(entries) == 1 and entries[0].is_dir():
        return entries[0]
    return dest


def serve_analysis(
    config: SaferoadConfig,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    tls_cert: bytes | None = None,
    tls_key: bytes | None = None,
    token: str | None = None,
    analyze: AnalyzeFn | None = None,
) -> tuple[GrpcServer, AnalysisServicer]:
    """Start ``saferoad.v1.AnalysisService`` (+ health, reflection) on ``host:port``."""
    servicer = AnalysisServicer(config, analyze=analyze)
    inf = config.inference
    server = start_server(
        lambda s: pb_grpc.add_AnalysisServiceServicer_to_server(servicer, s),  # type: ignore[no-untyped-call]
        [SERVICE_NAME],
        host=host,
        port=port,
        max_workers=inf.server_workers,
        max_message_bytes=inf.max_message_mb * 1024 * 1024,
        tls_cert=tls_cert,
        tls_key=tls_key,
        token=token,
    )
    _log.info("analysis_server_started", host=host, port=server.port, detector=config.perception.detector.type)
    if not is_loopback(host) and not inf.analyze_path_roots:
        _log.warning(
            "analyze_path_unrestricted", host=host,
            message="AnalyzePath reads any folder this server can read; set inference.analyze_path_roots",
        )
    return server, servicer

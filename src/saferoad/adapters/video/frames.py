"""Frame sources: video files, live streams, image folders and single images.

Every source implements :class:`saferoad.ports.frames.FrameSource`: it yields
:class:`~saferoad.domain.types.Frame` objects (BGR ``uint8``) in presentation order with
``t_s`` = seconds from the source's first frame (the presentation timestamp, not the frame
count times a nominal rate, so variable-frame-rate video stays right).

Video is decoded by PyAV (FFmpeg) in its own thread behind a bounded queue, so decoding
overlaps whatever consumes the frames and memory stays bounded. ``stride`` keeps every
``stride``-th frame (detect at 10 fps on 30 fps video with ``stride=3``); kept frames keep
their own index and timestamp. Live sources (``rtsp://``, ``http://``, ``tcp://``,
``udp://`` URLs and devices) use the same class; when the consumer falls behind, a live
source drops the oldest queued frame instead of blocking the camera.

Bad input: a file that cannot be opened raises :class:`VideoDecodeError` (a ``ValueError``)
naming it. A stream that breaks part-way (corrupt packets, a truncated file) keeps every
frame decoded before the break; then, with ``errors="raise"`` (default) iteration ends by
raising :class:`VideoDecodeError` saying how many frames were read, with
``errors="report"`` it logs a warning and stops, and the error stays in ``source.error``.
"""

from __future__ import annotations

import contextlib
import queue
import threading
from collections.abc import Iterator, Sequence
from fractions import Fraction
from pathlib import Path
from typing import Any, Literal

import av
import cv2
import numpy as np
from av.video.reformatter import Interpolation, VideoReformatter

from saferoad.domain.types import Frame
from saferoad.observability import get_logger

IMAGE_SUFFIXES = frozenset({".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp", ".ppm", ".pgm"})
LIVE_SCHEMES = ("rtsp://", "rtsps://", "rtmp://", "http://", "https://", "tcp://", "udp://", "srt://")

log = get_logger("video")


class VideoDecodeError(ValueError):
    """A video or image that cannot be decoded (or stopped decoding part-way)."""

    def __init__(self, message: str, frames_read: int = 0) -> None:
        super().__init__(message)
        self.frames_read = frames_read


_END = object()


class VideoFrameSource:
    """Frames from a video file or a live stream, decoded by PyAV in a background thread.

    ``source``: a path or URL. ``stride``: keep every n-th frame. ``queue_size``: frames
    decoded ahead. ``live``: drop the oldest queued frame when full instead of waiting
    (default: true for URLs). ``options``: FFmpeg demuxer options (for example
    ``{"rtsp_transport": "tcp"}``). ``timeout_s``: network open/read timeout.
    ``errors``: ``"raise"`` or ``"report"`` (see the module docstring).
    ``decode_threads``: FFmpeg decoder and colour-conversion threads (1, the default, decodes
    in this source's one thread and leaves the other cores to inference; 0 = FFmpeg's
    automatic choice). ``thread_type``: FFmpeg's decoder threading, ``"SLICE"``, ``"FRAME"``
    or ``"AUTO"`` (default: ``"SLICE"`` with one thread, ``"AUTO"`` otherwise); none of them
    lowers the CPU a frame costs (docs/perception.md, "Decoding"), they only spread it.
    ``size``: ``(width, height)`` to convert each kept frame to in the same swscale pass as
    the YUV→BGR conversion (``interpolation``: swscale's filter name, ``"BILINEAR"`` by
    default) instead of a full-size image; ``width``/``height`` are then that size and
    ``source_width``/``source_height`` the stream's. Frames a ``stride`` skips are decoded
    (H.264 needs them as references) but never converted.
    """

    def __init__(
        self,
        source: str | Path,
        *,
        stride: int = 1,
        queue_size: int = 8,
        live: bool | None = None,
        options: dict[str, str] | None = None,
        timeout_s: float | None = 10.0,
        errors: Literal["raise", "report"] = "raise",
        decode_threads: int = 1,
        strict_decoding: bool = True,
        thread_type: Literal["SLICE", "FRAME", "AUTO"] | None = None,
        size: tuple[int, int] | None = None,
        interpolation: str = "BILINEAR",
    ) -> None:
        if stride < 1:
            raise ValueError(f"stride must be >= 1, got {stride}")
        if queue_size < 1:
            raise ValueError(f"queue_size must be >= 1, got {queue_size}")
        if thread_type not in (None, "SLICE", "FRAME", "AUTO"):
            raise ValueError(f"thread_type must be SLICE, FRAME or AUTO, got {thread_type!r}")
        if size is not None and (len(size) != 2 or min(size) < 1):
            raise ValueError(f"size must be (width, height) >= 1, got {size!r}")
        if interpolation not in Interpolation.__members__:
            raise ValueError(
                f"interpolation must be one of {', '.join(Interpolation.__members__)}, "
                f"got {interpolation!r}"
            )
        self.source = str(source)
        is_url = self.source.startswith(LIVE_SCHEMES)
        if not is_url and not Path(self.source).exists():
            raise FileNotFoundError(f"{self.source}: video not found")
        self.live = is_url if live is None else live
        self.stride = stride
        self.errors = errors
        self.error: VideoDecodeError | None = None
        self.frames_read = 0
        """Frames yielded so far (after stride)."""
        self.frames_decoded = 0
        """Frames decoded so far (before stride)."""
        opts = dict(options or {})
        if self.source.startswith(("rtsp://", "rtsps://")):
            opts.setdefault("rtsp_transport", "tcp")
        try:
            self._container: Any = av.open(self.source, options=opts, timeout=timeout_s)
        except (av.error.FFmpegError, OSError) as err:
            raise VideoDecodeError(f"{self.source}: cannot open video: {err}") from None
        if not self._container.streams.video:
            self._container.close()
            raise VideoDecodeError(f"{self.source}: no video stream")
        stream = self._container.streams.video[0]
        stream.thread_type = thread_type or ("AUTO" if decode_threads != 1 else "SLICE")
        stream.thread_count = decode_threads
        self._decode_threads = decode_threads
        if strict_decoding:
            # Make the decoder report damaged data instead of silently concealing it.
            stream.codec_context.options = {"err_detect": "crccheck+bitstream+buffer+explode"}
        self._stream = stream
        rate = stream.average_rate or stream.guessed_rate or stream.base_rate
        self.fps = float(rate) if rate else 0.0
        self.source_width = int(stream.codec_context.width)
        self.source_height = int(stream.codec_context.height)
        self._size = (int(size[0]), int(size[1])) if size is not None else None
        self._interpolation = interpolation
        self.width, self.height = self._size or (self.source_width, self.source_height)
        """The size of the frames yielded (``size`` when given)."""
        self.declared_frames = int(stream.frames or 0)
        """Frame count the container declares (0 when unknown, e.g. raw streams, live)."""
        self._queue: queue.Queue[object] = queue.Queue(maxsize=queue_size)
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started = False

    # -- decoding thread ---------------------------------------------------------------
    def _put(self, item: object) -> bool:
        while not self._stop.is_set():
            try:
                self._queue.put(item, timeout=0.1)
                return True
            except queue.Full:
                if self.live and item is not _END and not isinstance(item, BaseException):
                    # drop the oldest frame, keep up with the camera
                    with contextlib.suppress(queue.Empty):
                        self._queue.get_nowait()
        return False

    def _decode(self) -> None:
        stream = self._stream
        tb: Fraction | None = stream.time_base
        t0: float | None = None
        index = 0
        # One reformatter for the whole stream, running in this thread:
        # ``VideoFrame.to_ndarray(format=...)`` makes a new swscale context for every frame,
        # and with ``threads=0`` (PyAV's default) each starts its own slice-thread pool —
        # threads created per frame that compete with inference for the cores. Same
        # conversion, same pixels (tests/perception: test_decode_matches_pyav_conversion).
        bgr = VideoReformatter()
        sws_threads = self._decode_threads
        out_w, out_h = self._size or (None, None)
        interp = self._interpolation if self._size is not None else None
        try:
            for packet in self._container.demux(stream):
                if self._stop.is_set():
                    break
                for vf in packet.decode():
                    if self._stop.is_set():
                        break
                    i = index
                    index += 1
                    self.frames_decoded = index
                    if i % self.stride:
                        continue
                    if vf.pts is not None and tb is not None:
                        t = float(vf.pts * tb)
                    else:
                        t = i / self.fps if self.fps else float(i)
                    if t0 is None:
                        t0 = t
                    img = bgr.reformat(
                        vf, width=out_w, height=out_h, format="bgr24",
                        interpolation=interp, threads=sws_threads,
                    ).to_ndarray()
                    if not self._put(Frame(index=i, t_s=t - t0, image=np.ascontiguousarray(img))):
                        return
            if (
                not self._stop.is_set()
                and not self.live
                and self.declared_frames
                and index < self.declared_frames
            ):
                raise VideoDecodeError(
                    f"{self.source}: truncated: decoded {index} of {self.declared_frames} frames "
                    "the container declares",
                    index,
                )
        except VideoDecodeError as err:
            self._put(err)
        except (av.error.FFmpegError, OSError, ValueError) as err:
            self._put(
                VideoDecodeError(
                    f"{self.source}: decoding failed after frame {index}: {err}", index
                )
            )
        finally:
            self._put(_END)

    # -- FrameSource ---------------------------------------------------------------------
    def start(self) -> None:
        """Start decoding now, ahead of iteration (up to ``queue_size`` frames wait in the
        queue), so the first frames are ready while the caller still prepares (a model
        session being built). Iterating starts it too; calling it twice does nothing."""
        if self._thread is None:
            self._thread = threading.Thread(target=self._decode, name="saferoad-decode", daemon=True)
            self._thread.start()

    def __iter__(self) -> Iterator[Frame]:
        if self._started:
            raise RuntimeError(f"{self.source}: a VideoFrameSource can be iterated once")
        self._started = True
        self.start()
        try:
            while True:
                item = self._queue.get()
                if item is _END:
                    break
                if isinstance(item, VideoDecodeError):
                    item.frames_read = self.frames_read
                    self.error = item
                    continue
                assert isinstance(item, Frame)
                self.frames_read += 1
                yield item
        finally:
            self.close()
        if self.error is not None:
            if self.errors == "raise":
                raise self.error
            log.warning(
                "video_decode_error", source=self.source, error=str(self.error),
                frames_read=self.frames_read,
            )

    def close(self) -> None:
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            while self._thread.is_alive():
                try:
                    self._queue.get_nowait()
                except queue.Empty:
                    self._thread.join(timeout=0.05)
        # closing a broken container must not mask the real error
        with contextlib.suppress(Exception):
            self._container.close()


class ImageSequenceSource:
    """Frames from still images (a folder, a list of files, or one file) in the given
    order; ``frame`` is the position in that order and ``t_s = index / fps``.

    An unreadable image raises :class:`VideoDecodeError` naming the file (or, with
    ``errors="report"``, is logged, recorded in ``errors_seen`` and skipped)."""

    def __init__(
        self,
        paths: Sequence[str | Path],
        *,
        fps: float = 10.0,
        stride: int = 1,
        errors: Literal["raise", "report"] = "raise",
    ) -> None:
        if not paths:
            raise ValueError("no images given")
        if fps <= 0:
            raise ValueError(f"fps must be > 0, got {fps}")
        if stride < 1:
            raise ValueError(f"stride must be >= 1, got {stride}")
        self.paths = [Path(p) for p in paths]
        for p in self.paths:
            if not p.is_file():
                raise FileNotFoundError(f"{p}: image not found")
        self.fps = fps
        self.stride = stride
        self.errors = errors
        self.errors_seen: list[VideoDecodeError] = []
        self.error: VideoDecodeError | None = None
        first = self._read(self.paths[0])
        self.height, self.width = int(first.shape[0]), int(first.shape[1])

    @staticmethod
    def _read(path: Path) -> np.ndarray[Any, np.dtype[np.uint8]]:
        data = np.fromfile(path, dtype=np.uint8)
        img = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
        if img is None:
            raise VideoDecodeError(f"{path}: not a readable image")
        return np.ascontiguousarray(img)

    def __iter__(self) -> Iterator[Frame]:
        for i, p in enumerate(self.paths):
            if i % self.stride:
                continue
            try:
                img = self._read(p)
            except VideoDecodeError as err:
                if self.errors == "raise":
                    raise
                log.warning("image_unreadable", path=str(p), error=str(err))
                self.errors_seen.append(err)
                self.error = err
                continue
            yield Frame(index=i, t_s=i / self.fps, image=img)

    def close(self) -> None:
        return None


def is_image(path: Path) -> bool:
    return path.suffix.lower() in IMAGE_SUFFIXES


def open_frames(
    sources: str | Path | Sequence[str | Path],
    *,
    stride: int = 1,
    image_fps: float = 10.0,
    errors: Literal["raise", "report"] = "raise",
    queue_size: int = 8,
) -> VideoFrameSource | ImageSequenceSource:
    """Open whatever the user pointed at: one video file or URL, one image, a folder of
    images (sorted by name), or several images (in the given order)."""
    items = [sources] if isinstance(sources, str | Path) else list(sources)
    if not items:
        raise ValueError("no source given")
    if len(items) == 1:
        s = str(items[0])
        if s.startswith(LIVE_SCHEMES):
            return VideoFrameSource(s, stride=stride, errors=errors, queue_size=queue_size)
        p = Path(s)
        if p.is_dir():
            imgs = sorted(q for q in p.iterdir() if q.is_file() and is_image(q))
            if not imgs:
                raise ValueError(f"{p}: folder holds no images ({', '.join(sorted(IMAGE_SUFFIXES))})")
            return ImageSequenceSource(imgs, fps=image_fps, stride=stride, errors=errors)
        if is_image(p):
            return ImageSequenceSource([p], fps=image_fps, stride=stride, errors=errors)
        return VideoFrameSource(p, stride=stride, errors=errors, queue_size=queue_size)
    paths = [Path(x) for x in items]
    not_images = [str(p) for p in paths if not is_image(p)]
    if not_images:
        raise ValueError(f"several sources must all be images; not images: {', '.join(not_images)}")
    return ImageSequenceSource(paths, fps=image_fps, stride=stride, errors=errors)

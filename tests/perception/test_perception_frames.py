"""Frame sources: real decoding with PyAV, stride, images, streams and broken input."""

from __future__ import annotations

import itertools
import shutil
import socket
import threading
from pathlib import Path

import cv2
import numpy as np
import pytest

from saferoad.adapters.video.frames import (
    ImageSequenceSource,
    VideoDecodeError,
    VideoFrameSource,
    open_frames,
)
from saferoad.ports.frames import FrameSource


def test_video_file_frames_and_timestamps(highway_clip: Path) -> None:
    src = open_frames(highway_clip)
    assert isinstance(src, FrameSource)
    assert (src.width, src.height, src.fps) == (1280, 720, 25.0)
    frames = list(src)
    assert len(frames) == 38 == src.declared_frames
    assert [f.index for f in frames] == list(range(38))
    t = np.array([f.t_s for f in frames])
    assert t[0] == 0.0
    assert np.allclose(np.diff(t), 0.04)
    assert frames[0].image.shape == (720, 1280, 3) and frames[0].image.dtype == np.uint8
    assert src.error is None


def test_stride_keeps_true_timestamps(highway_clip: Path) -> None:
    frames = list(open_frames(highway_clip, stride=3))
    assert [f.index for f in frames] == list(range(0, 38, 3))
    assert np.allclose([f.t_s for f in frames], [i * 0.04 for i in range(0, 38, 3)])


def test_bounded_queue_early_stop_releases_thread(highway_clip: Path) -> None:
    src = VideoFrameSource(highway_clip, queue_size=2)
    it = iter(src)
    first = next(it)
    assert first.index == 0
    it.close()  # consumer stops early: the decode thread must end, not block on the queue
    assert src._thread is not None
    src._thread.join(timeout=5)
    assert not src._thread.is_alive()


def test_gif_frames(shared_dir: Path) -> None:
    src = open_frames(shared_dir / "data" / "cabin" / "head-pose-face-detection-female.gif")
    frames = list(src)
    assert len(frames) == 23
    assert frames[0].image.shape[:2] == (270, 480)
    assert all(b.t_s > a.t_s for a, b in itertools.pairwise(frames))


def test_image_folder_single_image_and_list(shared_dir: Path) -> None:
    folder = shared_dir / "data" / "kitti-object" / "image_2"
    frames = list(open_frames(folder, image_fps=10.0))
    assert [f.index for f in frames] == [0, 1, 2]
    assert [f.t_s for f in frames] == [0.0, 0.1, 0.2]
    one = list(open_frames(folder / "000001.png"))
    assert len(one) == 1 and one[0].image.shape == (375, 1242, 3)
    order = [folder / "000002.png", folder / "000000.png"]
    listed = list(open_frames(order))
    assert np.array_equal(listed[0].image, frames[2].image)


def test_unreadable_image_is_a_clear_error(tmp_path: Path, shared_dir: Path) -> None:
    bad = tmp_path / "broken.png"
    bad.write_bytes(b"\x89PNG\r\n\x1a\n not really a png")
    with pytest.raises(VideoDecodeError, match=r"broken\.png: not a readable image"):
        ImageSequenceSource([bad])
    good = shared_dir / "data" / "kitti-object" / "image_2" / "000000.png"
    src = ImageSequenceSource([good, bad], errors="report")
    frames = list(src)
    assert len(frames) == 1 and src.error is not None and "broken.png" in str(src.error)
    with pytest.raises(VideoDecodeError, match=r"broken.png"):
        list(ImageSequenceSource([good, bad]))


def test_missing_and_non_video_files(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError, match=r"nope.mp4"):
        open_frames(tmp_path / "nope.mp4")
    junk = tmp_path / "junk.mp4"
    junk.write_bytes(b"this is not a video" * 100)
    with pytest.raises(VideoDecodeError, match=r"junk.mp4: cannot open video"):
        open_frames(junk)


def test_truncated_video_keeps_frames_and_reports(tmp_path: Path, highway_clip: Path) -> None:
    data = highway_clip.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) * 6 // 10])
    src = open_frames(cut)
    got = []
    with pytest.raises(VideoDecodeError, match=r"cut.mp4") as info:
        for f in src:
            got.append(f)
    assert 5 < len(got) < 38
    assert info.value.frames_read == len(got)
    # with errors="report" the frames are yielded and the error is kept
    src2 = open_frames(cut, errors="report")
    assert len(list(src2)) == len(got)
    assert src2.error is not None


def test_corrupt_middle_keeps_earlier_frames(tmp_path: Path, highway_clip: Path) -> None:
    data = bytearray(highway_clip.read_bytes())
    mid = len(data) // 2
    rng = np.random.default_rng(7)
    data[mid : mid + 20000] = rng.integers(0, 256, 20000, dtype=np.uint8).tobytes()
    bad = tmp_path / "corrupt.mp4"
    bad.write_bytes(bytes(data))
    src = open_frames(bad, errors="report")
    frames = list(src)
    assert src.error is not None and "corrupt.mp4" in str(src.error)
    assert 3 < len(frames) < 38
    clean = list(open_frames(highway_clip))
    # frames before the damage decode exactly as from the clean file
    assert np.array_equal(frames[0].image, clean[0].image)


def _serve_once(data: bytes) -> tuple[str, threading.Thread]:
    srv = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    srv.bind(("127.0.0.1", 0))
    srv.listen(1)
    port = srv.getsockname()[1]

    def run() -> None:
        conn, _ = srv.accept()
        try:
            conn.sendall(data)
        except OSError:
            pass
        finally:
            conn.close()
            srv.close()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return f"tcp://127.0.0.1:{port}", t


def _remux(src: Path, dst: Path, fmt: str) -> Path:
    """The video stream of ``src`` copied, packets unchanged, into container ``fmt``."""
    import av

    with av.open(str(src)) as inp, av.open(str(dst), "w", format=fmt) as out:
        s_in = inp.streams.video[0]
        s_out = out.add_stream_from_template(s_in)
        for pkt in inp.demux(s_in):
            if pkt.dts is None:
                continue
            pkt.stream = s_out
            out.mux(pkt)
    return dst


def test_live_stream_over_loopback(tmp_path: Path, highway_clip: Path) -> None:
    """A camera-like stream: an MPEG-TS remux of the clip served on 127.0.0.1 over TCP,
    read through the same port as files (live mode: frames may be dropped, never blocked)."""
    ts = _remux(highway_clip, tmp_path / "clip.ts", "mpegts")
    url, thread = _serve_once(ts.read_bytes())
    src = open_frames(url)
    assert isinstance(src, VideoFrameSource) and src.live
    frames = list(src)
    thread.join(timeout=5)
    assert 30 <= len(frames) <= 38  # the stream may lose its first frames before a keyframe
    t = [f.t_s for f in frames]
    assert t[0] == 0.0 and all(b > a for a, b in itertools.pairwise(t))
    assert frames[0].image.shape == (720, 1280, 3)


def test_raw_h264_elementary_stream(tmp_path: Path, highway_clip: Path) -> None:
    raw = _remux(highway_clip, tmp_path / "clip.h264", "h264")
    frames = list(open_frames(raw))
    assert len(frames) == 38
    assert frames[1].t_s > 0


def test_png_copy_reads_like_original(tmp_path: Path, shared_dir: Path) -> None:
    src = shared_dir / "data" / "frames" / "lisa-stop-signs" / "stop_1323804419.avi_image31.png"
    dst = tmp_path / "copy.png"
    shutil.copy(src, dst)
    (f,) = list(open_frames(dst))
    assert np.array_equal(f.image, cv2.imread(str(src)))


def test_decode_matches_pyav_conversion(highway_clip: Path) -> None:
    """The source's reused, single-threaded swscale context gives the very pixels of
    PyAV's own per-frame ``to_ndarray(format="bgr24")``."""
    import av

    with av.open(str(highway_clip)) as c:
        ref = [f.to_ndarray(format="bgr24") for f in itertools.islice(c.decode(video=0), 12)]
    got = [f.image for f in itertools.islice(iter(VideoFrameSource(highway_clip)), 12)]
    assert len(got) == len(ref) == 12
    for a, b in zip(got, ref, strict=True):
        assert a.flags.c_contiguous and a.shape == (720, 1280, 3)
        assert np.array_equal(a, b)


def test_size_converts_in_swscale_with_same_indices_and_times(highway_clip: Path) -> None:
    """``size`` converts each kept frame straight to that size: PyAV's own reformat to the
    same size and filter gives the very pixels; indices and timestamps are the full-size
    source's; skipped frames are never converted."""
    import av

    with av.open(str(highway_clip)) as c:
        ref = [
            f.reformat(width=416, height=234, format="bgr24", interpolation="BILINEAR").to_ndarray()
            for f in itertools.islice(c.decode(video=0), 0, 12, 3)
        ]
    full = list(VideoFrameSource(highway_clip, stride=3))
    src = VideoFrameSource(highway_clip, stride=3, size=(416, 234))
    assert (src.width, src.height, src.source_width, src.source_height) == (416, 234, 1280, 720)
    small = list(src)
    assert [f.index for f in small] == [f.index for f in full]
    assert [f.t_s for f in small] == [f.t_s for f in full]
    assert src.frames_decoded == 38 and src.frames_read == len(full)
    for a, b in zip([f.image for f in small[:4]], ref, strict=True):
        assert a.shape == (234, 416, 3) and a.flags.c_contiguous
        assert np.array_equal(a, b)
    # the same picture as the full-size frame shrunk by OpenCV, to within filter differences
    shrunk = cv2.resize(full[0].image, (416, 234), interpolation=cv2.INTER_AREA)
    assert np.abs(small[0].image.astype(int) - shrunk.astype(int)).mean() < 4.0


@pytest.mark.parametrize("thread_type", ["SLICE", "FRAME", "AUTO"])
def test_thread_types_give_the_same_frames(highway_clip: Path, thread_type: str) -> None:
    ref = list(VideoFrameSource(highway_clip))
    got = list(VideoFrameSource(highway_clip, thread_type=thread_type, decode_threads=2))  # type: ignore[arg-type]
    assert [(f.index, f.t_s) for f in got] == [(f.index, f.t_s) for f in ref]
    assert all(np.array_equal(a.image, b.image) for a, b in zip(got, ref, strict=True))


@pytest.mark.parametrize("thread_type", ["SLICE", "FRAME"])
def test_truncated_video_reports_alike_with_any_threading(
    tmp_path: Path, highway_clip: Path, thread_type: str
) -> None:
    data = highway_clip.read_bytes()
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(data[: len(data) * 6 // 10])
    src = VideoFrameSource(cut, thread_type=thread_type, decode_threads=2, size=(416, 234))  # type: ignore[arg-type]
    got = []
    with pytest.raises(VideoDecodeError, match=r"cut.mp4") as info:
        for f in src:
            got.append(f)
    assert 5 < len(got) < 38
    assert info.value.frames_read == len(got)


def test_bad_decode_options_are_named(highway_clip: Path) -> None:
    with pytest.raises(ValueError, match="thread_type"):
        VideoFrameSource(highway_clip, thread_type="BOTH")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="size"):
        VideoFrameSource(highway_clip, size=(0, 234))
    with pytest.raises(ValueError, match="interpolation"):
        VideoFrameSource(highway_clip, size=(416, 234), interpolation="SMOOTH")

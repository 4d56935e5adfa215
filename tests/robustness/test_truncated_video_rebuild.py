"""An MP4 cut before its index, byte by byte (issue #14, defect 2; the CLI runs are in
test_truncated_video.py).

Real H.264 from x264 (the simulator's encoder): cut at many points, with nothing, zeros (a
file system's preallocated blocks) or random bytes after the cut. Every rebuilt frame must be
the very picture the intact file shows at the same time, the count must be the frames whose
bytes lie wholly before the cut (one fewer where the last may lack slices), and what follows the
cut must be rejected at its first NAL unit, never decoded.
"""

from __future__ import annotations

import struct
import tempfile
from pathlib import Path

import av
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from saferoad.adapters.recording.saferoad_format import read_meta
from saferoad.adapters.simulation.render import encode_video
from saferoad.adapters.video.avc import Nal, access_units, find_mdat, opens_next_frame, walk_nals
from saferoad.adapters.video.repair import recover_video

W, H, FPS, N = 320, 192, 10, 60


def _frames() -> list[np.ndarray]:
    """A moving scene (bars, a ball, noise texture): real motion for P and B frames."""
    rng = np.random.default_rng(7)
    texture = rng.integers(0, 60, (H, W + 200, 3), dtype=np.uint8)
    out = []
    for i in range(N):
        img = texture[:, 3 * i : 3 * i + W].copy()
        img[:, (7 * i) % W : (7 * i) % W + 24] = (40, 200, 230)
        y, x = 40 + (i * 5) % 100, 30 + (i * 11) % 250
        img[y : y + 30, x : x + 30] = (250, 250, 250)
        out.append(img)
    return out


@pytest.fixture(scope="module", params=["ultrafast", "medium"])
def video(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """``ultrafast``: no B-frames (the simulator's setting); ``medium``: B-frames, so frames
    are stored out of display order."""
    path = tmp_path_factory.mktemp("enc") / f"{request.param}.mp4"
    assert encode_video(path, iter(_frames()), FPS, W, H, preset=request.param) == N
    return path


def _decoded(path: Path) -> list[tuple[float, np.ndarray]]:
    with av.open(str(path)) as c:
        return [(float(f.time), f.to_ndarray(format="bgr24")) for f in c.decode(video=0)]


def _packets(path: Path) -> list[tuple[int, int]]:
    with av.open(str(path)) as c:
        return [(int(p.pos), int(p.size)) for p in c.demux(video=0) if p.size]


def _same_pictures(rebuilt: Path, original: Path) -> int:
    """Every rebuilt frame equals the original's frame at the same time; returns the count."""
    by_time = {round(t, 3): img for t, img in _decoded(original)}
    got = _decoded(rebuilt)
    for t, img in got:
        assert round(t, 3) in by_time, f"a frame at {t} s the original does not have"
        assert np.array_equal(by_time[round(t, 3)], img), f"the frame at {t} s differs"
    return len(got)


def test_the_walk_finds_every_frame_of_an_intact_media_data(video: Path) -> None:
    data = video.read_bytes()
    mdat = find_mdat(data)
    assert mdat is not None and mdat.has_moov and not mdat.cut
    walk = walk_nals(data, mdat.start, mdat.end)
    assert walk.stop_reason is None and walk.stop_offset == mdat.end
    units = access_units(data, walk.nals)
    # each access unit is exactly one sample of the index
    spans = [(walk.nals[a].offset - 4, walk.nals[b - 1].offset + walk.nals[b - 1].size) for a, b in units]
    assert spans == [(pos, pos + size) for pos, size in sorted(_packets(video))]


@pytest.mark.parametrize("tail", ["none", "zeros", "garbage"])
@pytest.mark.parametrize("keep", [0.12, 0.37, 0.5, 0.71, 0.93])
def test_a_cut_anywhere_keeps_the_frames_before_it(video: Path, tmp_path: Path, keep: float, tail: str) -> None:
    data = video.read_bytes()
    cut = int(len(data) * keep)
    extra = {"none": b"", "zeros": bytes(65536), "garbage": np.random.default_rng(cut).bytes(65536)}[tail]
    damaged = tmp_path / "video.mp4"
    damaged.write_bytes(data[:cut] + extra)
    check = recover_video(damaged, tmp_path)
    assert check.path is not None and check.method == "nal_scan" and check.parameter_sets == "in-band"
    expected = sum(1 for pos, size in _packets(video) if pos + size <= cut)
    assert expected - 1 <= check.packets_kept <= expected
    assert _same_pictures(check.path, video) == check.packets_kept
    assert check.damage is not None and str(damaged) in check.damage and "index lost" in check.damage
    assert "stopped at byte " in check.damage
    if tail == "zeros":  # what follows the last whole unit is a zero length and type
        assert "nal_unit_type 0 is not H.264" in check.damage


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(keep=st.floats(0.02, 0.99), tail=st.binary(max_size=3000))
def test_any_cut_with_any_bytes_after_it_rebuilds_only_true_frames(video: Path, keep: float, tail: bytes) -> None:
    """Hypothesis: wherever the cut falls and whatever follows it, every rebuilt frame is one
    the intact file shows at that time, and at most one whole frame before the cut is lost."""
    data = video.read_bytes()
    cut = int(len(data) * keep)
    with tempfile.TemporaryDirectory() as tmp:
        damaged = Path(tmp) / "video.mp4"
        damaged.write_bytes(data[:cut] + tail)
        check = recover_video(damaged, Path(tmp))
        expected = sum(1 for pos, size in _packets(video) if pos + size <= cut)
        if check.path is None:  # only when no whole key frame precedes the cut
            assert expected <= 1 and check.damage is not None and "no complete key frame" in check.damage
            return
        assert expected - 1 <= check.packets_kept <= expected
        assert _same_pictures(check.path, video) == check.packets_kept


def test_a_cut_inside_the_index_keeps_every_frame(video: Path, tmp_path: Path) -> None:
    """The media data is whole when only the index at the end was cut: no frame is dropped."""
    data = video.read_bytes()
    mdat = find_mdat(data)
    assert mdat is not None
    damaged = tmp_path / "video.mp4"
    damaged.write_bytes(data[: mdat.end + 40])  # the moov box's header and a few bytes of it
    check = recover_video(damaged, tmp_path)
    assert check.path is not None and check.method == "nal_scan" and check.damage is not None
    assert "the media data ends" in check.damage
    assert check.packets_kept == N and _same_pictures(check.path, video) == N


def test_an_open_ended_media_data_cut_between_two_slices_of_a_frame_drops_that_frame(tmp_path: Path) -> None:
    """A muxer writes the mdat's size as 0 ("to the end") until it writes the index, so a power
    cut leaves an mdat that ends with the file; a cut there between two slices of a frame
    (x264 slices=4) leaves a half frame that must not be shown. Found in review: it was kept."""
    src = tmp_path / "sliced.mp4"
    with av.open(str(src), "w") as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = W, H, "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "23", "x264-params": "repeat-headers=1:slices=4"}
        for i, img in enumerate(_frames()):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(img), format="bgr24")
            frame.pts = i
            for p in stream.encode(frame):
                out.mux(p)
        for p in stream.encode():
            out.mux(p)
    data = bytearray(src.read_bytes())
    mdat = find_mdat(data)
    assert mdat is not None and not mdat.cut
    data[mdat.start - 8 : mdat.start - 4] = bytes(4)  # size 0: to the end of the file
    walk = walk_nals(data, mdat.start, mdat.end)
    a, b = access_units(data, walk.nals)[20]
    assert b - a >= 2, "the frame has more than one slice"
    cut = walk.nals[b - 1].offset - 4  # just before the frame's last slice
    damaged = tmp_path / "video.mp4"
    damaged.write_bytes(bytes(data[:cut]))
    found = find_mdat(damaged.read_bytes())
    assert found is not None and found.cut and found.end == cut
    check = recover_video(damaged, tmp_path)
    assert check.path is not None and check.damage is not None
    expected = sum(1 for pos, size in _packets(src) if pos + size <= cut)
    assert expected == 20 and check.packets_kept == expected
    assert _same_pictures(check.path, src) == expected
    assert f"the file ends at byte {cut}, inside its media data" in check.damage


@pytest.mark.parametrize("frame", [5, 17, 40])
def test_garbage_right_after_a_whole_frame_is_rejected_at_its_first_byte(video: Path, tmp_path: Path, frame: int) -> None:
    """A cut exactly at a frame's end, then random bytes: the walk stops at the first of them."""
    data = video.read_bytes()
    pos, size = sorted(_packets(video))[frame]
    cut = pos + size
    damaged = tmp_path / "video.mp4"
    damaged.write_bytes(data[:cut] + np.random.default_rng(frame).bytes(4096))
    check = recover_video(damaged, tmp_path)
    assert check.path is not None and check.damage is not None
    assert f"stopped at byte {cut}:" in check.damage
    assert frame <= check.packets_kept <= frame + 1  # frame + 1 whole frames lie before the cut
    assert _same_pictures(check.path, video) == check.packets_kept


def test_the_walk_names_why_it_stopped() -> None:
    def nal(head: int, body: bytes = b"\x88\x84") -> bytes:
        return struct.pack(">I", 1 + len(body)) + bytes([head]) + body

    good = nal(0x65) + nal(0x41)  # IDR (ref 3), P slice (ref 2)
    cases = {
        nal(0xE5): "forbidden_zero_bit is set",
        nal(0x78): "nal_unit_type 24 is not H.264",
        nal(0x05): "nal_ref_idc 0 is not allowed for nal_unit_type 5",
        nal(0x26): "nal_ref_idc 1 is not allowed for nal_unit_type 6",
        struct.pack(">I", 99) + b"\x41\x88": "length 99 runs past the 2 byte(s) left",
        struct.pack(">I", 0) + b"\x41\x88": "length 0: an empty NAL unit",
        b"\x00\x00\x00": "3 byte(s) left, too few for a NAL unit",
    }
    for bad, why in cases.items():
        walk = walk_nals(good + bad, 0, len(good + bad))
        assert [n.type for n in walk.nals] == [5, 1] and walk.stop_offset == len(good)
        assert walk.stop_reason == why


def test_a_frame_before_the_cut_is_whole_only_when_the_cut_unit_opens_the_next() -> None:
    """The unit a cut fell inside says the frame before it ended only when it is a slice with
    first_mb_in_slice 0, a valid slice_type and a known PPS id (else that frame is dropped)."""

    def head(nal: bytes) -> Nal:
        return Nal(0, len(nal), nal[0] & 0x1F, nal[0] >> 5 & 3)

    idr = b"\x65\x88\x80"  # first_mb 0, slice_type 7 (I), pps_id 0
    assert opens_next_frame(idr, head(idr), {0})
    assert not opens_next_frame(idr, head(idr), {1})  # names no PPS the stream has
    assert not opens_next_frame(b"\x65\x8b\x80", head(b"\x65\x8b\x80"), {0})  # slice_type 10
    assert not opens_next_frame(b"\x41\x48\x80", head(b"\x41\x48\x80"), {0})  # first_mb 1: a later slice
    assert not opens_next_frame(b"\x06\x05\x80", head(b"\x06\x05\x80"), {0})  # an SEI


def _plain(src: Path, dst: Path, frames: slice = slice(None), size: tuple[int, int] = (W, H)) -> None:
    """Encode like a recorder that keeps SPS/PPS only in the MP4 index (x264 in an MP4 by default)."""
    with av.open(str(dst), "w") as out:
        stream = out.add_stream("libx264", rate=FPS)
        stream.width, stream.height, stream.pix_fmt = size[0], size[1], "yuv420p"
        stream.options = {"preset": "ultrafast", "crf": "23"}
        for i, img in enumerate(_frames()[frames]):
            frame = av.VideoFrame.from_ndarray(np.ascontiguousarray(img[: size[1], : size[0]]), format="bgr24")
            frame.pts = i
            for p in stream.encode(frame):
                out.mux(p)
        for p in stream.encode():
            out.mux(p)


def test_without_inband_parameter_sets_a_reference_from_the_same_camera_rebuilds_it(tmp_path: Path) -> None:
    whole = tmp_path / "whole.mp4"
    _plain(tmp_path, whole)
    data = whole.read_bytes()
    damaged = tmp_path / "video.mp4"
    damaged.write_bytes(data[: len(data) // 2])
    alone = recover_video(damaged, tmp_path)
    assert alone.path is None and alone.method == "none" and alone.damage is not None
    assert str(damaged) in alone.damage and "set input.video_reference" in alone.damage
    earlier = tmp_path / "earlier.mp4"  # other frames, same camera and encoder settings
    _plain(tmp_path, earlier, slice(30, None))
    check = recover_video(damaged, tmp_path, fps=FPS, reference=earlier)
    assert check.path is not None and check.parameter_sets == f"reference {earlier}"
    expected = sum(1 for pos, size in _packets(whole) if pos + size <= len(data) // 2)
    assert expected - 1 <= check.packets_kept <= expected
    assert _same_pictures(check.path, whole) == check.packets_kept
    assert check.notes == ("frame times rebuilt at a constant 10 fps (meta.toml [camera] fps); the lost index held the real ones",)
    # relative: opened in reference_dir (the recording's folder), named as written
    (tmp_path / "rec").mkdir()
    check = recover_video(damaged, tmp_path, fps=FPS, reference=Path("../earlier.mp4"), reference_dir=tmp_path / "rec")
    assert check.path is not None and check.parameter_sets == "reference ../earlier.mp4"
    check = recover_video(damaged, tmp_path, fps=FPS, reference=Path("earlier.mp4"), reference_dir=tmp_path / "rec")
    assert check.path is None and check.damage is not None
    assert "reference video earlier.mp4: cannot open it" in check.damage and str(tmp_path / "rec" / "earlier.mp4") in check.damage


def test_a_reference_from_another_camera_is_refused_not_decoded_to_garbage(tmp_path: Path) -> None:
    whole = tmp_path / "whole.mp4"
    _plain(tmp_path, whole)
    damaged = tmp_path / "video.mp4"
    damaged.write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    other = tmp_path / "other.mp4"
    _plain(tmp_path, other, size=(160, 96))
    check = recover_video(damaged, tmp_path, reference=other)
    assert check.path is None and check.damage is not None
    assert f"do not decode with the parameter sets of reference {other}" in check.damage
    assert not (tmp_path / "video.h264").exists() and not (tmp_path / "video.rebuilt.mp4").exists()  # nothing left behind
    notvideo = tmp_path / "notes.txt"
    notvideo.write_text("not a video\n")
    check = recover_video(damaged, tmp_path, reference=notvideo)
    assert check.path is None and check.damage is not None and f"reference video {notvideo}: cannot open it" in check.damage


def test_a_bad_reference_does_not_stop_a_rebuild_from_inband_parameter_sets(video: Path, tmp_path: Path) -> None:
    """input.video_reference is needed only when the stream lacks its SPS/PPS: one that cannot
    be read is warned about, not a reason to leave out a video the stream alone rebuilds.
    Found in review: the video was left out."""
    data = video.read_bytes()
    damaged = tmp_path / "video.mp4"
    damaged.write_bytes(data[: len(data) // 2])
    missing = tmp_path / "gone.mp4"
    check = recover_video(damaged, tmp_path, reference=missing)
    assert check.path is not None and check.parameter_sets == "in-band"
    expected = sum(1 for pos, size in _packets(video) if pos + size <= len(data) // 2)
    assert expected - 1 <= check.packets_kept <= expected
    assert any(f"reference video {missing}: cannot open it" in note and "not used" in note for note in check.notes)


@pytest.mark.parametrize(
    ("content", "why"),
    [(b"", "the file is empty"), (np.random.default_rng(1).bytes(5000), "no media data (mdat box) found")],
)
def test_a_file_with_no_media_data_says_so(tmp_path: Path, content: bytes, why: str) -> None:
    damaged = tmp_path / "video.mp4"
    damaged.write_bytes(content)
    check = recover_video(damaged, tmp_path)
    assert check.path is None and check.method == "none" and check.damage is not None
    assert str(damaged) in check.damage and why in check.damage


@pytest.mark.parametrize(("value", "read"), [("25", 25.0), ("29.97", 29.97), ("0", None), ("-10", None), ('"fast"', None)])
def test_meta_declares_the_camera_frame_rate(tmp_path: Path, value: str, read: float | None) -> None:
    meta = tmp_path / "meta.toml"
    meta.write_text(f"[recording]\nstart_utc = 2026-11-20T08:15:00Z\n[camera]\nwidth = 640\nheight = 360\nfps = {value}\n")
    if read is None:
        with pytest.raises(ValueError, match=r"meta\.toml: \[camera\] fps: "):
            read_meta(meta)
    else:
        assert read_meta(meta)[0].camera_fps == pytest.approx(read)

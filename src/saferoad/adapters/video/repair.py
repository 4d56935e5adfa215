"""What a cut video still holds: check a recording's video before analysis, recover the rest.

A power cut leaves an MP4 whose end is missing. When its index (``moov``) was written first
(faststart) or per fragment, the packets before the cut are intact: :func:`recover_video`
copies every packet that lies wholly inside the file into a new MP4 (a remux: no decoding, no
quality loss), so frames, tracking and clips work on what exists.

When the index was to be written at the end (what a recorder writes while it records), the
cut removed it together with the codec parameters. The frames are still in the ``mdat`` box,
and are read back as untrunc does (:mod:`saferoad.adapters.video.avc`): the payload is walked
as length-prefixed H.264 NAL units up to the first invalid one (the cut), grouped into access
units, the last one dropped unless the data ended cleanly (a frame's later slices may be the
part that is missing), and muxed into a new MP4 at a constant frame rate (``[camera] fps`` in
``meta.toml``, else the rate the stream's SPS declares, else the reference's). The
parameter sets (SPS/PPS) come from the stream itself where the recorder repeats them in-band
(saferoad's simulator does, x264 ``repeat-headers``), else from ``reference``: an intact MP4
from the same camera and encoder settings (``input.video_reference``). With neither, no frame
can be decoded: the video is reported unusable and analysis goes on with the sensors.
"""

from __future__ import annotations

import contextlib
import mmap
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from struct import error as struct_error
from typing import Any

import av

from saferoad.adapters.video.avc import (
    IDR,
    PPS,
    SPS,
    START_CODE,
    AvcConfig,
    Buffer,
    Nal,
    access_units,
    find_mdat,
    opens_next_frame,
    parse_avcc,
    parse_sps,
    pps_sps_id,
    presentation_order,
    walk_nals,
    write_annexb,
)


@dataclass(frozen=True, slots=True)
class VideoCheck:
    """``path``: the video to analyse (the original, a recovered copy, or None when nothing
    is readable); ``damage``: what was wrong, in words (None when the file is whole)."""

    path: Path | None
    damage: str | None = None
    packets_kept: int = 0
    packets_declared: int | None = 0
    """The frames the index lists (None when the index is lost)."""
    method: str = "none"
    """How the frames were recovered: ``whole`` (nothing to recover: the file is used as it
    is, no damage), ``remux`` (the index survived: intact packets copied), ``nal_scan`` (the
    index is lost: the media data read as H.264 NAL units) or ``none`` (nothing recovered)."""
    parameter_sets: str | None = None
    """For ``nal_scan``: where the SPS/PPS came from (``in-band`` or ``reference FILE``)."""
    notes: tuple[str, ...] = ()
    """Assumptions to warn about (the frame rate of a rebuilt stream)."""

    def summary(self, name: str) -> dict[str, object]:
        return {
            "file": name,
            "problem": self.damage,
            "recovered": self.path is not None,
            "recovery": self.method,
            "parameter_sets": self.parameter_sets,
            "frames_kept": self.packets_kept,
            "frames_declared": self.packets_declared,
        }


def recover_video(src: Path, work_dir: Path, *, fps: float | None = None, reference: Path | None = None,
                  reference_dir: Path | None = None) -> VideoCheck:
    """Check ``src``; when it is cut short, remux its intact packets to ``work_dir``, or, when
    its index is lost, rebuild the frames from its media data (module docstring). ``fps``:
    the camera's declared frame rate; ``reference``: an intact MP4 from the same camera, as the
    user wrote it (what the summary names); a relative one is opened in ``reference_dir`` (the
    recording's folder; unset: the working directory)."""
    size = src.stat().st_size
    try:
        container = av.open(str(src))
    except (av.error.FFmpegError, OSError) as err:
        return rebuild_from_mdat(src, work_dir, f"cannot open video ({err})", fps=fps, reference=reference,
                                 reference_dir=reference_dir)
    try:
        if not container.streams.video:  # e.g. an index cut inside its track
            return rebuild_from_mdat(src, work_dir, "no video stream in its index", fps=fps, reference=reference,
                                     reference_dir=reference_dir)
        stream = container.streams.video[0]
        declared = int(stream.frames or 0)
        whole, cut, error = 0, 0, None
        try:
            for p in container.demux(stream):
                if p.dts is None:
                    continue
                if _reaches_end(p, size):
                    cut += 1
                else:
                    whole += 1
        except (av.error.FFmpegError, OSError) as err:
            error = err
    finally:
        container.close()
    if error is None and (not declared or whole + cut >= declared):  # all there
        return VideoCheck(src, None, whole + cut, declared, method="whole")
    out = work_dir / f"{src.stem}.recovered.mp4"
    kept = _remux_whole_packets(src, out, size)
    why = f"demuxing stopped: {error}" if error is not None else "cut short"
    if kept == 0:
        return VideoCheck(None, f"{src}: {why}; no whole frame left", 0, declared)
    return VideoCheck(
        out,
        f"{src}: {why}: {kept} of {declared or '?'} frames intact, analysed from a remuxed copy",
        kept,
        declared,
        method="remux",
    )


def _reaches_end(p: Any, size: int) -> bool:
    """A packet that ends at (or past) the end of a file whose index lists more packets than
    it holds: the demuxer returns what is there of the last one, so it is cut."""
    return p.pos is not None and p.pos >= 0 and p.pos + p.size >= size


def _remux_whole_packets(src: Path, dst: Path, size: int) -> int:
    kept = 0
    with av.open(str(src)) as inp:
        stream = inp.streams.video[0]
        with av.open(str(dst), mode="w") as out:
            ostream = out.add_stream_from_template(stream)
            try:
                for p in inp.demux(stream):
                    if p.dts is None or _reaches_end(p, size):
                        continue
                    p.stream = ostream
                    out.mux(p)
                    kept += 1
            except (av.error.FFmpegError, OSError):
                pass  # the rest of the file is unreadable: keep what was copied
    return kept


def rebuild_from_mdat(src: Path, work_dir: Path, problem: str, *, fps: float | None = None,
                      reference: Path | None = None, reference_dir: Path | None = None) -> VideoCheck:
    """The frames of an MP4 whose index is lost, read from its ``mdat`` (module docstring)."""

    def unusable(why: str) -> VideoCheck:
        return VideoCheck(None, f"{src}: {problem}; {why}: no frame is recoverable", 0, None)

    if src.stat().st_size == 0:
        return unusable("the file is empty")
    config: AvcConfig | None = None
    ref_rate: Fraction | None = None
    ref_error: str | None = None  # a bad reference matters only when the stream lacks SPS/PPS
    if reference is not None:
        try:
            config, ref_rate = read_reference(reference if reference_dir is None else reference_dir / reference,
                                              name=reference)
        except ValueError as err:
            ref_error = str(err)
    with src.open("rb") as fh, mmap.mmap(fh.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        mdat = find_mdat(buf)
        if mdat is None:
            return unusable("no media data (mdat box) found")
        walk = walk_nals(buf, mdat.start, mdat.end, config.length_size if config is not None else 4)
        units = access_units(buf, walk.nals)
        whole = walk.stop_reason is None and not mdat.cut
        if not whole and not (walk.cut_nal is not None and opens_next_frame(buf, walk.cut_nal, _pps_ids(buf, walk.nals, config))):
            units = units[:-1]  # the last frame may have lost its later slices
        first_key = next(
            (i for i, (a, b) in enumerate(units) if any(n.type == IDR for n in walk.nals[a:b])), None
        )
        if first_key is None:
            return unusable(f"no complete key frame (IDR) in {len(walk.nals)} NAL unit(s) before the cut")
        units = units[first_key:]
        inband = _parameter_sets(buf, walk.nals)
        if inband[0] and inband[1]:
            a, b = units[0]
            lead = {n.type for n in walk.nals[a:b]}
            params: tuple[bytes, ...] = () if {SPS, PPS} <= lead else (inband[0][0], inband[1][0])
            source = "in-band"
        elif config is not None and config.sps and config.pps:
            params = config.sps + config.pps
            source = f"reference {reference}"
        else:
            return unusable(
                ref_error
                or "its H.264 parameter sets (SPS/PPS) were in the lost index and the stream does not "
                "repeat them; set input.video_reference to an intact MP4 from the same camera"
            )
        order = presentation_order(buf, walk.nals, units, params)
        if order is None:
            return unusable(
                "its B-frames' display order cannot be worked out (picture order count type 1, or a "
                "slice naming a parameter set the stream does not hold)"
            )
        rate, rate_note = _frame_rate(fps, params or inband[0], ref_rate, reference)
        if rate is None:
            return unusable(rate_note)
        if whole:
            stop = "the media data ends"
        elif walk.stop_reason is None:  # a whole NAL unit ends at the end of the file
            stop = f"the file ends at byte {walk.stop_offset}, inside its media data"
        else:
            stop = f"stopped at byte {walk.stop_offset}: {walk.stop_reason}"
        out = work_dir / f"{src.stem}.rebuilt.mp4"
        try:
            kept = _mux_units(buf, walk.nals, units, params, order, rate, work_dir / f"{src.stem}.h264", out)
            _check_decodes(out, CHECK_FRAMES)
        except (av.error.FFmpegError, OSError, ValueError) as err:
            out.unlink(missing_ok=True)
            sets = "its in-band parameter sets" if source == "in-band" else f"the parameter sets of {source}"
            return unusable(f"its frames do not decode with {sets} ({err})")
    return VideoCheck(
        out,
        f"{src}: {problem}; index lost: {kept} frames rebuilt from the media data "
        f"({len(walk.nals)} NAL units, {stop}; parameter sets {source})",
        kept,
        None,
        method="nal_scan",
        parameter_sets=source,
        notes=(rate_note,) + ((f"{ref_error}: not used, the stream repeats its parameter sets",) if ref_error else ()),
    )


CHECK_FRAMES = 30
"""Rebuilt frames decoded with FFmpeg's strictest error detection before the video is used:
parameter sets from another camera or encoder setting fail at the first slice (a stream whose
picture size differs decodes to garbage without it)."""


def _check_decodes(path: Path, frames: int) -> None:
    """Decode the first ``frames`` frames of ``path``, any bitstream error raising."""
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.codec_context.options = {"err_detect": "explode"}
        n = 0
        for packet in container.demux(stream):
            n += len(stream.codec_context.decode(packet))
            if n >= frames:
                return  # (the demuxer's last, empty packet flushes the decoder)


def read_reference(path: Path, *, name: Path | None = None) -> tuple[AvcConfig, Fraction | None]:
    """The ``avcC`` (NAL length size, SPS, PPS) and frame rate of an intact H.264 MP4; its
    errors call it ``name`` (as the user wrote it; default ``path``)."""
    shown = path if name is None else name
    try:
        with av.open(str(path)) as ref:
            if not ref.streams.video:
                raise ValueError(f"reference video {shown}: no video stream")
            stream = ref.streams.video[0]
            if stream.codec_context.name != "h264":
                raise ValueError(f"reference video {shown}: codec {stream.codec_context.name}, not H.264")
            extradata = stream.codec_context.extradata
            rate = stream.average_rate
    except (av.error.FFmpegError, OSError) as err:
        raise ValueError(f"reference video {shown}: cannot open it ({err})") from None
    if not extradata:
        raise ValueError(f"reference video {shown}: no avcC parameter sets")
    try:
        return parse_avcc(bytes(extradata)), Fraction(rate) if rate else None
    except (ValueError, IndexError, struct_error) as err:
        raise ValueError(f"reference video {shown}: avcC: {err}") from None


def _pps_ids(buf: Buffer, nals: list[Nal], config: AvcConfig | None) -> set[int]:
    raws = [bytes(buf[n.offset : n.offset + n.size]) for n in nals if n.type == PPS]
    ids = set()
    for raw in raws + list(config.pps if config is not None else ()):
        with contextlib.suppress(ValueError):
            ids.add(pps_sps_id(raw)[0])
    return ids


def _parameter_sets(buf: Buffer, nals: list[Nal]) -> tuple[list[bytes], list[bytes]]:
    sps = [bytes(buf[n.offset : n.offset + n.size]) for n in nals if n.type == SPS]
    pps = [bytes(buf[n.offset : n.offset + n.size]) for n in nals if n.type == PPS]
    return sps[:1], pps[:1]


def _frame_rate(fps: float | None, params: tuple[bytes, ...] | list[bytes], ref_rate: Fraction | None,
                reference: Path | None) -> tuple[Fraction | None, str]:
    """The constant frame rate of a rebuilt stream and a note saying where it came from."""
    if fps is not None:
        rate, where = Fraction(fps).limit_denominator(1001), "meta.toml [camera] fps"
    else:
        sps_fps = None
        for raw in params:
            if raw[0] & 0x1F == SPS:
                with contextlib.suppress(ValueError):  # unreadable: try the reference
                    sps_fps = parse_sps(raw).fps
                break
        if sps_fps is not None:
            rate, where = Fraction(sps_fps).limit_denominator(1001), "the stream's SPS timing"
        elif ref_rate is not None:
            rate, where = ref_rate, f"reference {reference}"
        else:
            return None, "no frame rate for its frames (declare [camera] fps in meta.toml)"
    return rate, f"frame times rebuilt at a constant {float(rate):g} fps ({where}); the lost index held the real ones"


def _mux_units(buf: Buffer, nals: list[Nal], units: list[tuple[int, int]], params: tuple[bytes, ...],
               order: list[int], rate: Fraction, annexb: Path, out: Path) -> int:
    """Mux the access units into ``out`` at ``rate``, presentation times from ``order``; the
    stream's codec parameters come from FFmpeg's raw H.264 demuxer reading the first key
    frame as Annex-B (``annexb``)."""
    with annexb.open("wb") as fh:
        write_annexb(fh, buf, nals, units[:1], params)
    tb = 1 / rate
    delay = max(0, max(i - o for i, o in enumerate(order)))  # B-frames: decode before display
    with contextlib.ExitStack() as cleanup:
        cleanup.callback(annexb.unlink, missing_ok=True)  # removed on a failure too
        inp = cleanup.enter_context(av.open(str(annexb), format="h264"))
        template = inp.streams.video[0]
        if not template.codec_context.extradata or not template.width:
            raise ValueError("FFmpeg finds no picture size in the parameter sets")
        with av.open(str(out), mode="w") as container:
            stream = container.add_stream_from_template(template)
            stream.time_base = tb
            for i, (a, b) in enumerate(units):
                parts = [START_CODE + raw for raw in (params if i == 0 else ())]
                parts += [START_CODE + bytes(buf[n.offset : n.offset + n.size]) for n in nals[a:b]]
                packet = av.Packet(b"".join(parts))
                packet.pts, packet.dts, packet.time_base = order[i], i - delay, tb
                packet.is_keyframe = any(n.type == IDR for n in nals[a:b])
                packet.stream = stream
                container.mux(packet)
    return len(units)

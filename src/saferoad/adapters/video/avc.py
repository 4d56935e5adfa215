"""H.264 in an MP4 whose index is lost: find the media data, walk it as NAL units, rebuild a stream.

A recorder that writes its MP4 index (``moov``) at the end loses it, and with it the codec
parameters (the ``avcC`` box), when the power is cut. The frames are still in the ``mdat``
box: H.264 in MP4 is a sequence of NAL units, each preceded by its length (4 bytes, the
``avcC``'s ``lengthSizeMinusOne`` + 1). Like untrunc, this module reads them back:

- :func:`find_mdat` walks the top-level boxes to the ``mdat`` payload (its declared size may
  reach past the end of a cut file, or be 0 = "to the end", as a muxer leaves it until it
  writes the index);
- :func:`walk_nals` reads length-prefixed NAL units and stops at the first one that is not
  valid: forbidden bit set, an unknown ``nal_unit_type``, a ``nal_ref_idc`` the standard
  forbids for that type (ITU-T H.264 7.4.1), or a length past the remaining bytes. That is the
  cut (or the first byte of something that is not video, e.g. another track's samples);
- :func:`access_units` groups them into access units (frames) by the rules of H.264 7.4.1.2.3:
  an access unit delimiter, SEI, SPS or PPS after a slice, or a slice whose
  ``first_mb_in_slice`` is 0, starts the next one;
- :func:`presentation_order` gives each frame its display position from the slice headers'
  picture order count (B-frames are stored out of display order);
- :func:`write_annexb` writes the frames as an Annex-B elementary stream (start codes) with the
  parameter sets in front, which FFmpeg's raw ``h264`` demuxer reads.

Pure byte parsing: no decoding here (see :mod:`saferoad.adapters.video.repair`).
"""

from __future__ import annotations

import contextlib
import itertools
import mmap
import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import BinaryIO

Buffer = bytes | bytearray | mmap.mmap

SLICE, DPA, DPB, DPC, IDR, SEI, SPS, PPS, AUD, END_SEQ, END_STREAM, FILLER = range(1, 13)
KNOWN_TYPES = frozenset(range(1, 13))
"""The NAL unit types of plain H.264 (no SVC/MVC extensions): a walk stops at any other."""
VCL_TYPES = frozenset({SLICE, DPA, IDR})
"""NAL units that start a picture's coded data (partitions B and C follow an A)."""
NEEDS_REF = frozenset({IDR, SPS, PPS})
"""``nal_ref_idc`` shall not be 0 for these (H.264 7.4.1)."""
NO_REF = frozenset({SEI, AUD, END_SEQ, END_STREAM, FILLER})
"""``nal_ref_idc`` shall be 0 for these (H.264 7.4.1)."""
STARTS_AU = frozenset({SEI, SPS, PPS, AUD}) | frozenset(range(14, 19))
"""Non-VCL units that, after a slice, begin the next access unit (H.264 7.4.1.2.3)."""
START_CODE = b"\x00\x00\x00\x01"


@dataclass(frozen=True, slots=True)
class Mdat:
    """The media data of an MP4: payload bytes ``start``..``end`` of the file, whether the
    file may end before the box does (``cut``: its declared size reaches past the end of the
    file, or is 0 = "to the end", which a muxer writes until it knows the size, so a data end
    there says nothing of whether the last frame is whole) and holds an index (``has_moov``)."""

    start: int
    end: int
    cut: bool
    has_moov: bool


def find_mdat(buf: Buffer) -> Mdat | None:
    """The first ``mdat`` of an ISO-BMFF file, or None when the top-level boxes hold none
    (or are not boxes: the file is not an MP4)."""
    n = len(buf)
    pos, found, moov = 0, None, False
    while pos + 8 <= n:
        size, kind = struct.unpack(">I4s", buf[pos : pos + 8])
        header, open_ended = 8, size == 0
        if size == 1:
            if pos + 16 > n:
                break
            size = struct.unpack(">Q", buf[pos + 8 : pos + 16])[0]
            header = 16
        elif size == 0:
            size = n - pos
        if size < header or not all(0x20 <= c < 0x7F for c in kind):
            break
        if kind == b"mdat" and found is None:
            found = (pos + header, min(pos + size, n), pos + size > n or open_ended)
        moov = moov or kind == b"moov"
        pos += size
    if found is None:
        return None
    return Mdat(found[0], found[1], found[2], moov)


@dataclass(frozen=True, slots=True)
class Nal:
    """One NAL unit: payload bytes ``offset``..``offset + size`` (header byte included)."""

    offset: int
    size: int
    type: int
    ref_idc: int


@dataclass(slots=True)
class Walk:
    """The valid NAL units from the start, where the walk stopped and why (None: it reached
    the end of the data exactly)."""

    nals: list[Nal] = field(default_factory=list)
    stop_offset: int = 0
    stop_reason: str | None = None
    cut_nal: Nal | None = None
    """The unit the walk stopped at when only its length failed (it runs past the data: the
    cut fell inside it) and its header is valid: it shows whether the frame before it ended."""


def walk_nals(buf: Buffer, start: int, end: int, length_size: int = 4) -> Walk:
    """Read ``length_size``-byte-length-prefixed NAL units from ``buf[start:end]`` and stop at
    the first invalid one (see the module docstring)."""
    if length_size not in (1, 2, 4):
        raise ValueError(f"NAL length size {length_size}: must be 1, 2 or 4")
    walk = Walk()
    pos = start
    while pos < end:
        if pos + length_size + 1 > end:
            walk.stop_reason = f"{end - pos} byte(s) left, too few for a NAL unit"
            break
        size = int.from_bytes(buf[pos : pos + length_size], "big")
        head = buf[pos + length_size]
        kind, ref = head & 0x1F, (head >> 5) & 3
        why = None
        too_long = pos + length_size + size > end
        if head & 0x80:
            why = "forbidden_zero_bit is set"
        elif kind not in KNOWN_TYPES:
            why = f"nal_unit_type {kind} is not H.264"
        elif (kind in NEEDS_REF and ref == 0) or (kind in NO_REF and ref != 0):
            why = f"nal_ref_idc {ref} is not allowed for nal_unit_type {kind}"
        if why is None and size == 0:
            why = "length 0: an empty NAL unit"
        elif why is None and too_long:
            why = f"length {size} runs past the {end - pos - length_size} byte(s) left"
            walk.cut_nal = Nal(pos + length_size, min(size, end - pos - length_size), kind, ref)
        if why is not None:
            walk.stop_reason = why
            break
        walk.nals.append(Nal(pos + length_size, size, kind, ref))
        pos += length_size + size
    walk.stop_offset = pos
    return walk


def _first_mb_is_zero(buf: Buffer, nal: Nal) -> bool:
    """``first_mb_in_slice`` is the slice header's first ue(v): 0 exactly when its first bit is 1."""
    return nal.size > 1 and bool(buf[nal.offset + 1] & 0x80)


def starts_access_unit(buf: Buffer, nal: Nal) -> bool:
    """After a slice, ``nal`` begins the next access unit (H.264 7.4.1.2.3)."""
    return nal.type in STARTS_AU or (nal.type in (SLICE, IDR) and _first_mb_is_zero(buf, nal))


def opens_next_frame(buf: Buffer, nal: Nal, pps_ids: Iterable[int]) -> bool:
    """``nal`` (the unit a cut fell inside) is the first slice of a new frame: its header is a
    slice's, ``first_mb_in_slice`` is 0, ``slice_type`` is valid and it names a known PPS. Then
    the frame before it is whole. Random bytes after a cut pass this about once in 150 tries
    (forbidden bit, type, first bit, PPS id), so a frame is kept on it alone, never decoded
    from it."""
    if nal.type not in (SLICE, IDR) or not _first_mb_is_zero(buf, nal):
        return False
    try:
        r = BitReader(rbsp(bytes(buf[nal.offset : nal.offset + min(nal.size, 16)])))
        r.ue()
        return r.ue() <= 9 and r.ue() in set(pps_ids)
    except ValueError:
        return False


def access_units(buf: Buffer, nals: Sequence[Nal]) -> list[tuple[int, int]]:
    """Group ``nals`` into access units, as ``(first, stop)`` index ranges into ``nals``; only
    units that hold a slice are returned (leading parameter sets belong to the first)."""
    out: list[tuple[int, int]] = []
    first, has_vcl = 0, False
    for i, nal in enumerate(nals):
        if has_vcl and starts_access_unit(buf, nal):
            out.append((first, i))
            first, has_vcl = i, False
        has_vcl = has_vcl or nal.type in VCL_TYPES
    if has_vcl:
        out.append((first, len(nals)))
    return out


class BitReader:
    """Exp-Golomb reading of an RBSP (emulation-prevention bytes already removed)."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def u(self, n: int) -> int:
        v = 0
        for _ in range(n):
            byte = self.pos >> 3
            if byte >= len(self.data):
                raise ValueError("bit string ends early")
            v = (v << 1) | ((self.data[byte] >> (7 - (self.pos & 7))) & 1)
            self.pos += 1
        return v

    def ue(self) -> int:
        zeros = 0
        while self.u(1) == 0:
            zeros += 1
            if zeros > 31:
                raise ValueError("exp-Golomb code longer than 32 bits")
        return (1 << zeros) - 1 + self.u(zeros)

    def se(self) -> int:
        k = self.ue()
        return (k + 1) // 2 if k & 1 else -(k // 2)


def rbsp(nal: bytes) -> bytes:
    """The NAL payload after its header with emulation-prevention bytes (00 00 03) removed."""
    return nal[1:].replace(b"\x00\x00\x03", b"\x00\x00")


@dataclass(frozen=True, slots=True)
class SeqParams:
    """What slice headers need from a sequence parameter set."""

    sps_id: int
    log2_max_frame_num: int
    poc_type: int
    log2_max_poc_lsb: int
    frame_mbs_only: bool
    separate_colour_plane: bool
    fps: float | None = None
    """The VUI's timing (``time_scale / (2 num_units_in_tick)``) where the SPS carries it."""


HIGH_PROFILES = frozenset({100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135})


def parse_sps(nal: bytes) -> SeqParams:
    """The fields of an SPS up to ``frame_mbs_only_flag`` (H.264 7.3.2.1.1)."""
    r = BitReader(rbsp(nal))
    profile = r.u(8)
    r.u(16)  # constraint flags, level_idc
    sps_id = r.ue()
    separate = False
    if profile in HIGH_PROFILES:
        chroma = r.ue()
        if chroma == 3:
            separate = bool(r.u(1))
        r.ue()  # bit_depth_luma_minus8
        r.ue()  # bit_depth_chroma_minus8
        r.u(1)  # qpprime_y_zero_transform_bypass_flag
        if r.u(1):  # seq_scaling_matrix_present_flag
            for i in range(12 if chroma == 3 else 8):
                if r.u(1):
                    last = nxt = 8
                    for _ in range(16 if i < 6 else 64):
                        if nxt:
                            nxt = (last + r.se() + 256) % 256
                        last = nxt or last
    log2_frame = r.ue() + 4
    poc_type = r.ue()
    log2_poc = 0
    if poc_type == 0:
        log2_poc = r.ue() + 4
    elif poc_type == 1:
        r.u(1)
        r.se()
        r.se()
        for _ in range(r.ue()):
            r.se()
    r.ue()  # max_num_ref_frames
    r.u(1)  # gaps_in_frame_num_value_allowed_flag
    r.ue()  # pic_width_in_mbs_minus1
    r.ue()  # pic_height_in_map_units_minus1
    frame_mbs_only = bool(r.u(1))
    fps = None
    with contextlib.suppress(ValueError):  # a VUI cut short: no timing, the rest stands
        fps = _vui_fps(r, frame_mbs_only)
    return SeqParams(sps_id, log2_frame, poc_type, log2_poc, frame_mbs_only, separate, fps)


def _vui_fps(r: BitReader, frame_mbs_only: bool) -> float | None:
    """The frame rate in the VUI after ``frame_mbs_only_flag`` (H.264 7.3.2.1.1, E.1.1)."""
    if not frame_mbs_only:
        r.u(1)  # mb_adaptive_frame_field_flag
    r.u(1)  # direct_8x8_inference_flag
    if r.u(1):  # frame_cropping_flag
        for _ in range(4):
            r.ue()
    if not r.u(1):  # vui_parameters_present_flag
        return None
    if r.u(1) and r.u(8) == 255:  # aspect_ratio_info_present_flag, aspect_ratio_idc: extended SAR
        r.u(32)
    if r.u(1):  # overscan_info_present_flag
        r.u(1)
    if r.u(1):  # video_signal_type_present_flag
        r.u(4)
        if r.u(1):  # colour_description_present_flag
            r.u(24)
    if r.u(1):  # chroma_loc_info_present_flag
        r.ue()
        r.ue()
    if not r.u(1):  # timing_info_present_flag
        return None
    tick, scale = r.u(32), r.u(32)
    return scale / (2.0 * tick) if tick and scale else None


def pps_sps_id(nal: bytes) -> tuple[int, int]:
    """``(pic_parameter_set_id, seq_parameter_set_id)`` of a PPS."""
    r = BitReader(rbsp(nal))
    return r.ue(), r.ue()


@dataclass(frozen=True, slots=True)
class SliceHead:
    slice_type: int
    """0-9; ``% 5``: 0 P, 1 B, 2 I, 3 SP, 4 SI."""
    poc_lsb: int | None


def parse_slice_head(nal: bytes, sps: dict[int, SeqParams], pps: dict[int, int]) -> SliceHead:
    """``slice_type`` and ``pic_order_cnt_lsb`` of a slice (H.264 7.3.3); the POC needs the
    parameter sets the slice names."""
    r = BitReader(rbsp(nal[:64]))
    r.ue()  # first_mb_in_slice
    slice_type = r.ue()
    pps_id = r.ue()
    seq = sps.get(pps.get(pps_id, -1))
    if seq is None or seq.poc_type != 0:
        return SliceHead(slice_type, None)
    if seq.separate_colour_plane:
        r.u(2)
    r.u(seq.log2_max_frame_num)  # frame_num
    if not seq.frame_mbs_only and r.u(1):  # field_pic_flag
        r.u(1)  # bottom_field_flag
    if nal[0] & 0x1F == IDR:
        r.ue()  # idr_pic_id
    return SliceHead(slice_type, r.u(seq.log2_max_poc_lsb))


def presentation_order(buf: Buffer, nals: Sequence[Nal], units: Sequence[tuple[int, int]],
                       extra_params: Iterable[bytes] = ()) -> list[int] | None:
    """Each access unit's frame slot in display order (0-based), from the picture order count
    (type 0: ``pic_order_cnt_lsb`` with its wrap, H.264 8.2.1.1, divided by the smallest step
    between frames; types 1 and 2 and streams without B slices: decoding order). A stream cut
    after a P frame whose B frames are lost leaves an empty slot, not a shifted time. None when
    a B slice's order cannot be worked out (POC type 1, or a slice that names no known
    parameter set). ``extra_params``: SPS/PPS NAL units from elsewhere (a reference file)."""
    sps: dict[int, SeqParams] = {}
    pps: dict[int, int] = {}

    def learn(raw: bytes) -> None:
        kind = raw[0] & 0x1F
        with contextlib.suppress(ValueError):  # unreadable: the slices naming it get no POC
            if kind == SPS:
                s = parse_sps(raw)
                sps[s.sps_id] = s
            elif kind == PPS:
                p, s_id = pps_sps_id(raw)
                pps[p] = s_id

    for raw in extra_params:
        learn(raw)
    pocs: list[tuple[bool, int | None, bool]] = []  # (IDR, POC, has a B slice)
    prev_msb = prev_lsb = 0
    for first, stop in units:
        idr, lsb, b_slice, ref = False, None, False, 0
        for nal in nals[first:stop]:
            if nal.type in (SPS, PPS):
                learn(bytes(buf[nal.offset : nal.offset + nal.size]))
            elif nal.type in (SLICE, IDR):
                try:
                    head = parse_slice_head(bytes(buf[nal.offset : nal.offset + min(nal.size, 64)]), sps, pps)
                except ValueError:
                    return None
                b_slice = b_slice or head.slice_type % 5 == 1
                if lsb is None:
                    lsb, idr, ref = head.poc_lsb, nal.type == IDR, nal.ref_idc
        if lsb is None:
            pocs.append((idr, None, b_slice))
            continue
        seq = next(iter(sps.values()))  # one SPS in practice; POC wrap needs its lsb range
        max_lsb = 1 << seq.log2_max_poc_lsb
        if idr:
            prev_msb = prev_lsb = 0
        if lsb < prev_lsb and prev_lsb - lsb >= max_lsb // 2:
            msb = prev_msb + max_lsb
        elif lsb > prev_lsb and lsb - prev_lsb > max_lsb // 2:
            msb = prev_msb - max_lsb
        else:
            msb = prev_msb
        if ref:
            prev_msb, prev_lsb = msb, lsb
        pocs.append((idr, msb + lsb, b_slice))
    if not any(b for _, _, b in pocs):
        return list(range(len(units)))
    if any(p is None for _, p, _ in pocs):
        return None
    known = [p for _, p, _ in pocs if p is not None]  # every unit's POC (none is None here)
    steps = [abs(b - a) for a, b in itertools.pairwise(known) if b != a]
    step = min(steps) if steps else 1  # x264: 2 per frame
    order: list[int] = []
    start, base = 0, 0
    for i in range(1, len(pocs) + 1):
        if i == len(pocs) or pocs[i][0]:  # an IDR starts a new count
            low = min(known[start:i])
            order += [base + (p - low) // step for p in known[start:i]]
            base = max(order) + 1
            start = i
    return order


@dataclass(frozen=True, slots=True)
class AvcConfig:
    """An ``avcC`` record: NAL length size and the parameter sets."""

    length_size: int
    sps: tuple[bytes, ...]
    pps: tuple[bytes, ...]


def parse_avcc(data: bytes) -> AvcConfig:
    """Parse an ``AVCDecoderConfigurationRecord`` (ISO/IEC 14496-15 5.3.3.1); Annex-B
    extradata (start codes) is accepted too, with 4-byte lengths."""
    if data[:3] == b"\x00\x00\x01" or data[:4] == START_CODE:
        units = [u.lstrip(b"\x00") for u in data.split(b"\x00\x00\x01")]
        units = [u for u in units if u]
        return AvcConfig(
            4, tuple(u for u in units if u[0] & 0x1F == SPS), tuple(u for u in units if u[0] & 0x1F == PPS)
        )
    if len(data) < 7 or data[0] != 1:
        raise ValueError("not an avcC record (configurationVersion is not 1)")
    length_size = (data[4] & 3) + 1
    pos = 5
    out: list[list[bytes]] = []
    for mask in (0x1F, 0xFF):
        count = data[pos] & mask
        pos += 1
        sets = []
        for _ in range(count):
            (n,) = struct.unpack(">H", data[pos : pos + 2])
            if pos + 2 + n > len(data):
                raise ValueError("avcC record ends inside a parameter set")
            sets.append(bytes(data[pos + 2 : pos + 2 + n]))
            pos += 2 + n
        out.append(sets)
    return AvcConfig(length_size, tuple(out[0]), tuple(out[1]))


def write_annexb(fh: BinaryIO, buf: Buffer, nals: Sequence[Nal], units: Iterable[tuple[int, int]],
                 params: Sequence[bytes] = ()) -> int:
    """Write ``units`` as an Annex-B stream to ``fh``, ``params`` (SPS/PPS) in front of the
    first; returns the number of access units written."""
    n = 0
    for first, stop in units:
        if n == 0:
            for raw in params:
                fh.write(START_CODE + raw)
        for nal in nals[first:stop]:
            fh.write(START_CODE)
            fh.write(buf[nal.offset : nal.offset + nal.size])
        n += 1
    return n

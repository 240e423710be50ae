"""Probing: what a recording is, measured from its packets, and whether it can be analysed.

Browser recordings are awkward inputs: MediaRecorder writes WebM without a
duration or cues and with variable frame timing, so nothing here trusts the
container header. Durations and frame counts come from the packets, and a WebM
cut short is found by walking its elements' sizes. Every failure that is the
input's fault becomes a :class:`MediaInputError` with a plain reason; decoding
(:mod:`app.pipeline.media.decode`) opens files through the same checks.
"""

from __future__ import annotations

import itertools
import os
import time
from fractions import Fraction
from typing import BinaryIO

import av
import av.error
import numpy as np

from app.pipeline.errors import MediaInputError
from app.pipeline.options import MediaLimits
from app.pipeline.types import ProbeInfo

# A header that claims more than this much extra time over what the packets
# cover means the file was cut short.
_TRUNCATION_TOLERANCE_S = 1.0
_TRUNCATION_TOLERANCE_RATIO = 0.02


def fmt_s(seconds: float) -> str:
    """A duration as a reason states it: "30 s", "0.25 s"."""
    return f"{seconds:.0f} s" if seconds >= 10 else f"{seconds:.2f} s"


def _check_file(path: str | os.PathLike[str], limits: MediaLimits) -> str:
    p = os.fspath(path)
    try:
        size = os.stat(p).st_size
    except FileNotFoundError:
        raise MediaInputError("the file does not exist") from None
    except OSError as exc:
        raise MediaInputError(f"the file cannot be read ({exc.strerror})") from None
    if not os.path.isfile(p):
        raise MediaInputError("the path is not a regular file")
    if size == 0:
        raise MediaInputError("the file is empty (0 bytes)")
    if size > limits.max_file_bytes:
        raise MediaInputError(
            f"the file is {size} bytes, more than the {limits.max_file_bytes}-byte limit"
        )
    return p


def open_container(
    path: str | os.PathLike[str], limits: MediaLimits
) -> av.container.InputContainer:
    """Open ``path`` for demuxing, rejecting non-files, non-media and unsupported containers."""
    p = _check_file(path, limits)
    try:
        container = av.open(p, mode="r")
    except av.error.FFmpegError as exc:
        raise MediaInputError(
            f"the file is not a recognised video ({ffmpeg_reason(exc)})"
        ) from None
    except (OSError, ValueError, UnicodeDecodeError) as exc:
        raise MediaInputError(f"the file is not a recognised video ({exc})") from None
    names = set(container.format.name.split(","))
    if not names & set(limits.containers):
        container.close()
        raise MediaInputError(
            f"the file is a {container.format.long_name or container.format.name}, "
            "not a WebM, MP4 or QuickTime video"
        )
    return container


def ffmpeg_reason(exc: av.error.FFmpegError) -> str:
    """What FFmpeg said went wrong, in lower case, to go inside a reason."""
    return (getattr(exc, "strerror", None) or str(exc)).strip().rstrip(".").lower()


def check_dimensions(width: int, height: int, limits: MediaLimits) -> None:
    """Refuse a picture without a size, or larger than ``limits.max_pixels``."""
    if width <= 0 or height <= 0:
        raise MediaInputError("the video stream has no picture size")
    if width * height > limits.max_pixels:
        raise MediaInputError(
            f"the video is {width}x{height}, "
            f"more than the {limits.max_pixels}-pixel limit per frame"
        )


def probe(path: str | os.PathLike[str], limits: MediaLimits) -> ProbeInfo:
    """Return facts about a recording, computed from its packets rather than its header.

    Demuxes the whole file (cheap: no decoding) to measure the true duration,
    frame count and frame timing, then decodes the first video frame to prove
    the stream is decodable. Raises :class:`MediaInputError` for anything that
    is not a bounded, intact WebM/MP4/QuickTime video.
    """
    started = time.monotonic()
    container = open_container(path, limits)
    try:
        return _probe_open(container, limits, started)
    finally:
        container.close()


def _probe_open(
    container: av.container.InputContainer, limits: MediaLimits, started: float
) -> ProbeInfo:
    if not container.streams.video:
        kind = "audio-only" if container.streams.audio else "stream-less"
        raise MediaInputError(f"the file has no video stream (it is {kind})")
    vstream = container.streams.video[0]
    astream = container.streams.audio[0] if container.streams.audio else None
    vctx = vstream.codec_context
    if vctx is None or not vctx.name:
        raise MediaInputError("the video stream uses an unknown codec")
    check_dimensions(vctx.width, vctx.height, limits)

    streams = [vstream] + ([astream] if astream is not None else [])
    vpts: list[int] = []
    v_max_pts: int | None = None
    v_last_dur = 0
    a_end = 0.0
    a_packets = 0
    try:
        for i, packet in enumerate(container.demux(streams)):
            if packet.pts is None or packet.size == 0:
                continue
            tb = packet.time_base
            if packet.stream is vstream:
                vpts.append(packet.pts)
                if v_max_pts is None or packet.pts >= v_max_pts:
                    v_max_pts = packet.pts
                    v_last_dur = packet.duration or 0
                end_s = float(packet.pts * tb)
            else:
                a_packets += 1
                end_s = float((packet.pts + (packet.duration or 0)) * tb)
                a_end = max(a_end, end_s)
            if end_s > limits.max_duration_s:
                raise MediaInputError(
                    f"the recording is longer than the {fmt_s(limits.max_duration_s)} limit"
                )
            if i % 256 == 0 and time.monotonic() - started > limits.wall_time_budget_s:
                raise MediaInputError("reading the file took longer than the time budget")
    except av.error.FFmpegError as exc:
        raise MediaInputError(f"the file is corrupt or truncated ({ffmpeg_reason(exc)})") from None
    if not vpts:
        raise MediaInputError("the video stream holds no frames (the file is truncated or empty)")

    vtb: Fraction = vstream.time_base or Fraction(1, 1000)
    vpts.sort()
    times = np.asarray(vpts, dtype=np.float64) * float(vtb)
    v_end = float(times[-1])
    if len(times) == 1:
        v_end += float(v_last_dur * vtb)
    duration = max(v_end, a_end)
    if duration > limits.max_duration_s:
        raise MediaInputError(
            f"the recording is longer than the {fmt_s(limits.max_duration_s)} limit"
        )
    _check_truncation(container, vstream, duration)
    if "matroska" in container.format.name.split(","):
        cut = _matroska_cut_at(container.name, deadline=started + limits.wall_time_budget_s)
        if cut is not None:
            raise MediaInputError(
                f"the file is truncated: it stops inside the data starting at byte {cut:,} "
                f"(what is whole ends at {duration:.1f} s)"
            )

    variable = False
    if len(times) > 2:
        gaps = np.diff(times)
        gaps = gaps[gaps > 0]
        if gaps.size:
            median = float(np.median(gaps))
            variable = float(gaps.max()) > 1.5 * median or float(gaps.min()) < 0.5 * median

    _check_first_frame(container, vstream, limits)

    return ProbeInfo(
        container=container.format.name,
        video_codec=vctx.name,
        audio_codec=astream.codec_context.name if astream is not None else None,
        width=vctx.width,
        height=vctx.height,
        duration=round(duration, 3),
        frame_count=len(vpts),
        has_audio=astream is not None and a_packets > 0,
        variable_frame_rate=variable,
    )


def _check_truncation(
    container: av.container.InputContainer, vstream: av.video.stream.VideoStream, measured: float
) -> None:
    """Compare the header's claims (when there are any) with what the packets cover."""
    claims: list[float] = []
    if container.duration:
        claims.append(container.duration / av.time_base)
    if vstream.duration and vstream.time_base:
        claims.append(float(vstream.duration * vstream.time_base))
    if not claims:
        return  # MediaRecorder WebM: nothing claimed, nothing to compare
    claimed = min(claims)
    missing = claimed - measured
    if missing > max(_TRUNCATION_TOLERANCE_S, _TRUNCATION_TOLERANCE_RATIO * claimed):
        raise MediaInputError(
            f"the file is truncated: its header says {claimed:.1f} s "
            f"but the data ends at {measured:.1f} s"
        )


# Matroska (WebM) element ids: the two masters walked into, the rest skipped by their size.
_SEGMENT = 0x18538067
_CLUSTER = 0x1F43B675


class _EndsInside(Exception):
    """The file ends inside the element (or element header) starting at ``start``."""

    def __init__(self, start: int) -> None:
        self.start = start


def _read_vint(fh: BinaryIO, start: int, *, is_id: bool) -> tuple[int | None, bool]:
    """One EBML variable-length integer: (value, ok); value None for EOF before it or an
    unknown size; ok False for bytes that are no EBML at all."""
    first = fh.read(1)
    if not first:
        return None, True
    lead = first[0]
    length = 9 - lead.bit_length()  # one byte per leading zero bit, plus one
    if lead == 0 or (is_id and length > 4):
        return None, False
    rest = fh.read(length - 1)
    if len(rest) < length - 1:
        raise _EndsInside(start)
    value = lead if is_id else lead & (0xFF >> length)
    for byte in rest:
        value = (value << 8) | byte
    if not is_id and value == (1 << (7 * length)) - 1:
        return None, True  # "unknown size": a live stream's segment and clusters
    return value, True


def _matroska_cut_at(path: str | os.PathLike[str], deadline: float | None = None) -> int | None:
    """Where a Matroska file ends inside an element, or None when its last element is whole.

    MediaRecorder writes neither a duration nor cues, so a WebM cut short (a crashed tab, an
    upload stopped half-way) carries no claim to compare its packets with, and the demuxer
    quietly drops the block it ends in. The elements tell: each states its size, and a whole
    file ends where its last element does. Segments and clusters are walked into (theirs may
    be unknown), everything else is skipped by its size. Bytes that are not EBML stop the walk
    (the demuxer resynchronises past junk; its own errors decide those files).

    The walk reads every element header once (cheap: docs/performance.md): past ``deadline``
    (``time.monotonic()``) it raises :class:`MediaInputError`, as the packet scan does.
    """
    size = os.path.getsize(path)
    limit = size  # where the segment ends: bytes after a sized segment are none of its own
    with open(path, "rb", buffering=1 << 16) as fh:
        try:
            for count in itertools.count():
                if (start := fh.tell()) >= limit:
                    break
                if deadline is not None and count % 256 == 0 and time.monotonic() > deadline:
                    raise MediaInputError("reading the file took longer than the time budget")
                element, _ = _read_vint(fh, start, is_id=True)
                if element is None:
                    return None  # the end of the file, between elements; or not EBML
                length, ok = _read_vint(fh, start, is_id=False)
                if not ok:
                    return None
                if length is None and fh.tell() >= size:
                    raise _EndsInside(start)  # the header is the last thing in the file
                end = fh.tell() + length if length is not None else size
                if end > size:
                    raise _EndsInside(start)
                if element == _SEGMENT:
                    limit = end
                if element in (_SEGMENT, _CLUSTER):
                    continue  # their children follow
                if length is None:
                    return None  # an unknown size elsewhere: nothing to check against
                fh.seek(end)
            return None
        except _EndsInside as cut:
            return cut.start


def _check_first_frame(
    container: av.container.InputContainer,
    vstream: av.video.stream.VideoStream,
    limits: MediaLimits,
) -> None:
    try:
        container.seek(0, stream=vstream)
    except av.error.FFmpegError:
        # Unseekable input (no cues): reopening is the orchestrator's cost, not worth it here.
        return
    try:
        for frame in container.decode(vstream):
            check_dimensions(frame.width, frame.height, limits)
            return
    except av.error.FFmpegError as exc:
        raise MediaInputError(f"the video cannot be decoded ({ffmpeg_reason(exc)})") from None
    raise MediaInputError("no video frame could be decoded (the data is corrupt or truncated)")

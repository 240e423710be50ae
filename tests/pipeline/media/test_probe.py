"""Probing real recordings, MediaRecorder-style WebM, and broken inputs."""

from __future__ import annotations

import io
import os
import re
import time
from collections.abc import Callable
from pathlib import Path

import av
import cv2
import numpy as np
import pytest

from app.pipeline.errors import MediaInputError
from app.pipeline.media.decode import decode_audio
from app.pipeline.media.keyframes import KeyframeHints, extract_keyframes
from app.pipeline.media.probe import _matroska_cut_at, probe
from app.pipeline.options import KeyframeOptions, MediaLimits
from app.pipeline.types import ProbeInfo
from tests.pipeline.factories import CASES, CONTAINERS, media_path, media_truth

MATROSKA_CUES_ID = bytes.fromhex("1C53BB6B")


class _Pipe(io.RawIOBase):
    """A write-only, unseekable stream: the muxer cannot go back to write duration or cues."""

    def __init__(self, sink: io.BufferedWriter) -> None:
        self._sink = sink

    def writable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return False

    def write(self, data: bytes | bytearray | memoryview) -> int:  # type: ignore[override]
        return self._sink.write(data)


def remux(
    src: Path, dst: Path, kinds: set[str], *, pipe: bool = False, fmt: str | None = None
) -> Path:
    """Copy the streams of ``kinds`` ("video", "audio") from src into dst without re-encoding."""
    with av.open(str(src)) as inp, open(dst, "wb") as fh:
        target = _Pipe(fh) if pipe else fh
        with av.open(target, "w", format=fmt or dst.suffix.lstrip(".")) as out:
            mapping = {
                s.index: out.add_stream_from_template(s) for s in inp.streams if s.type in kinds
            }
            for packet in inp.demux():
                if packet.dts is None or packet.stream.index not in mapping:
                    continue
                packet.stream = mapping[packet.stream.index]
                out.mux(packet)
    return dst


# --------------------------------------------------------------------------- real recordings


@pytest.mark.parametrize(("scenario", "container"), CASES)
def test_probe_measures_duration_frames_and_codecs_from_packets(
    scenario: str, container: str, probed: Callable[[str, str], ProbeInfo]
) -> None:
    info = probed(scenario, container)
    truth = media_truth(scenario, container)
    assert abs(info.duration - truth["duration"]) <= 0.1
    assert abs(info.frame_count - truth["videoFrames"]) <= 2
    assert info.video_codec == truth["videoCodec"]
    assert info.audio_codec == truth["audioCodec"]
    assert info.has_audio is True
    assert (info.width, info.height) == (1280, 720)
    assert info.variable_frame_rate is truth["variableFrameRate"]


def test_mediarecorder_webm_without_duration_or_cues(tmp_path: Path) -> None:
    src = media_path("login-500", "webm")
    live = remux(src, tmp_path / "live.webm", {"video", "audio"}, pipe=True)
    data = live.read_bytes()
    with av.open(str(live)) as c:
        assert c.duration is None, "the remuxed file must not declare a duration"
        assert all(s.duration is None for s in c.streams)
    assert MATROSKA_CUES_ID not in data, "the remuxed file must not carry cues"

    info = probe(live, MediaLimits())
    truth = media_truth("login-500", "webm")
    assert abs(info.duration - truth["duration"]) <= 0.1
    assert abs(info.frame_count - truth["videoFrames"]) <= 2
    assert info.has_audio and info.variable_frame_rate

    keyframes = extract_keyframes(live, info, KeyframeOptions(), MediaLimits(), KeyframeHints())
    reference = extract_keyframes(
        src, probe(src, MediaLimits()), KeyframeOptions(), MediaLimits(), KeyframeHints()
    )
    assert [k.timestamp for k in keyframes] == [k.timestamp for k in reference]
    assert abs(decode_audio(live, MediaLimits()).size / 16000 - truth["audioSeconds"]) < 0.1


@pytest.mark.parametrize("container", CONTAINERS)
def test_video_without_audio_probes_as_silent(tmp_path: Path, container: str, transcriber) -> None:
    silent = remux(
        media_path("login-500", container), tmp_path / f"video-only.{container}", {"video"}
    )
    info = probe(silent, MediaLimits())
    assert info.has_audio is False and info.audio_codec is None
    assert info.frame_count >= 400
    assert decode_audio(silent, MediaLimits()).size == 0
    assert transcriber.transcribe(silent) == []


# --------------------------------------------------------------------------- broken inputs


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def _png(path: Path) -> Path:
    ok, png = cv2.imencode(".png", np.full((120, 160, 3), 200, np.uint8))
    assert ok
    return _write(path, png.tobytes())


def _tiny_clip(path: Path, width: int, height: int, frames: int = 5) -> Path:
    """Encode a short synthetic VP8 clip."""
    with av.open(str(path), "w", format="webm") as out:
        stream = out.add_stream("libvpx", rate=10)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(frames):
            img = np.full((height, width, 3), 40 * i % 255, np.uint8)
            for packet in stream.encode(av.VideoFrame.from_ndarray(img, format="bgr24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    return path


def _mp4_without_moov(path: Path) -> Path:
    """An MP4 whose writer died before the index: ftyp and mdat, no moov."""
    data = media_path("login-500", "mp4").read_bytes()
    boxes, offset = [], 0
    while offset < len(data):
        size = int.from_bytes(data[offset : offset + 4], "big")
        boxes.append((data[offset + 4 : offset + 8], data[offset : offset + size]))
        offset += size
    assert b"moov" in [kind for kind, _ in boxes]
    return _write(path, b"".join(body for kind, body in boxes if kind != b"moov"))


WEBM = media_path("login-500", "webm")
MP4 = media_path("login-500", "mp4")


def _live(folder: Path) -> Path:
    """The WebM fixture as MediaRecorder writes it: no duration, no cues."""
    return remux(WEBM, folder / "live.webm", {"video", "audio"}, pipe=True)


BROKEN: dict[str, tuple[Callable[[Path], Path], str, MediaLimits]] = {
    "zero bytes": (lambda d: _write(d / "empty.webm", b""), r"empty", MediaLimits()),
    "random bytes": (
        lambda d: _write(d / "noise.webm", np.random.default_rng(7).bytes(200_000)),
        r"not a recognised video",
        MediaLimits(),
    ),
    "text file": (
        lambda d: _write(d / "notes.webm", b"just some notes\n" * 500),
        r"not a recognised video",
        MediaLimits(),
    ),
    "webm cut in half": (
        lambda d: _write(d / "half.webm", WEBM.read_bytes()[: WEBM.stat().st_size // 2]),
        r"truncated",
        MediaLimits(),
    ),
    "webm cut at 10%": (
        lambda d: _write(d / "tenth.webm", WEBM.read_bytes()[: WEBM.stat().st_size // 10]),
        r"truncated",
        MediaLimits(),
    ),
    "mediarecorder webm cut inside a block": (
        # No duration and no cues: nothing in the header to compare the packets with.
        lambda d: _write(d / "cut-live.webm", _live(d).read_bytes()[:-1500]),
        r"truncated: it stops inside the data starting at byte",
        MediaLimits(),
    ),
    "mp4 cut in half": (
        lambda d: _write(d / "half.mp4", MP4.read_bytes()[: MP4.stat().st_size // 2]),
        r"truncated",
        MediaLimits(),
    ),
    "mp4 without moov": (
        lambda d: _mp4_without_moov(d / "nomoov.mp4"),
        r"not a recognised video",
        MediaLimits(),
    ),
    "audio only": (
        lambda d: remux(WEBM, d / "audio.webm", {"audio"}),
        r"no video stream.*audio-only",
        MediaLimits(),
    ),
    "png renamed .webm": (
        lambda d: _png(d / "picture.webm"),
        r"png.*not a WebM, MP4 or QuickTime",
        MediaLimits(),
    ),
    "webm header then garbage": (
        lambda d: _write(
            d / "garbage.webm", WEBM.read_bytes()[:4096] + np.random.default_rng(3).bytes(300_000)
        ),
        r"truncated|corrupt|cannot be decoded",
        MediaLimits(),
    ),
    "resolution beyond max_pixels": (
        lambda d: _tiny_clip(d / "wide.webm", 320, 240),
        r"320x240, more than the 10000-pixel limit",
        MediaLimits(max_pixels=100 * 100),
    ),
    "duration beyond max_duration": (
        lambda d: WEBM,
        r"longer than the 30 s limit",
        MediaLimits(max_duration_s=30),
    ),
    "file over max_file_bytes": (
        lambda d: WEBM,
        r"more than the 1000-byte limit",
        MediaLimits(max_file_bytes=1000),
    ),
    "missing file": (lambda d: d / "nope.webm", r"does not exist", MediaLimits()),
}


@pytest.mark.parametrize("case", list(BROKEN))
def test_broken_input_raises_media_input_error_with_reason(tmp_path: Path, case: str) -> None:
    make, reason, limits = BROKEN[case]
    path = make(tmp_path)

    def analyse() -> None:
        info = probe(path, limits)
        # Whatever probing lets through must fail in decoding, never crash or hang.
        extract_keyframes(path, info, KeyframeOptions(), limits, KeyframeHints())

    with pytest.raises(MediaInputError) as caught:
        analyse()
    assert re.search(reason, caught.value.reason), caught.value.reason


def test_tiny_clip_within_bounds_is_accepted(tmp_path: Path) -> None:
    clip = _tiny_clip(tmp_path / "ok.webm", 320, 240, frames=8)
    info = probe(clip, MediaLimits())
    assert (info.width, info.height, info.frame_count, info.has_audio) == (320, 240, 8, False)
    keyframes = extract_keyframes(clip, info, KeyframeOptions(), MediaLimits(), KeyframeHints())
    assert keyframes and keyframes[0].image.shape == (240, 320, 3)


def test_decode_over_wall_time_budget_stops_with_reason() -> None:
    limits = MediaLimits(wall_time_budget_s=0.0)
    with pytest.raises(MediaInputError, match=r"time budget|budget"):
        probe(WEBM, limits)
    info = probe(WEBM, MediaLimits())
    with pytest.raises(MediaInputError, match="budget"):
        extract_keyframes(WEBM, info, KeyframeOptions(), limits, KeyframeHints())


def test_matroska_element_walk_keeps_the_time_budget(tmp_path: Path) -> None:
    # The walk reads every element header once more after the packet scan: it has to stop
    # at the same deadline, or a huge file would outlive its budget there.
    live = _live(tmp_path)
    assert _matroska_cut_at(live, deadline=time.monotonic() + 60) is None
    with pytest.raises(MediaInputError, match="time budget"):
        _matroska_cut_at(live, deadline=time.monotonic() - 1)


def test_no_file_descriptors_leak_on_errors(tmp_path: Path) -> None:
    bad = _write(tmp_path / "noise.webm", os.urandom(50_000))
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(20):
        with pytest.raises(MediaInputError):
            probe(bad, MediaLimits())
        with pytest.raises(MediaInputError):
            probe(WEBM, MediaLimits(max_pixels=10))
    assert len(os.listdir("/proc/self/fd")) <= before + 2

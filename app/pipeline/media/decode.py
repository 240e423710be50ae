"""Decoding: every video frame once, in order, and the audio as mono samples, with PyAV.

Frame times come from ``frame.time``, never from an assumed frame rate: MediaRecorder's WebM
has variable frame timing. Files are opened through the probe's checks, and the bounds of
:class:`MediaLimits` are enforced while decoding; every failure that is the input's fault
becomes a :class:`MediaInputError` with a plain reason.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator

import av
import av.error
import numpy as np

from app.pipeline.errors import MediaInputError
from app.pipeline.media.probe import check_dimensions, ffmpeg_reason, fmt_s, open_container
from app.pipeline.options import MediaLimits


def iter_video_frames(
    path: str | os.PathLike[str], limits: MediaLimits, threads: int = 0
) -> Iterator[av.VideoFrame]:
    """Decode every video frame once, in presentation order, on ``threads`` decoder threads
    (0: as many as FFmpeg finds useful).

    Enforces the pixel, duration and wall-time bounds while decoding and turns
    decoder failures into :class:`MediaInputError`.
    """
    started = time.monotonic()
    container = open_container(path, limits)
    try:
        if not container.streams.video:
            raise MediaInputError("the file has no video stream")
        vstream = container.streams.video[0]
        if threads == 1:
            vstream.thread_type = "NONE"
        else:
            vstream.thread_type = "AUTO"
            vstream.codec_context.thread_count = max(0, threads)
        decoded = 0
        try:
            for frame in container.decode(vstream):
                if frame.time is None:
                    continue
                if frame.width * frame.height > limits.max_pixels:
                    check_dimensions(frame.width, frame.height, limits)
                if frame.time > limits.max_duration_s:
                    raise MediaInputError(
                        f"the recording is longer than the {fmt_s(limits.max_duration_s)} limit"
                    )
                decoded += 1
                if decoded % 64 == 0 and time.monotonic() - started > limits.wall_time_budget_s:
                    raise MediaInputError(
                        f"decoding took longer than the {fmt_s(limits.wall_time_budget_s)} budget"
                    )
                yield frame
        except av.error.FFmpegError as exc:
            raise MediaInputError(
                f"the video data is corrupt or truncated ({ffmpeg_reason(exc)})"
            ) from None
        if decoded == 0:
            raise MediaInputError(
                "no video frame could be decoded (the data is corrupt or truncated)"
            )
    finally:
        container.close()


def _audio_kind(frame: av.AudioFrame) -> tuple[str, str, int]:
    return frame.format.name, frame.layout.name, frame.sample_rate


def _joined(frames: list[av.AudioFrame]) -> av.AudioFrame:
    """Consecutive decoded frames of one format, layout and rate as one frame."""
    if len(frames) == 1:
        return frames[0]
    first = frames[0]
    # Planar samples are (channels, n), packed ones (1, n * channels): joined along n either way.
    samples = np.concatenate([f.to_ndarray() for f in frames], axis=1)
    joined = av.AudioFrame.from_ndarray(samples, format=first.format.name, layout=first.layout.name)
    joined.sample_rate = first.sample_rate
    if first.time_base is not None:
        joined.pts = first.pts
        joined.time_base = first.time_base
    return joined


def resampled(frames: Iterable[av.AudioFrame], sample_rate: int) -> Iterator[np.ndarray]:
    """Decoded audio frames as mono float32 samples at ``sample_rate``, in order.

    Frames are resampled a second at a time: each call costs more than the samples of one
    20 ms Opus frame do (docs/performance.md).
    A stream whose format, channel layout or rate changes part-way gets a new resampler from
    there (one is set up for a single input kind, and refuses any other).
    """
    resampler: av.AudioResampler | None = None
    kind: tuple[str, str, int] | None = None
    batch: list[av.AudioFrame] = []
    batched = 0
    for frame in frames:
        if resampler is None or _audio_kind(frame) != kind:
            if resampler is not None:
                yield from _drained(resampler, batch)
            resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
            kind, batch, batched = _audio_kind(frame), [], 0
        batch.append(frame)
        batched += frame.samples
        if batched >= frame.sample_rate:
            yield from _resample(resampler, _joined(batch))
            batch, batched = [], 0
    if resampler is not None:
        yield from _drained(resampler, batch)


def _drained(resampler: av.AudioResampler, batch: list[av.AudioFrame]) -> Iterator[np.ndarray]:
    """What ``batch`` and the samples ``resampler`` still holds become."""
    if batch:
        yield from _resample(resampler, _joined(batch))
    yield from _resample(resampler, None)


def _resample(resampler: av.AudioResampler, frame: av.AudioFrame | None) -> Iterator[np.ndarray]:
    for out in resampler.resample(frame):
        yield out.to_ndarray().reshape(-1)


def decode_audio(
    path: str | os.PathLike[str], limits: MediaLimits, *, sample_rate: int = 16000
) -> np.ndarray:
    """The first audio stream as mono float32 at ``sample_rate``; empty when there is none."""
    container = open_container(path, limits)
    started = time.monotonic()
    try:
        if not container.streams.audio:
            return np.zeros(0, dtype=np.float32)
        astream = container.streams.audio[0]
        astream.codec_context.thread_type = "AUTO"
        chunks: list[np.ndarray] = []
        total = 0
        max_samples = int(limits.max_duration_s * sample_rate) + sample_rate

        def frames() -> Iterator[av.AudioFrame]:
            for i, frame in enumerate(container.decode(astream)):
                if i % 256 == 0 and time.monotonic() - started > limits.wall_time_budget_s:
                    raise MediaInputError("decoding the audio took longer than the time budget")
                yield frame

        try:
            for chunk in resampled(frames(), sample_rate):
                chunks.append(chunk)
                total += chunk.size
                if total > max_samples:
                    raise MediaInputError(
                        f"the audio is longer than the {fmt_s(limits.max_duration_s)} limit"
                    )
        except av.error.FFmpegError as exc:
            raise MediaInputError(
                f"the audio data is corrupt or truncated ({ffmpeg_reason(exc)})"
            ) from None
        if not chunks:
            return np.zeros(0, dtype=np.float32)
        return np.ascontiguousarray(np.concatenate(chunks), dtype=np.float32)
    finally:
        container.close()

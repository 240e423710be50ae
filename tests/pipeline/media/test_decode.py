"""Decoding real recordings: every video frame once in order, the audio as 16 kHz mono."""

from __future__ import annotations

import av
import numpy as np
import pytest

from app.pipeline.media.decode import decode_audio, iter_video_frames, resampled
from app.pipeline.options import MediaLimits
from tests.pipeline.factories import CASES, CONTAINERS, media_path, media_truth


@pytest.mark.parametrize(("scenario", "container"), CASES)
def test_decoding_yields_every_frame_once_in_time_order(scenario: str, container: str) -> None:
    times = [
        float(f.time) for f in iter_video_frames(media_path(scenario, container), MediaLimits())
    ]
    truth = media_truth(scenario, container)
    assert abs(len(times) - truth["videoFrames"]) <= 2
    assert times == sorted(times)
    # Variable frame timing survives: the longest still gap is seen as it was recorded.
    assert abs(max(np.diff(times)) - truth["maxFrameGapSeconds"]) < 0.1


@pytest.mark.parametrize(("scenario", "container"), CASES)
def test_audio_is_decoded_to_16k_mono_float(scenario: str, container: str) -> None:
    audio = decode_audio(media_path(scenario, container), MediaLimits())
    truth = media_truth(scenario, container)
    assert audio.dtype == np.float32 and audio.ndim == 1
    assert abs(audio.size / 16000 - truth["audioSeconds"]) < 0.1
    assert 0.01 < float(np.abs(audio).max()) <= 1.0


@pytest.mark.parametrize("container", CONTAINERS)
def test_one_decoder_thread_gives_the_frames_threads_give(container: str) -> None:
    """The engine decodes on one thread on small machines; nothing about the frames may change."""
    path = media_path("login-500", container)

    def frames(threads: int) -> list[tuple[float, int]]:
        return [
            (float(f.time), int(f.to_ndarray(format="gray")[::16, ::16].astype(np.int64).sum()))
            for f in iter_video_frames(path, MediaLimits(), threads)
        ]

    single, threaded = frames(1), frames(0)
    assert abs(len(single) - media_truth("login-500", container)["videoFrames"]) <= 2
    assert single == threaded


@pytest.mark.parametrize("container", CONTAINERS)
def test_audio_resampled_in_batches_equals_frame_by_frame(container: str) -> None:
    """Decoded frames are resampled a second at a time; not one sample may differ."""
    path = media_path("login-500", container)
    resampler = av.AudioResampler(format="flt", layout="mono", rate=16000)
    chunks = []
    with av.open(str(path)) as source:
        for frame in source.decode(source.streams.audio[0]):
            chunks.extend(out.to_ndarray().reshape(-1) for out in resampler.resample(frame))
    chunks.extend(out.to_ndarray().reshape(-1) for out in resampler.resample(None))
    assert np.array_equal(decode_audio(path, MediaLimits()), np.concatenate(chunks))


def test_audio_that_changes_layout_and_rate_part_way_is_resampled_whole() -> None:
    """One resampler takes one kind of input; the stream gets a new one where its kind changes."""

    def frames(layout: str, rate: int, seconds: float) -> list[av.AudioFrame]:
        channels = 2 if layout == "stereo" else 1
        out = []
        for _ in range(int(seconds * rate) // 960):
            tone = np.full((channels, 960), 0.25, dtype=np.float32)
            frame = av.AudioFrame.from_ndarray(tone, format="fltp", layout=layout)
            frame.sample_rate = rate
            out.append(frame)
        return out

    stream = (
        frames("stereo", 48000, 1.5) + frames("mono", 44100, 1.0) + frames("stereo", 48000, 0.5)
    )
    samples = np.concatenate(list(resampled(stream, 16000)))
    expected = (1.5 * 48000 // 960 * 960) / 3 + (44100 // 960 * 960) * 16000 / 44100 + 8000
    assert abs(samples.size - expected) < 200
    # Each part kept its place and level (a stereo tone is down-mixed at -3 dB: 0.25 -> 0.354).
    down_mixed = 0.25 * np.sqrt(0.5) * 2
    assert np.allclose(samples[2000:22000], down_mixed, atol=0.01)
    assert np.allclose(samples[26000:38000], 0.25, atol=0.01)
    assert np.allclose(samples[-6000:-1000], down_mixed, atol=0.01)

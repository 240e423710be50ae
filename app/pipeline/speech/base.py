"""What every speech recogniser offers, and what the recognisers share: the audio they hear
(16 kHz mono float32), what counts as silence, and the segments they return."""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from typing import Protocol

import numpy as np

from app.pipeline.options import MediaLimits
from app.pipeline.progress import ProgressCallback, no_progress
from app.pipeline.types import TranscriptSegment, TranscriptWord

SAMPLE_RATE = 16000
_SILENCE_PEAK = 1e-3  # float samples; below this everywhere there is nothing to hear


class Transcriber(Protocol):
    """Turns a recording's speech into timed segments."""

    name: str

    def transcribe(
        self,
        path: str | os.PathLike[str],
        *,
        vocabulary: Sequence[str] = (),
        progress: ProgressCallback = no_progress,
        limits: MediaLimits | None = None,
    ) -> list[TranscriptSegment]:
        """Return the speech in ``path`` as segments (empty when there is no audio or no speech)."""
        ...


def is_silent(audio: np.ndarray) -> bool:
    """No samples, or none loud enough to hold anything to hear."""
    return audio.size == 0 or float(np.max(np.abs(audio))) < _SILENCE_PEAK


def make_segment(
    start: float, end: float, text: str, words: Iterable[TranscriptWord]
) -> TranscriptSegment:
    """A segment with times rounded to the millisecond and its text stripped."""
    return TranscriptSegment(
        start=round(float(start), 3),
        end=round(float(end), 3),
        text=text.strip(),
        words=tuple(words),
    )

"""Value objects shared by the stages of the analysis engine.

The media stages (probe, decode, keyframes, OCR, transcription) produce these;
the reasoning stages (evidence, signals, descriptions, sections, summary)
consume them. Nothing here knows about HTTP or the database.

Times are always float seconds from the start of the video.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True, kw_only=True, slots=True)
class Box:
    """An axis-aligned rectangle in full-resolution video pixels."""

    x: int
    y: int
    w: int
    h: int


@dataclass(frozen=True, kw_only=True, slots=True)
class ProbeInfo:
    """Facts about the input file, computed from packets (not trusted headers)."""

    container: str
    video_codec: str
    audio_codec: str | None
    width: int
    height: int
    duration: float
    frame_count: int
    has_audio: bool
    variable_frame_rate: bool


@dataclass(frozen=True, kw_only=True, slots=True)
class OcrWord:
    text: str
    box: Box
    confidence: float  # 0..1


@dataclass(frozen=True, kw_only=True, slots=True)
class OcrLine:
    """Words the OCR engine grouped into one line of text."""

    text: str
    box: Box
    confidence: float  # 0..1
    words: tuple[OcrWord, ...] = ()


@dataclass(kw_only=True, slots=True)
class Keyframe:
    """A moment the screen settled into a new state worth looking at."""

    index: int  # position in the keyframe list
    timestamp: float
    reasons: tuple[str, ...]  # e.g. "first", "change", "settled", "click", "error", "last"
    changed_region: Box | None  # region that differs from the previous keyframe
    change_ratio: float  # fraction of the frame that changed (0..1)
    image: np.ndarray  # BGR uint8, full resolution
    lines: list[OcrLine] = field(
        default_factory=list
    )  # filled by OCR (carried forward where unchanged)


@dataclass(frozen=True, kw_only=True, slots=True)
class TranscriptWord:
    start: float
    end: float
    text: str
    probability: float


@dataclass(frozen=True, kw_only=True, slots=True)
class TranscriptSegment:
    start: float
    end: float
    text: str
    words: tuple[TranscriptWord, ...] = ()

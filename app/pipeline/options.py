"""Tunable settings of the media stages.

Every option has a default that suits screen recordings of web pages on a
small CPU-only machine; the orchestrator may override any of them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

OcrEngineName = Literal["auto", "tesseract", "rapidocr", "hybrid"]
TranscribeEngineName = Literal["faster-whisper", "whisperx", "auto"]


def _default_threads() -> int:
    # Leave nothing idle on small machines, but never ask for more than the
    # CPUs this process may actually use (containers restrict affinity).
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - non-Linux
        return max(1, os.cpu_count() or 1)


@dataclass(frozen=True, kw_only=True)
class MediaLimits:
    """Bounds an input must respect; exceeding one is the input's fault."""

    max_duration_s: float = 4 * 3600
    max_pixels: int = 3840 * 2160
    max_file_bytes: int = 4 * 1024**3
    # Decoding a recording should take a small fraction of its length; a file
    # that takes longer than this is treated as hostile or broken.
    wall_time_budget_s: float = 1800.0
    containers: tuple[str, ...] = ("matroska", "webm", "mov", "mp4")
    """Accepted demuxers (any of FFmpeg's comma-separated format names)."""


@dataclass(frozen=True, kw_only=True)
class KeyframeOptions:
    """How the change detector picks keyframes."""

    max_keyframes: int = 48
    max_image_bytes: int = 384 * 1024**2
    """Also cap the keyframes' full-resolution images to this much memory (4K frames are 25 MB)."""
    settle_s: float = 0.5
    """The screen must hold still this long before a change becomes a keyframe."""
    max_unsettled_s: float = 4.0
    """Take a keyframe anyway when the screen keeps moving this long (video, animation)."""
    small_width: int = 320
    """Width of the greyscale copy the detector compares (area-averaged)."""
    pixel_threshold: int = 18
    """Grey-level difference (0..255) that counts a small pixel as changed."""
    cursor_px: int = 40
    """Changed blobs no larger than this (full-resolution px, both sides) are ignored."""
    min_change_ratio: float = 0.0004
    """Fraction of the small frame that must change (after ignoring blobs)."""
    click_delay_s: float = 0.6
    """A click's effect is looked at this long after the click."""
    error_offsets_s: tuple[float, ...] = (0.3, 1.2)
    """Moments after an error at which the screen is looked at."""
    region_margin_px: int = 12
    """Padding added around a changed region (full-resolution px)."""
    progress_every_s: float = 2.0
    """Report progress every this many seconds of video."""
    decode_threads: int = 1 if _default_threads() <= 2 else 0
    """Decoder threads; 0 lets FFmpeg choose. On 2 CPUs transcription and OCR keep both busy
    while the keyframe pass decodes, and frame threading only adds work (docs/performance.md)."""


@dataclass(frozen=True, kw_only=True)
class OcrOptions:
    """Which OCR engine to use and how."""

    engine: OcrEngineName = "auto"
    language: str = "eng"
    tessdata_path: str | None = None
    """Directory holding ``<language>.traineddata``; None finds the installed tessdata package."""
    min_confidence: float = 0.4
    """Lines below this confidence (0..1) are dropped."""
    recheck_confidence: float = 0.6
    """In the hybrid engine, regions with a word below this are re-read by the accurate engine."""
    upscale_below_px: int = 24
    """Regions shorter than this are upscaled before recognition (small print)."""
    rapidocr_max_side: int = 1280
    """Longest side rapidocr's text detector sees (``Det.limit_side_len``)."""
    threads: int = 1
    """Intra-op threads of the neural OCR engine."""
    workers: int = _default_threads()
    """Regions read in parallel (one Tesseract instance each); OCR overlaps transcription
    at first, then has the CPUs to itself."""


@dataclass(frozen=True, kw_only=True)
class TranscribeOptions:
    """Which speech recogniser to use and how."""

    engine: TranscribeEngineName = "faster-whisper"
    model_dir: str | None = None
    """A CTranslate2 Whisper model directory; None uses the bundled tiny.en."""
    model_size: str = "tiny.en"
    device: str = "cpu"
    compute_type: str = "int8"
    cpu_threads: int = max(1, _default_threads() // 2)
    """Whisper's threads: half the CPUs, since decoding and OCR run beside it; on 2 cores two
    threads waiting on each other cost more than they gain (docs/performance.md)."""
    vad: bool = True
    language: str | None = "en"
    beam_size: int = 5
    word_timestamps: bool = True
    use_vocabulary: bool = True
    """Feed the screen's words to the recogniser as its initial prompt."""
    max_vocabulary_words: int = 60
    temperatures: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6)
    """Fallback temperatures: a window whose text repeats itself is decoded again hotter."""
    split_gap_s: float = 0.8
    """A pause this long between words starts a new segment."""
    drop_logprob: float = -1.0
    drop_no_speech: float = 0.3
    """Segments below ``drop_logprob`` that Whisper also rates above ``drop_no_speech``
    as non-speech are hallucinations (typically "..." after the last words)."""
    batch_size: int = 16
    """WhisperX batch size."""

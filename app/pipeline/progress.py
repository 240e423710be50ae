"""Progress of an analysis: its stages, each stage's share of the whole, one overall value.

Every stage reports how far it is through its own work, as ``(stage, fraction, message)``.
Whoever shows a single number for the whole analysis (the service's live progress, the command
line's bar) turns those fractions into one with :class:`OverallProgress`.
"""

from __future__ import annotations

import time
from collections.abc import Callable

STAGES: tuple[str, ...] = (
    "probe",
    "decode",
    "keyframes",
    "ocr",
    "transcribe",
    "describe",
    "fuse",
    "summarize",
)

STAGE_WEIGHTS: dict[str, float] = {
    "probe": 0.02,
    "decode": 0.20,
    "keyframes": 0.20,
    "ocr": 0.15,
    "transcribe": 0.20,
    "describe": 0.05,
    "fuse": 0.08,
    "summarize": 0.10,
}
"""How much of the whole each stage is; transcription overlaps decoding, so the sum is by
weight, not by wall time."""

ProgressCallback = Callable[[str, float, str], None]
"""``(stage, fraction 0..1, message)``; stage is one of :data:`STAGES`."""


def no_progress(stage: str, fraction: float, message: str) -> None:
    """A progress callback that ignores everything."""


class OverallProgress:
    """Turns per-stage fractions into one number over the whole analysis that never goes back."""

    def __init__(self) -> None:
        self._stages: dict[str, float] = {}
        self.value = 0.0

    def update(self, stage: str, fraction: float) -> float:
        """Note that ``stage`` is ``fraction`` (0..1) done; return the overall value."""
        self._stages[stage] = max(self._stages.get(stage, 0.0), min(1.0, max(0.0, fraction)))
        total = sum(STAGE_WEIGHTS.get(s, 0.0) * f for s, f in self._stages.items())
        # Below 1 until the results are saved: only the analysis's end may report 1.0.
        self.value = max(self.value, min(0.99, total))
        return self.value


class RemainingTime:
    """About how long an analysis still needs, from its overall progress and the time so far.

    The naive estimate, ``elapsed × (1 − p) / p``, swings with every stage whose weight is not
    its share of the time (transcription overlaps decoding; OCR waits for keyframes). Readers
    want a countdown: so an estimate is reported only once enough is done to say (``min_progress``
    and ``min_seconds``), and from then on it never grows — each new one is at most the last one
    less the time since, and moves only half-way towards a shorter naive estimate (a smoothing
    that keeps one quick stage from halving it). Near the end it holds at ``floor_seconds``
    rather than claim the analysis is done before it is.
    """

    def __init__(
        self,
        *,
        min_progress: float = 0.05,
        min_seconds: float = 1.0,
        floor_seconds: float = 1.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._clock = clock
        self._start = clock()
        self._min_progress = min_progress
        self._min_seconds = min_seconds
        self._floor = floor_seconds
        self._last: tuple[float, float] | None = None  # (when, what was reported)

    def update(self, progress: float) -> float | None:
        """The estimate in seconds at ``progress`` (0..1) now; None while unknown."""
        now = self._clock()
        elapsed = now - self._start
        if self._last is None and (progress < self._min_progress or elapsed < self._min_seconds):
            return None
        naive = elapsed * (1.0 - progress) / max(progress, 1e-6)
        if self._last is None:
            value = naive
        else:
            when, reported = self._last
            ceiling = reported - (now - when)
            value = ceiling if naive >= ceiling else ceiling - (ceiling - naive) / 2
        value = max(self._floor, value)
        if self._last is not None:
            value = min(value, self._last[1])
        self._last = (now, value)
        return value

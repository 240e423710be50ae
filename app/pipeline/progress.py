"""Progress of an analysis: its stages, each stage's share of the whole, one overall value.

Every stage reports how far it is through its own work, as ``(stage, fraction, message)``.
Whoever shows a single number for the whole analysis (the service's live progress, the command
line's bar) turns those fractions into one with :class:`OverallProgress`.
"""

from __future__ import annotations

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

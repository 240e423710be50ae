"""Errors raised by the analysis engine.

PipelineError
 ├── MediaInputError   the input is not an analysable video (bad, truncated, over a bound)
 └── StageError        a stage failed for a reason that is not the input's fault
"""

from __future__ import annotations


class PipelineError(Exception):
    """Base of every error the engine raises on purpose."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class MediaInputError(PipelineError):
    """The input cannot be analysed; ``reason`` says why in plain words."""


class StageError(PipelineError):
    """A stage failed for an internal reason (a model missing, a time budget exceeded)."""

"""The engine's output: everything an analysis produced, in its process.

:class:`AnalysisResult` holds the stage values, with the keyframes' images for whoever stores
thumbnails; :meth:`AnalysisResult.document` turns it, once, into the typed result
(:mod:`app.pipeline.documents`) that the rest of the service works with.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from app.pipeline.capture import Capture
from app.pipeline.documents import (
    AnalysisDocument,
    ResultEvidence,
    ResultFinding,
    ResultFrame,
    ResultProbe,
    ResultSection,
    ResultSummary,
    ResultTranscriptSegment,
)
from app.pipeline.reasoning.describe import FrameDescription
from app.pipeline.reasoning.evidence import EvidenceTable
from app.pipeline.reasoning.findings import Finding
from app.pipeline.reasoning.sections import Section
from app.pipeline.reasoning.signals import Signal
from app.pipeline.reasoning.summary import Summary
from app.pipeline.types import Keyframe, ProbeInfo, TranscriptSegment


@dataclass(frozen=True, kw_only=True)
class AnalysisResult:
    """One analysed recording, as the engine's stages left it.

    The keyframes (with their BGR images) stay on the object for whoever stores thumbnails;
    they are not part of the document. ``timings`` holds wall seconds per stage: "keyframes"
    includes decoding (one pass does both), "transcribe" ran concurrently with decoding and OCR,
    and "total" is the whole analysis.
    """

    probe: ProbeInfo
    capture: Capture
    keyframes: Sequence[Keyframe]
    frames: Sequence[FrameDescription]
    transcript: Sequence[TranscriptSegment]
    evidence: EvidenceTable
    signals: Sequence[Signal]
    findings: Sequence[Finding]
    sections: Sequence[Section]
    summary: Summary
    timings: dict[str, float] = field(default_factory=dict)

    def keyframe_images(self) -> list[tuple[float, Any]]:
        """``(timestamp, BGR uint8 image)`` for every keyframe, oldest first."""
        return [(kf.timestamp, kf.image) for kf in self.keyframes]

    def document(self) -> AnalysisDocument:
        """The typed result (seconds from video start, rounded to milliseconds)."""
        by_index = {kf.index: kf for kf in self.keyframes}
        frames = []
        for frame in self.frames:
            keyframe = by_index.get(frame.keyframe_index)
            lines = keyframe.lines if keyframe is not None else []
            text = "\n".join(
                line.text for line in sorted(lines, key=lambda ln: (ln.box.y, ln.box.x))
            )
            frames.append(
                ResultFrame(timestamp=round(frame.timestamp, 3), description=frame.text, text=text)
            )
        return AnalysisDocument(
            recording=ResultProbe.of(self.probe),
            sections=[ResultSection.of(s) for s in self.sections],
            summary=ResultSummary.of(self.summary),
            findings=[ResultFinding.of(f) for f in self.findings],
            frames=frames,
            transcript=[ResultTranscriptSegment.of(s) for s in self.transcript],
            evidence=[ResultEvidence.of(e) for e in self.evidence],
            timings={k: round(v, 3) for k, v in self.timings.items()},
        )

    def to_dict(self) -> dict[str, Any]:
        """The document's JSON form (camelCase keys)."""
        return self.document().json_dict()

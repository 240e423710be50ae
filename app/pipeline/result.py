"""The engine's output: everything an analysis produced, and its JSON form."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from app.pipeline.capture import Capture
from app.pipeline.reasoning.describe import FrameDescription
from app.pipeline.reasoning.evidence import EvidenceTable
from app.pipeline.reasoning.findings import Finding
from app.pipeline.reasoning.sections import Section
from app.pipeline.reasoning.signals import Signal
from app.pipeline.reasoning.summary import Summary
from app.pipeline.types import Keyframe, ProbeInfo, TranscriptSegment


@dataclass(frozen=True, kw_only=True)
class AnalysisResult:
    """One analysed recording.

    ``to_dict()`` is the stored/served JSON. The keyframes (with their BGR
    images) stay on the object for whoever stores thumbnails; they are not
    part of the JSON. ``timings`` holds wall seconds per stage: "keyframes"
    includes decoding (one pass does both), "transcribe" ran concurrently with
    decoding and OCR, and "total" is the whole analysis.
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

    def to_dict(self) -> dict[str, Any]:
        """The documented JSON shape (camelCase keys, seconds from video start)."""
        by_index = {kf.index: kf for kf in self.keyframes}
        frames = []
        for frame in self.frames:
            keyframe = by_index.get(frame.keyframe_index)
            lines = keyframe.lines if keyframe is not None else []
            frames.append(
                {
                    "timestamp": round(frame.timestamp, 3),
                    "description": frame.text,
                    "text": "\n".join(
                        line.text for line in sorted(lines, key=lambda ln: (ln.box.y, ln.box.x))
                    ),
                }
            )
        p = self.probe
        return {
            "recording": {
                "container": p.container,
                "videoCodec": p.video_codec,
                "audioCodec": p.audio_codec,
                "width": p.width,
                "height": p.height,
                "duration": round(p.duration, 3),
                "frameCount": p.frame_count,
                "hasAudio": p.has_audio,
                "variableFrameRate": p.variable_frame_rate,
            },
            "sections": [s.to_dict() for s in self.sections],
            "summary": self.summary.to_dict(),
            "findings": [f.to_dict() for f in self.findings],
            "frames": frames,
            "transcript": [
                {
                    "start": round(float(s.start), 3),
                    "end": round(float(s.end), 3),
                    "text": " ".join(s.text.split()),
                }
                for s in self.transcript
            ],
            "evidence": [e.to_dict() for e in self.evidence],
            "timings": {k: round(v, 3) for k, v in self.timings.items()},
        }

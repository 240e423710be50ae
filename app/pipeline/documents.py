"""The typed result of an analysis: what the service keeps of what the engine produced.

Pydantic models for the sections and their citations, the frames, the transcript, the findings,
the evidence and the summary, built once from the engine's stage values
(:meth:`app.pipeline.result.AnalysisResult.document`). The typed result is what crosses from the
engine's process to the worker, what the repository saves and reads back, what REST serialises
(camelCase: the JSON shape documented in docs/analysis-result.md) and what GraphQL's types map;
the OpenAPI document describes it from the same models. This module imports nothing of the
engine, so the API reads results without loading it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, model_serializer
from pydantic.alias_generators import to_camel

if TYPE_CHECKING:
    from app.pipeline.reasoning.evidence import Evidence
    from app.pipeline.reasoning.findings import Finding
    from app.pipeline.reasoning.sections import Citation, Section
    from app.pipeline.reasoning.summary import Summary
    from app.pipeline.types import ProbeInfo, TranscriptSegment


# The vocabularies of the result: the JSON's values, the OpenAPI document's enums and GraphQL's.
FindingKind = Literal[
    "console_error",
    "contradiction",
    "dead_click",
    "error_click",
    "network_error",
    "rage_click",
    "screen_error",
    "slow_request",
    "user_problem",
    "user_reported",
]
Severity = Literal["high", "medium", "low"]
Confidence = Literal["high", "medium", "low"]
CitationType = Literal[
    "console_error",
    "network_error",
    "slow_request",
    "user_action",
    "transcript",
    "ocr_text",
    "visual_change",
    "rage_click",
    "dead_click",
]
EvidenceType = Literal["action", "console", "network", "speech", "ocr", "visual"]


class ResultModel(BaseModel):
    """A part of the typed result: camelCase in JSON, snake_case in Python, immutable."""

    model_config = ConfigDict(
        frozen=True, alias_generator=to_camel, populate_by_name=True, extra="ignore"
    )

    def json_dict(self) -> dict[str, Any]:
        """The documented JSON form."""
        return self.model_dump(mode="json", by_alias=True)


class ResultProbe(ResultModel):
    """Facts about the video, computed from its packets."""

    container: str
    video_codec: str
    audio_codec: str | None
    width: int
    height: int
    duration: float
    frame_count: int
    has_audio: bool
    variable_frame_rate: bool

    @classmethod
    def of(cls, probe: ProbeInfo) -> ResultProbe:
        return cls(
            container=probe.container,
            video_codec=probe.video_codec,
            audio_codec=probe.audio_codec,
            width=probe.width,
            height=probe.height,
            duration=round(probe.duration, 3),
            frame_count=probe.frame_count,
            has_audio=probe.has_audio,
            variable_frame_rate=probe.variable_frame_rate,
        )


class ResultCitation(ResultModel):
    """A section's pointer at one piece of evidence."""

    type: CitationType
    timestamp: float
    evidence_id: str
    detail: str

    @classmethod
    def of(cls, citation: Citation) -> ResultCitation:
        return cls(
            type=citation.type,
            timestamp=round(citation.time, 3),
            evidence_id=citation.evidence_id,
            detail=citation.detail,
        )


class ResultSection(ResultModel):
    """A stretch of the recording, titled and described, citing its evidence."""

    title: str
    timestamp: float
    end_timestamp: float
    description: str
    citations: list[ResultCitation]

    @classmethod
    def of(cls, section: Section) -> ResultSection:
        return cls(
            title=section.title,
            timestamp=round(section.start, 3),
            end_timestamp=round(section.end, 3),
            description=section.description,
            citations=[ResultCitation.of(c) for c in section.citations],
        )


class ResultFrame(ResultModel):
    """A described keyframe: what the screen showed, and the text read on it."""

    timestamp: float
    description: str
    text: str


class ResultTranscriptSegment(ResultModel):
    """One sentence the user said."""

    start: float
    end: float
    text: str

    @classmethod
    def of(cls, segment: TranscriptSegment) -> ResultTranscriptSegment:
        return cls(
            start=round(float(segment.start), 3),
            end=round(float(segment.end), 3),
            text=" ".join(segment.text.split()),
        )


class ResultFinding(ResultModel):
    """One problem the analysis found, with the evidence behind it."""

    kind: FindingKind
    severity: Severity
    timestamp: float
    confidence: Confidence
    evidence_ids: list[str]
    title: str

    @classmethod
    def of(cls, finding: Finding) -> ResultFinding:
        return cls(
            kind=finding.kind,
            severity=finding.severity,
            timestamp=round(float(finding.time), 3),
            confidence=finding.confidence,
            evidence_ids=list(finding.evidence_ids),
            title=finding.title,
        )


class ResultEvidence(ResultModel):
    """One citable observation: an action, a console line, a request, a spoken sentence, a line
    of on-screen text, a visual change."""

    id: str
    type: EvidenceType
    timestamp: float
    end_timestamp: float | None = None
    detail: str
    data: dict[str, Any]

    @model_serializer(mode="wrap")
    def _without_open_end(self, handler: Any) -> dict[str, Any]:
        out: dict[str, Any] = handler(self)
        # An observation of an instant has no end: the key is left out rather than null.
        for key in ("endTimestamp", "end_timestamp"):
            if out.get(key, 0) is None:
                del out[key]
        return out

    @classmethod
    def of(cls, evidence: Evidence) -> ResultEvidence:
        return cls(
            id=evidence.id,
            type=evidence.type,
            timestamp=round(float(evidence.time), 3),
            end_timestamp=None if evidence.end is None else round(float(evidence.end), 3),
            detail=evidence.detail,
            data=dict(evidence.data),
        )


class ResultSummary(ResultModel):
    """What happened, in a few sentences, and the key findings' titles."""

    summary: str
    key_findings: list[str]

    @classmethod
    def of(cls, summary: Summary) -> ResultSummary:
        return cls(summary=summary.summary, key_findings=list(summary.key_findings))


class AnalysisDocument(ResultModel):
    """The typed result of one analysis (its JSON form is documented in docs/analysis-result.md)."""

    recording: ResultProbe
    sections: list[ResultSection]
    summary: ResultSummary
    findings: list[ResultFinding]
    frames: list[ResultFrame]
    transcript: list[ResultTranscriptSegment]
    evidence: list[ResultEvidence]
    timings: dict[str, float]

"""The REST documents of the analysis routes: the typed result, as the contract serves it."""

from __future__ import annotations

from typing import Literal

from app.pipeline.documents import (
    ResultFinding,
    ResultFrame,
    ResultModel,
    ResultProbe,
    ResultSection,
    ResultTranscriptSegment,
)


class AnalysisStarted(ResultModel):
    """``POST /:id/analyze``: the analysis is queued or already running."""

    status: Literal["analyzing"] = "analyzing"
    job_id: str


class FrameDocument(ResultFrame):
    """A described keyframe, with a short-lived URL of its thumbnail."""

    thumbnail_url: str | None


class AnalysisResponse(ResultModel):
    """``GET /:id/analysis``: the sections of the contract, and (additive) everything else the
    analysis produced."""

    sections: list[ResultSection]
    job_id: str
    status: str
    recording: ResultProbe | None
    frames: list[FrameDocument]
    transcript: list[ResultTranscriptSegment]
    findings: list[ResultFinding]
    timings: dict[str, float] | None


class SummaryResponse(ResultModel):
    """``GET /:id/summary``: the summary and key findings of the contract, and (additive) the
    findings themselves."""

    summary: str
    key_findings: list[str]
    findings: list[ResultFinding]
    job_id: str

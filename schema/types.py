"""GraphQL types: thin views over the domain's rows."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from app.analysis.events import AnalysisProgress
from app.analysis.models import Analysis as AnalysisRow
from app.analysis.repository import StoredFrame, summary_of
from app.pipeline.documents import (
    ResultCitation,
    ResultFinding,
    ResultSection,
    ResultSummary,
    ResultTranscriptSegment,
)
from app.recordings.models import Recording as RecordingRow
from schema.context import Context

Ctx = Info[Context, None]


@strawberry.type
class Citation:
    type: str
    timestamp: float
    evidence_id: str | None
    detail: str | None

    @staticmethod
    def of(citation: ResultCitation) -> Citation:
        return Citation(
            type=citation.type,
            timestamp=citation.timestamp,
            evidence_id=citation.evidence_id,
            detail=citation.detail,
        )


@strawberry.type
class Section:
    title: str
    timestamp: float
    end_timestamp: float
    description: str
    citations: list[Citation]

    @staticmethod
    def of(section: ResultSection) -> Section:
        return Section(
            title=section.title,
            timestamp=section.timestamp,
            end_timestamp=section.end_timestamp,
            description=section.description,
            citations=[Citation.of(c) for c in section.citations],
        )


@strawberry.type
class Frame:
    timestamp: float
    description: str
    text: str
    thumbnail_key: strawberry.Private[str | None]

    @strawberry.field
    async def thumbnail_url(self, info: Ctx) -> str | None:
        return await info.context.services.analysis.thumbnail_url(self.thumbnail_key)

    @staticmethod
    def of(stored: StoredFrame) -> Frame:
        frame = stored.frame
        return Frame(
            timestamp=frame.timestamp,
            description=frame.description,
            text=frame.text,
            thumbnail_key=stored.thumbnail_key,
        )


@strawberry.type
class TranscriptSegment:
    start: float
    end: float
    text: str

    @staticmethod
    def of(segment: ResultTranscriptSegment) -> TranscriptSegment:
        return TranscriptSegment(start=segment.start, end=segment.end, text=segment.text)


@strawberry.type
class Finding:
    kind: str | None
    title: str | None
    severity: str | None
    timestamp: float | None
    confidence: str | None
    evidence_ids: list[str]
    data: JSON = strawberry.field(description="The finding as REST serves it.")

    @staticmethod
    def of(finding: ResultFinding) -> Finding:
        return Finding(
            kind=finding.kind,
            title=finding.title,
            severity=finding.severity,
            timestamp=finding.timestamp,
            confidence=finding.confidence,
            evidence_ids=list(finding.evidence_ids),
            data=JSON(finding.json_dict()),
        )


@strawberry.type
class Summary:
    summary: str
    key_findings: list[str]

    @staticmethod
    def of(summary: ResultSummary) -> Summary:
        return Summary(summary=summary.summary, key_findings=list(summary.key_findings))


@strawberry.type
class Analysis:
    job_id: strawberry.ID
    status: str
    stage: str | None
    progress: float
    error: str | None
    attempts: int
    created_at: datetime
    finished_at: datetime | None
    timings: JSON | None

    @strawberry.field
    async def sections(self, info: Ctx) -> list[Section]:
        return [Section.of(s) for s in await info.context.loaders.sections.load(str(self.job_id))]

    @strawberry.field
    async def frames(self, info: Ctx) -> list[Frame]:
        return [Frame.of(f) for f in await info.context.loaders.frames.load(str(self.job_id))]

    @strawberry.field
    async def transcript(self, info: Ctx) -> list[TranscriptSegment]:
        return [
            TranscriptSegment.of(t)
            for t in await info.context.loaders.transcript.load(str(self.job_id))
        ]

    @strawberry.field
    async def findings(self, info: Ctx) -> list[Finding]:
        return [Finding.of(f) for f in await info.context.loaders.findings.load(str(self.job_id))]

    @staticmethod
    def of(row: AnalysisRow) -> Analysis:
        return Analysis(
            job_id=strawberry.ID(row.id),
            status=row.status,
            stage=row.stage,
            progress=1.0 if row.status == "analyzed" else row.progress,
            error=row.error,
            attempts=row.attempts,
            created_at=row.created_at,
            finished_at=row.finished_at,
            timings=JSON(row.timings) if row.timings is not None else None,
        )


@strawberry.type
class Recording:
    id: strawberry.ID
    status: str
    video_upload_status: str
    created_at: datetime
    duration: float | None
    metadata: JSON
    row: strawberry.Private[RecordingRow]

    @strawberry.field
    def intent(self) -> str | None:
        value = self.row.metadata.get("intent") if isinstance(self.row.metadata, dict) else None
        return value if isinstance(value, str) else None

    @strawberry.field
    def visited_urls(self) -> list[str]:
        urls = (
            self.row.metadata.get("visitedUrls", []) if isinstance(self.row.metadata, dict) else []
        )
        return [u for u in urls if isinstance(u, str)]

    @strawberry.field
    async def console_logs(self, info: Ctx) -> JSON:
        capture = await info.context.loaders.capture.load(self.row.id)
        state = (
            capture.browser_state
            if capture is not None and isinstance(capture.browser_state, dict)
            else {}
        )
        return JSON(state.get("consoleLogs", []))

    @strawberry.field
    async def network_requests(self, info: Ctx) -> JSON:
        capture = await info.context.loaders.capture.load(self.row.id)
        state = (
            capture.browser_state
            if capture is not None and isinstance(capture.browser_state, dict)
            else {}
        )
        return JSON(state.get("networkRequests", []))

    @strawberry.field
    async def video_url(self, info: Ctx) -> str | None:
        return await info.context.services.recordings.stored_video_url(self.row)

    @strawberry.field(
        description="The latest analysis (running or finished); null if never analysed."
    )
    async def analysis(self, info: Ctx) -> Analysis | None:
        row = await info.context.loaders.latest_analysis.load(self.row.id)
        return Analysis.of(row) if row is not None else None

    @strawberry.field(
        description="The last finished analysis, as REST /analysis serves it: it stays "
        "readable while a re-analysis runs and is replaced when the new one commits; null before "
        "any has finished."
    )
    async def current_analysis(self, info: Ctx) -> Analysis | None:
        if self.row.current_analysis_id is None:
            return None
        row = await info.context.loaders.analysis.load(self.row.current_analysis_id)
        return Analysis.of(row) if row is not None else None

    @strawberry.field(description="The summary of the last finished analysis.")
    async def summary(self, info: Ctx) -> Summary | None:
        if self.row.current_analysis_id is None:
            return None
        row = await info.context.loaders.analysis.load(self.row.current_analysis_id)
        summary = summary_of(row) if row is not None else None
        return Summary.of(summary) if summary is not None else None

    @staticmethod
    def of(row: RecordingRow) -> Recording:
        return Recording(
            id=strawberry.ID(str(row.id)),
            status=row.status,
            video_upload_status=row.video_upload_status,
            created_at=row.created_at,
            duration=row.duration,
            metadata=JSON(row.metadata),
            row=row,
        )


@strawberry.type
class PageInfo:
    has_next_page: bool
    end_cursor: str | None


@strawberry.type
class RecordingEdge:
    cursor: str
    node: Recording


@strawberry.type
class RecordingConnection:
    edges: list[RecordingEdge]
    page_info: PageInfo


@strawberry.type
class AnalysisProgressEvent:
    # Plain data, the same for whoever asks: one execution serves every subscriber.
    __shared_event__ = True

    recording_id: strawberry.ID
    job_id: str
    status: str
    stage: str | None
    progress: float
    message: str | None

    @staticmethod
    def of(event: AnalysisProgress) -> AnalysisProgressEvent:
        return AnalysisProgressEvent(
            recording_id=strawberry.ID(event.recording_id),
            job_id=event.job_id,
            status=event.status,
            stage=event.stage,
            progress=event.progress,
            message=event.message,
        )


# Expected failures, as types in the schema.
@strawberry.type
class NotFoundError:
    message: str


@strawberry.type
class ConflictError:
    message: str
    code: str
    reason: str | None = None


@strawberry.type
class InvalidInputError:
    message: str
    field: str | None
    details: JSON | None = None


@strawberry.type
class UnauthenticatedError:
    message: str


@strawberry.type
class CreateRecordingPayload:
    recording: Recording
    upload_token: str
    upload_url: str | None
    presigned_content_type: str | None


@strawberry.type
class AnalyzeRecordingPayload:
    recording_id: strawberry.ID
    job_id: str
    status: str


@strawberry.type
class ClaimRecordingPayload:
    recording: Recording
    user_id: str


@strawberry.type
class DeleteRecordingPayload:
    recording_id: strawberry.ID


CreateRecordingResult = Annotated[
    CreateRecordingPayload | InvalidInputError | UnauthenticatedError,
    strawberry.union("CreateRecordingResult"),
]
AnalyzeRecordingResult = Annotated[
    AnalyzeRecordingPayload | NotFoundError | ConflictError | UnauthenticatedError,
    strawberry.union("AnalyzeRecordingResult"),
]
ClaimRecordingResult = Annotated[
    ClaimRecordingPayload | NotFoundError | ConflictError | UnauthenticatedError,
    strawberry.union("ClaimRecordingResult"),
]
DeleteRecordingResult = Annotated[
    DeleteRecordingPayload | NotFoundError | UnauthenticatedError,
    strawberry.union("DeleteRecordingResult"),
]

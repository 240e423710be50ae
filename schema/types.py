"""GraphQL types: thin views over the domain's rows."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

import strawberry
from strawberry.scalars import JSON
from strawberry.types import Info

from app.analysis.events import AnalysisProgress
from app.analysis.models import Analysis as AnalysisRow
from app.analysis.repository import StoredFrame, probe_of, summary_of
from app.auth import Caller
from app.pipeline.documents import (
    ResultCitation,
    ResultEvidence,
    ResultFinding,
    ResultSection,
    ResultSummary,
    ResultTranscriptSegment,
)
from app.recordings.models import Recording as RecordingRow
from schema import enums
from schema.context import Context
from schema.enums import (
    AnalysisStatus,
    CitationType,
    Confidence,
    EvidenceType,
    FindingKind,
    RecordingStatus,
    Severity,
    Stage,
    UploadStatus,
)

Ctx = Info[Context, None]


@strawberry.type(description="A box on the screen, in the video's pixels.")
class Box:
    x: int
    y: int
    width: int
    height: int

    @staticmethod
    def of(box: object) -> Box | None:
        if not isinstance(box, dict):
            return None
        try:
            return Box(x=int(box["x"]), y=int(box["y"]), width=int(box["w"]), height=int(box["h"]))
        except (KeyError, TypeError, ValueError):
            return None


@strawberry.type(description="The request a piece of network evidence is.")
class RequestEvidence:
    method: str | None
    url: str | None
    status: int | None = strawberry.field(description="Null or 0: no response arrived.")
    duration_ms: float | None
    resource_type: str | None
    status_text: str | None


@strawberry.type(description="The console message a piece of evidence is.")
class ConsoleEvidence:
    level: str
    message: str
    url: str | None
    line: int | None


@strawberry.type(description="The user action a piece of evidence is.")
class ActionEvidence:
    action: str
    selector: str | None
    text: str | None
    url: str | None
    x: float | None
    y: float | None


@strawberry.type(description="The spoken sentence a piece of evidence is.")
class SpeechEvidence:
    text: str


@strawberry.type(description="A line of text read on the screen, with where it was.")
class ScreenTextEvidence:
    text: str
    confidence: float | None
    box: Box | None
    error_styled: bool


def _text(value: object) -> str | None:
    return value if isinstance(value, str) else None


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None


@strawberry.type(description="One citable observation, with what it came from.")
class Evidence:
    id: strawberry.ID
    type: EvidenceType
    timestamp: float
    end_timestamp: float | None
    text: str = strawberry.field(description="What it shows, in a line.")
    data: JSON = strawberry.field(description="The observation as REST serves it.")
    item: strawberry.Private[ResultEvidence]
    analysis_id: strawberry.Private[str]

    @strawberry.field(description="The request, for network evidence.")
    def request(self) -> RequestEvidence | None:
        if self.item.type != "network":
            return None
        d = self.item.data
        status = d.get("status")
        return RequestEvidence(
            method=_text(d.get("method")),
            url=_text(d.get("url")),
            status=status if isinstance(status, int) else None,
            duration_ms=_number(d.get("durationMs")),
            resource_type=_text(d.get("resourceType")),
            status_text=_text(d.get("statusText")),
        )

    @strawberry.field(description="The console message, for console evidence.")
    def console(self) -> ConsoleEvidence | None:
        if self.item.type != "console":
            return None
        d = self.item.data
        line = d.get("line")
        return ConsoleEvidence(
            level=str(d.get("level", "")),
            message=str(d.get("message", "")),
            url=_text(d.get("url")),
            line=line if isinstance(line, int) else None,
        )

    @strawberry.field(description="The action, for action evidence.")
    def action(self) -> ActionEvidence | None:
        if self.item.type != "action":
            return None
        d = self.item.data
        return ActionEvidence(
            action=str(d.get("action", "")),
            selector=_text(d.get("selector")),
            text=_text(d.get("text")),
            url=_text(d.get("url")),
            x=_number(d.get("x")),
            y=_number(d.get("y")),
        )

    @strawberry.field(description="The sentence, for speech evidence.")
    def speech(self) -> SpeechEvidence | None:
        if self.item.type != "speech":
            return None
        return SpeechEvidence(text=str(self.item.data.get("text", "")))

    @strawberry.field(description="The line of text and its box, for on-screen text evidence.")
    def screen_text(self) -> ScreenTextEvidence | None:
        if self.item.type != "ocr":
            return None
        d = self.item.data
        return ScreenTextEvidence(
            text=str(d.get("text", "")),
            confidence=_number(d.get("confidence")),
            box=Box.of(d.get("box")),
            error_styled=bool(d.get("errorStyled")),
        )

    @strawberry.field(description="The keyframe it was seen on, for on-screen and visual evidence.")
    async def frame(self, info: Ctx) -> Frame | None:
        if self.item.type not in ("ocr", "visual"):
            return None
        for stored in await info.context.loaders.frames.load(self.analysis_id):
            if abs(stored.frame.timestamp - self.item.timestamp) < 0.002:
                return Frame.of(stored)
        return None

    @staticmethod
    def of(item: ResultEvidence, analysis_id: str) -> Evidence:
        return Evidence(
            id=strawberry.ID(item.id),
            type=enums.of(EvidenceType, item.type),
            timestamp=item.timestamp,
            end_timestamp=item.end_timestamp,
            text=item.detail,
            data=JSON(item.json_dict()["data"]),
            item=item,
            analysis_id=analysis_id,
        )


async def _evidence(info: Ctx, analysis_id: str, ids: list[str]) -> list[Evidence]:
    """The evidence of these ids, in their order (one query per batch of analyses)."""
    table = await info.context.loaders.evidence.load(analysis_id)
    return [Evidence.of(table[i], analysis_id) for i in ids if i in table]


@strawberry.type
class Citation:
    type: CitationType
    timestamp: float
    evidence_id: str | None
    detail: str | None
    analysis_id: strawberry.Private[str]

    @strawberry.field(description="The evidence cited.")
    async def evidence(self, info: Ctx) -> Evidence | None:
        if self.evidence_id is None:
            return None
        found = await _evidence(info, self.analysis_id, [self.evidence_id])
        return found[0] if found else None

    @staticmethod
    def of(citation: ResultCitation, analysis_id: str) -> Citation:
        return Citation(
            type=enums.of(CitationType, citation.type),
            timestamp=citation.timestamp,
            evidence_id=citation.evidence_id,
            detail=citation.detail,
            analysis_id=analysis_id,
        )


@strawberry.type
class Section:
    title: str
    timestamp: float
    end_timestamp: float
    description: str
    citations: list[Citation]

    @staticmethod
    def of(section: ResultSection, analysis_id: str) -> Section:
        return Section(
            title=section.title,
            timestamp=section.timestamp,
            end_timestamp=section.end_timestamp,
            description=section.description,
            citations=[Citation.of(c, analysis_id) for c in section.citations],
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
    kind: FindingKind
    title: str
    severity: Severity
    timestamp: float
    confidence: Confidence
    evidence_ids: list[str]
    data: JSON = strawberry.field(description="The finding as REST serves it.")
    analysis_id: strawberry.Private[str]

    @strawberry.field(description="The evidence behind the finding, in the order it cites it.")
    async def evidence(self, info: Ctx) -> list[Evidence]:
        return await _evidence(info, self.analysis_id, self.evidence_ids)

    @staticmethod
    def of(finding: ResultFinding, analysis_id: str) -> Finding:
        return Finding(
            kind=enums.of(FindingKind, finding.kind),
            title=finding.title,
            severity=enums.of(Severity, finding.severity),
            timestamp=finding.timestamp,
            confidence=enums.of(Confidence, finding.confidence),
            evidence_ids=list(finding.evidence_ids),
            data=JSON(finding.json_dict()),
            analysis_id=analysis_id,
        )


@strawberry.type
class Summary:
    summary: str
    key_findings: list[str]

    @staticmethod
    def of(summary: ResultSummary) -> Summary:
        return Summary(summary=summary.summary, key_findings=list(summary.key_findings))


@strawberry.type(description="Facts about the analysed video.")
class Video:
    width: int
    height: int
    duration: float
    container: str
    has_audio: bool


@strawberry.type
class Analysis:
    job_id: strawberry.ID
    status: AnalysisStatus
    stage: Stage | None
    progress: float
    error: str | None
    attempts: int
    created_at: datetime
    finished_at: datetime | None
    timings: JSON | None
    row: strawberry.Private[AnalysisRow]

    @strawberry.field(description="The video as the analysis measured it; null until it has.")
    def video(self) -> Video | None:
        probe = probe_of(self.row)
        if probe is None:
            return None
        return Video(
            width=probe.width,
            height=probe.height,
            duration=probe.duration,
            container=probe.container,
            has_audio=probe.has_audio,
        )

    @strawberry.field
    async def sections(self, info: Ctx) -> list[Section]:
        job = str(self.job_id)
        return [Section.of(s, job) for s in await info.context.loaders.sections.load(job)]

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
        job = str(self.job_id)
        return [Finding.of(f, job) for f in await info.context.loaders.findings.load(job)]

    @strawberry.field(description="Every piece of evidence the analysis gathered, in time order.")
    async def evidence(self, info: Ctx) -> list[Evidence]:
        job = str(self.job_id)
        table = await info.context.loaders.evidence.load(job)
        ordered = sorted(table.values(), key=lambda item: item.timestamp)
        return [Evidence.of(item, job) for item in ordered]

    @staticmethod
    def of(row: AnalysisRow) -> Analysis:
        return Analysis(
            job_id=strawberry.ID(row.id),
            status=enums.of(AnalysisStatus, row.status),
            stage=enums.maybe(Stage, row.stage),
            progress=1.0 if row.status == "analyzed" else row.progress,
            error=row.error,
            attempts=row.attempts,
            created_at=row.created_at,
            finished_at=row.finished_at,
            timings=JSON(row.timings) if row.timings is not None else None,
            row=row,
        )


@strawberry.type
class Recording:
    id: strawberry.ID
    status: RecordingStatus
    video_upload_status: UploadStatus
    created_at: datetime
    duration: float | None
    metadata: JSON
    row: strawberry.Private[RecordingRow]

    def _metadata(self, key: str) -> str | None:
        value = self.row.metadata.get(key) if isinstance(self.row.metadata, dict) else None
        return value if isinstance(value, str) and value.strip() else None

    @strawberry.field(description="The recorded page's title (the recorder's metadata).")
    def title(self) -> str | None:
        return self._metadata("title")

    @strawberry.field(description="The address the recording started on.")
    def url(self) -> str | None:
        return self._metadata("url")

    @strawberry.field(description="Whether a signed-in user owns the recording.")
    def claimed(self) -> bool:
        return self.row.owner_id is not None

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
        description="A keyframe's image from the last finished analysis, to show in a list; "
        "null before any has finished."
    )
    async def thumbnail_url(self, info: Ctx) -> str | None:
        if self.row.current_analysis_id is None:
            return None
        frames = await info.context.loaders.frames.load(self.row.current_analysis_id)
        with_image = [f for f in frames if f.thumbnail_key]
        if not with_image:
            return None
        # The first keyframe after the opening one: the opening one is often a blank page.
        chosen = with_image[1] if len(with_image) > 1 else with_image[0]
        return await info.context.services.analysis.thumbnail_url(chosen.thumbnail_key)

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
            status=enums.of(RecordingStatus, row.status),
            video_upload_status=enums.of(UploadStatus, row.video_upload_status),
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
    caller: strawberry.Private[Caller]
    status: strawberry.Private[str | None]

    @strawberry.field(description="How many recordings the listing has in all, over every page.")
    async def total_count(self, info: Ctx) -> int:
        return await info.context.services.recordings.count(self.caller, status=self.status)


@strawberry.type
class AnalysisProgressEvent:
    # Plain data, the same for whoever asks: one execution serves every subscriber.
    __shared_event__ = True

    recording_id: strawberry.ID
    job_id: str
    status: RecordingStatus = strawberry.field(description="The recording's status.")
    stage: Stage | None
    progress: float
    message: str | None
    eta_seconds: float | None = strawberry.field(
        description="About how long the analysis still takes, from the stages' weights and the "
        "time so far; it only shrinks. Null when not yet known and once finished."
    )

    @staticmethod
    def of(event: AnalysisProgress) -> AnalysisProgressEvent:
        return AnalysisProgressEvent(
            recording_id=strawberry.ID(event.recording_id),
            job_id=event.job_id,
            status=enums.of(RecordingStatus, event.status),
            stage=enums.maybe(Stage, event.stage),
            progress=event.progress,
            message=event.message,
            eta_seconds=None if event.final else event.eta_seconds,
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
    status: RecordingStatus


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

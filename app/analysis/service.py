"""The rules of analysis: starting one, and reading where it stands and what it found.

Who may: whoever may read the recording (its owner, or its upload token while unclaimed).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis
import structlog

from app.analysis import progress as events
from app.analysis import repository
from app.analysis.models import (
    ACTIVE_STATUSES,
    Analysis,
    AnalysisFrame,
    AnalysisSection,
    Finding,
    TranscriptSegment,
)
from app.analysis.progress import AnalysisProgress
from app.analysis.queue import AnalysisQueue
from app.auth import Caller
from app.dependencies import outages, unavailable
from app.errors import Conflict, NotFound, Unavailable
from app.recordings import repository as recordings_repository
from app.recordings.models import Recording, UploadStatus
from app.recordings.service import RecordingService
from app.storage import Storage

log = structlog.get_logger(__name__)

RESYNC_MARGIN_S = 5.0
RESYNC_MAX_RECORDINGS = 100


@dataclass(frozen=True, kw_only=True, slots=True)
class AnalysisView:
    """A finished analysis with everything it produced."""

    analysis: Analysis
    sections: list[AnalysisSection]
    frames: list[AnalysisFrame]
    transcript: list[TranscriptSegment]
    findings: list[Finding]


def progress_of(recording: Recording, analysis: Analysis | None) -> AnalysisProgress:
    """Where a recording's analysis stands, from the database (Redis holds the same, fresher)."""
    if analysis is None:
        return AnalysisProgress(
            recording_id=str(recording.id),
            job_id="",
            status=recording.status,
            stage=None,
            progress=0.0,
            message=None,
        )
    status = {"queued": "analyzing", "running": "analyzing"}.get(analysis.status, analysis.status)
    return AnalysisProgress(
        recording_id=str(recording.id),
        job_id=analysis.id,
        status=status,
        stage=analysis.stage,
        progress=1.0 if analysis.status == "analyzed" else analysis.progress,
        message=analysis.error if analysis.status == "failed" else analysis.message,
    )


class AnalysisService:
    def __init__(
        self,
        *,
        recordings: RecordingService,
        storage: Storage,
        redis: aioredis.Redis,
        queue: AnalysisQueue,
    ) -> None:
        self._recordings = recordings
        self._storage = storage
        self._redis = redis
        self._queue = queue

    async def request_analysis(self, caller: Caller, recording_id: str) -> Analysis:
        """Start analysing a recording whose video is uploaded; asking again while it runs is a no-op."""
        recording = await self._recordings.get(caller, recording_id)
        if recording.video_upload_status != UploadStatus.UPLOADED.value:
            reason = "the recording has no uploaded video"
            if recording.video_upload_error:
                reason += f" (the upload failed: {recording.video_upload_error})"
            raise Conflict(
                reason,
                code="video_not_uploaded",
                field="video",
                extra={"videoUploadStatus": recording.video_upload_status},
            )
        started = await repository.start(recording.id)
        analysis = started.analysis
        # After the commit. The job id is the analysis id, so enqueueing again is harmless; an
        # active analysis that arq no longer holds (Redis lost it, or it ended unsaved) is
        # queued again, so that asking again is what gets a stuck analysis going.
        try:
            if started.created:
                await self._queue.enqueue(analysis.id)
            elif await self._queue.requeue(analysis.id):
                log.info(
                    "analysis.requeued",
                    recording_id=str(recording.id),
                    job_id=analysis.id,
                    why="requested again while no worker held it",
                )
        except Exception as exc:
            if not unavailable(exc):
                raise
            outages.failed(exc, operation="enqueue", job_id=analysis.id)
            if started.created:
                await repository.undo_start(started)  # the recording is left as it was
            raise Unavailable("the analysis queue is unavailable; retry shortly") from None
        if started.created:
            owner = recording.owner.subject if recording.owner else None
            await events.publish_quietly(
                self._redis,
                AnalysisProgress(
                    recording_id=str(recording.id),
                    job_id=analysis.id,
                    status="analyzing",
                    stage="queued",
                    progress=0.0,
                    message="waiting for a worker",
                ),
                owner=owner,
            )
            log.info("analysis.requested", recording_id=str(recording.id), job_id=analysis.id)
        return analysis

    async def progress_for(self, recording: Recording) -> AnalysisProgress:
        latest = await repository.latest_for(recording.id)
        stored = await events.latest(self._redis, str(recording.id))
        if stored is not None and latest is not None and stored.job_id == latest.id:
            if stored.final or latest.status in ACTIVE_STATUSES:
                return stored
        return progress_of(recording, latest)

    async def resync(self, channel: str, since: float | None) -> list[bytes]:
        """The current state behind an event channel, as its events (see ``Broker``).

        For one recording's progress: its latest state (the final event once it has ended).
        For a user's updates after a lost connection: the state of each of their recordings
        that changed since ``since``.
        """
        kind, _, key = channel.partition(":")
        if kind == "analysis.progress":
            try:
                rid = uuid.UUID(key)
            except ValueError:
                return []
            recording = await recordings_repository.get_recording(rid)
            return (
                []
                if recording is None
                else [(await self.progress_for(recording)).to_json().encode()]
            )
        if kind == "recording.updates" and since is not None:
            changed = await recordings_repository.updated_since(
                key,
                datetime.fromtimestamp(since - RESYNC_MARGIN_S, UTC),
                limit=RESYNC_MAX_RECORDINGS,
            )
            return [(await self.progress_for(r)).to_json().encode() for r in changed]
        return []

    async def result(self, caller: Caller, recording_id: str) -> AnalysisView:
        """The current (last finished) analysis; 404 if never analysed, 409 while none has finished."""
        recording = await self._recordings.get(caller, recording_id)
        if recording.current_analysis_id is None:
            latest = await repository.latest_for(recording.id)
            if latest is None:
                raise NotFound("the recording has not been analysed", code="analysis_not_found")
            state = await self.progress_for(recording)
            raise Conflict(
                "the analysis has not finished"
                if state.status != "failed"
                else f"the analysis failed: {state.message}",
                code="analysis_not_ready",
                extra={
                    "status": state.status,
                    "stage": state.stage,
                    "progress": state.progress,
                    "jobId": state.job_id,
                    "reason": state.message if state.status == "failed" else None,
                },
            )
        return await self.view(recording.current_analysis_id)

    async def view(self, analysis_id: str) -> AnalysisView:
        analysis = await repository.get(analysis_id)
        if analysis is None:
            raise NotFound("the analysis is gone", code="analysis_not_found")
        ids = [analysis_id]
        return AnalysisView(
            analysis=analysis,
            sections=await repository.sections_for(ids),
            frames=await repository.frames_for(ids),
            transcript=await repository.transcript_for(ids),
            findings=await repository.findings_for(ids),
        )

    async def thumbnail_url(self, key: str | None) -> str | None:
        return await self._storage.download_url(key) if key else None


def section_dict(section: AnalysisSection) -> dict[str, Any]:
    return {
        "title": section.title,
        "timestamp": section.timestamp,
        "endTimestamp": section.end_timestamp,
        "description": section.description,
        "citations": section.citations,
    }

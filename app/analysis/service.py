"""The analysis lifecycle, and reading where an analysis stands and what it found.

request → begin → progress → complete | fail: each step is a method here, the only place its
rule lives, and each event it causes leaves through :meth:`AnalysisService._publish`. The API
calls :meth:`~AnalysisService.request`; a worker's job calls :meth:`~AnalysisService.begin`,
runs the engine (whose progress goes through :meth:`~AnalysisService.progress_target`), then
:meth:`~AnalysisService.complete` or :meth:`~AnalysisService.fail`; the worker's reaper calls
:meth:`~AnalysisService.recover`. How long to wait for a database that is down is the caller's
policy (the API answers 503 at once, a job waits), not the service's.

Who may request or read: whoever may read the recording (its owner, or its upload token while
it is unclaimed).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis
import structlog

from app.analysis import events, repository
from app.analysis.events import AnalysisProgress, ProgressTarget
from app.analysis.models import ACTIVE_STATUSES, Analysis
from app.analysis.queue import AnalysisQueue
from app.analysis.repository import StoredFrame
from app.auth import Caller
from app.dependencies import outages, unavailable
from app.errors import Conflict, NotFound, Unavailable
from app.pipeline.documents import (
    AnalysisDocument,
    ResultFinding,
    ResultProbe,
    ResultSection,
    ResultSummary,
    ResultTranscriptSegment,
)
from app.recordings import repository as recordings_repository
from app.recordings.models import Recording, UploadStatus
from app.recordings.service import RecordingService
from app.storage import Storage, StorageError
from app.storage.keys import thumbnail_key

log = structlog.get_logger(__name__)

RESYNC_MARGIN_S = 5.0
RESYNC_MAX_RECORDINGS = 100


@dataclass(frozen=True, kw_only=True, slots=True)
class AnalysisView:
    """A finished analysis: its row (id, status, timings) and the typed result it saved."""

    analysis: Analysis
    recording: ResultProbe | None
    sections: list[ResultSection]
    frames: list[StoredFrame]
    transcript: list[ResultTranscriptSegment]
    findings: list[ResultFinding]
    summary: ResultSummary | None


@dataclass(frozen=True, kw_only=True, slots=True)
class Begun:
    """An analysis a worker has started: what the engine needs to run it."""

    analysis: Analysis
    recording: Recording
    capture: dict[str, Any]
    video_key: str | None  # None: the recording has no stored video (any more)


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
        redis_url: str,
    ) -> None:
        self._recordings = recordings
        self._storage = storage
        self._redis = redis
        self._queue = queue
        self._redis_url = redis_url

    async def _publish(self, recording: Recording, event: AnalysisProgress) -> None:
        """Every lifecycle event goes out here: to the recording's and its owner's channels."""
        await events.publish_quietly(self._redis, event, owner=recording.owner_subject)

    # ---- the lifecycle ---------------------------------------------------------------------

    async def request(self, caller: Caller, recording_id: str) -> Analysis:
        """Start analysing a recording whose video is uploaded; asking again while it runs
        returns the same analysis (and gets it going again if no worker holds it any more)."""
        recording = await self._recordings.verify_direct_upload(
            await self._recordings.get(caller, recording_id)
        )
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
            await self._publish(recording, AnalysisProgress.queued(str(recording.id), analysis.id))
            log.info("analysis.requested", recording_id=str(recording.id), job_id=analysis.id)
        return analysis

    async def begin(self, analysis_id: str) -> Begun | None:
        """Claim a queued (or interrupted) analysis for this attempt; None when there is nothing
        to run (it ended already, or its recording is gone)."""
        analysis = await repository.mark_running(analysis_id)
        if analysis is None:
            return None
        recording = await recordings_repository.get_recording(analysis.recording_id)
        if recording is None:
            return None
        capture = await recordings_repository.capture_of(recording.id)
        artifact = await recordings_repository.stored_artifact(recording.id)
        await self._publish(recording, AnalysisProgress.started(str(recording.id), analysis_id))
        return Begun(
            analysis=analysis,
            recording=recording,
            capture={
                "metadata": recording.metadata,
                "actions": capture.actions if capture else [],
                "browserState": capture.browser_state if capture else {},
                "elements": (capture.elements if capture else None) or [],
                "videoContentType": recording.video_content_type,
            },
            video_key=artifact.object_key if artifact else None,
        )

    async def download_video(self, key: str, path: str) -> None:
        """Copy the begun analysis's video to a local file for the engine."""
        await self._storage.download_to(key, path)

    def progress_target(self, begun: Begun) -> ProgressTarget:
        """Where the engine sends the running analysis's progress (from its own process)."""
        return ProgressTarget(
            redis_url=self._redis_url,
            recording_id=str(begun.recording.id),
            job_id=begun.analysis.id,
            owner=begun.recording.owner_subject,
        )

    async def complete(
        self,
        begun: Begun,
        result: AnalysisDocument,
        thumbnails: Sequence[bytes | None],
        *,
        engine_versions: dict[str, str],
    ) -> bool:
        """Store a finished analysis (its thumbnails, then its result in one transaction) and
        make it the recording's current one. False, leaving nothing behind, when the recording
        was deleted meanwhile or another run of the same analysis finished first."""
        recording, analysis_id = begun.recording, begun.analysis.id
        # Keyed by the analysis and the frame's position: called again after a failed save
        # (the database was down), it writes the same objects again, and leaves none behind.
        keys = await self._store_thumbnails(recording.id, analysis_id, thumbnails)
        saved = await repository.save_result(
            analysis_id, result, keys, engine_versions=engine_versions
        )
        if not saved.saved:
            await self._delete_quietly(k for k in keys if k)
            log.info("analysis.discarded", job_id=analysis_id)
            return False
        await self._delete_quietly(saved.replaced_thumbnails)
        await self._publish(recording, AnalysisProgress.analyzed(str(recording.id), analysis_id))
        log.info("analysis.done", recording_id=str(recording.id), job_id=analysis_id)
        return True

    async def fail(self, analysis_id: str, reason: str) -> bool:
        """End an analysis as failed with a reason a client may read; False if it had ended."""
        if not await repository.mark_failed(analysis_id, reason):
            return False
        analysis = await repository.get(analysis_id)
        recording = (
            await recordings_repository.get_recording(analysis.recording_id) if analysis else None
        )
        if recording is not None:
            await self._publish(
                recording, AnalysisProgress.failed(str(recording.id), analysis_id, reason)
            )
        log.info("analysis.failed", job_id=analysis_id, reason=reason)
        return True

    async def recover(self, *, held_before: datetime, max_tries: int) -> int:
        """Find analyses that no worker holds any more, and run them again (or end them).

        The database says they are queued or running, but arq has no job for them and no worker
        holds a lease on one: Redis lost its data, arq gave up after its last try while the
        worker kept dying, or the job ended without being able to record its end. Each created
        before ``held_before`` is queued again until it has been started ``max_tries`` times;
        then it fails with a reason. Returns how many it found.
        """
        found = 0
        for analysis in await repository.active_started_before(held_before):
            if await self._queue.is_held(analysis.id):
                continue
            found += 1
            if analysis.attempts < max_tries and await self._queue.requeue(analysis.id):
                log.warning(
                    "analysis.requeued",
                    job_id=analysis.id,
                    attempts=analysis.attempts,
                    why="no worker held it",
                )
            else:
                await self.fail(
                    analysis.id,
                    "the analysis was interrupted and could not be resumed; request it again",
                )
        return found

    async def _store_thumbnails(
        self, recording_id: uuid.UUID, analysis_id: str, thumbnails: Sequence[bytes | None]
    ) -> list[str | None]:
        keys: list[str | None] = []
        for position, data in enumerate(thumbnails):
            if data is None:
                keys.append(None)
                continue
            key = thumbnail_key(recording_id, analysis_id, position)
            await self._storage.put_bytes(key, "image/jpeg", data)
            keys.append(key)
        return keys

    async def _delete_quietly(self, keys: Any) -> None:
        for key in keys:
            try:
                await self._storage.delete(key)
            except StorageError as exc:
                log.warning("storage.delete_failed", key=key, error=str(exc))

    # ---- reading ---------------------------------------------------------------------------

    async def progress_for(self, recording: Recording) -> AnalysisProgress:
        """Where the recording's latest analysis stands (Redis's latest event when fresher)."""
        latest = await repository.latest_for(recording.id)
        stored = await events.latest(self._redis, str(recording.id))
        if (
            stored is not None
            and latest is not None
            and stored.job_id == latest.id
            and (stored.final or latest.status in ACTIVE_STATUSES)
        ):
            return stored
        return progress_of(recording, latest)

    async def resync(self, channel: str, since: float | None) -> list[bytes]:
        """The current state behind an event channel, as its events (see ``app.pubsub``).

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
        """The current (last finished) analysis; 404 if never analysed, 409 until one finishes."""
        recording = await self._recordings.get(caller, recording_id)
        if recording.current_analysis_id is None:
            latest = await repository.latest_for(recording.id)
            if latest is None:
                raise NotFound("the recording has not been analysed", code="analysis_not_found")
            state = await self.progress_for(recording)
            failed = state.status == "failed"
            raise Conflict(
                f"the analysis failed: {state.message}"
                if failed
                else "the analysis has not finished",
                code="analysis_not_ready",
                extra={
                    "status": state.status,
                    "stage": state.stage,
                    "progress": state.progress,
                    "jobId": state.job_id,
                    "reason": state.message if failed else None,
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
            recording=repository.probe_of(analysis),
            sections=(await repository.sections_of(ids)).get(analysis_id, []),
            frames=(await repository.frames_of(ids)).get(analysis_id, []),
            transcript=(await repository.transcript_of(ids)).get(analysis_id, []),
            findings=(await repository.findings_of(ids)).get(analysis_id, []),
            summary=repository.summary_of(analysis),
        )

    async def thumbnail_url(self, key: str | None) -> str | None:
        return await self._storage.download_url(key) if key else None

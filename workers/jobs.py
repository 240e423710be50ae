"""arq jobs — thin: load ids, run the engine in its process, save through the repositories.

``analyze_recording(ctx, analysis_id)`` is safe to run twice: a second run of a finished
analysis does nothing, and results are saved in one transaction that only the first can commit.

What the job survives:
- the database going away at any step: each database step waits for it with capped backoff
  (a finished result stays in memory meanwhile), so an outage of minutes loses nothing;
- Redis going away: progress events are best effort, the final one is retried, and the worker
  itself rides out the outage (``workers.resilience``);
- its worker dying: the job's lease lapses within ``job_lease_seconds`` and another worker
  (or this one, restarted) runs it again; the engine process dies with the worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import tempfile
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar

import structlog
from arq import Retry

from app.analysis import progress as events
from app.analysis import repository as analyses
from app.analysis.progress import AnalysisProgress
from app.analysis.queue import AnalysisQueue, lease_key
from app.config import Settings
from app.dependencies import DATABASE_DOWN, NETWORK_DOWN, dependency_of, unavailable
from app.recordings import repository as recordings
from app.recordings.models import Recording, RecordingCapture
from app.recordings.service import RecordingService, recording_prefix
from app.storage import Storage, StorageError
from workers.engine_pool import EngineLimitExceeded
from workers.resilience import Backoff

log = structlog.get_logger(__name__)

T = TypeVar("T")

PUBLIC_REASONS = {
    "database": "the database was unavailable",
    "redis": "Redis was unavailable",
    "storage": "storage was unavailable",
}


def public_reason(exc: BaseException) -> str:
    """What a client may be told of a transient failure (the detail goes to the logs only)."""
    return PUBLIC_REASONS.get(dependency_of(exc), "a backing service was unavailable")


async def with_database(step: Callable[[], Awaitable[T]], *, window: float, what: str) -> T:
    """Run a database step, waiting out an outage for up to ``window`` seconds."""
    backoff = Backoff(f"analysis.database.{what}", cap=5.0)
    deadline = asyncio.get_running_loop().time() + window
    while True:
        try:
            result = await step()
        except (*DATABASE_DOWN, *NETWORK_DOWN) as exc:
            if asyncio.get_running_loop().time() >= deadline:
                raise
            await backoff.failed(exc)
            continue
        backoff.succeeded()
        return result


async def _renew_lease(redis_client: Any, analysis_id: str, lease_seconds: float) -> None:
    """Keep this worker's hold on the job while it runs; set again should Redis have lost it."""
    while True:
        await asyncio.sleep(lease_seconds / 3)
        try:
            await redis_client.set(lease_key(analysis_id), b"1", px=int(lease_seconds * 1000))
        except Exception as exc:  # Redis down: the worker rides it out; the next renewal may work
            log.debug("analysis.lease_not_renewed", job_id=analysis_id, error=str(exc))


async def analyze_recording(ctx: dict[str, Any], analysis_id: str) -> str:
    settings: Settings = ctx["settings"]
    log_ = log.bind(job_id=analysis_id, attempt=ctx.get("job_try", 1))
    lease = asyncio.create_task(_renew_lease(ctx["redis"], analysis_id, settings.job_lease_seconds))
    try:
        return await _analyze(ctx, analysis_id, settings, log_)
    except Exception as exc:
        if unavailable(exc):
            attempt = ctx.get("job_try", 1)
            if attempt < settings.analysis_max_tries:
                log_.warning("analysis.retry", error=str(exc))
                raise Retry(defer=min(60, 2**attempt)) from exc
            await _fail(ctx, analysis_id, f"gave up after {attempt} attempts: {public_reason(exc)}")
            return "failed"
        # A bug, not the input's fault and not transient: end the analysis with a reason instead
        # of leaving it "analyzing" forever; retrying would fail the same way.
        log_.exception("analysis.internal_error")
        await _fail(ctx, analysis_id, f"internal error in the analysis ({type(exc).__name__})")
        return "failed"
    finally:
        lease.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await lease


async def _analyze(ctx: dict[str, Any], analysis_id: str, settings: Settings, log_: Any) -> str:
    storage: Storage = ctx["storage"]
    window = settings.analysis_save_window_seconds
    analysis = await with_database(
        lambda: analyses.mark_running(analysis_id), window=window, what="start"
    )
    if analysis is None:
        log_.info("analysis.nothing_to_do")  # ended already, or its recording was deleted
        return "skipped"
    recording = await with_database(
        lambda: recordings.get_recording(analysis.recording_id), window=window, what="load"
    )
    if recording is None:
        return "skipped"
    owner = recording.owner.subject if recording.owner else None
    rid = str(recording.id)
    await events.publish_quietly(
        ctx["redis"],
        AnalysisProgress(
            recording_id=rid,
            job_id=analysis_id,
            status="analyzing",
            stage="probe",
            progress=0.0,
            message="started",
        ),
        owner=owner,
    )
    artifact = await with_database(
        lambda: recordings.stored_artifact(recording.id), window=window, what="load"
    )
    if artifact is None:
        await _fail(ctx, analysis_id, "the recording has no uploaded video", recording=recording)
        return "failed"
    with tempfile.TemporaryDirectory(prefix="recordings-") as tmp:
        path = os.path.join(tmp, os.path.basename(artifact.object_key))
        await storage.download_to(artifact.object_key, path)
        try:
            capture = await with_database(
                lambda: recordings.capture_of(recording.id), window=window, what="load"
            )
            outcome = await ctx["engine"].run(
                video_path=path,
                meta=_meta_of(recording, capture),
                recording_id=rid,
                job_id=analysis_id,
                redis_url=settings.redis_url,
                owner=owner,
            )
        except EngineLimitExceeded as exc:
            await _fail(ctx, analysis_id, str(exc), recording=recording)
            return "failed"
    if outcome.error is not None or outcome.result is None:
        if outcome.internal:
            log_.error("analysis.internal_error", reason=outcome.error)
        await _fail(
            ctx, analysis_id, outcome.error or "the engine returned nothing", recording=recording
        )
        return "failed"

    keys = await _store_thumbnails(storage, recording.id, analysis_id, outcome.thumbnails or [])
    # The result is in memory: a database that blinks now costs a wait, not the analysis.
    saved = await with_database(
        lambda: analyses.save_result(
            analysis_id, outcome.result, keys, engine_versions=outcome.versions or {}
        ),
        window=window,
        what="save",
    )
    if not saved.saved:
        # The recording was deleted meanwhile, or another run finished first: leave nothing behind.
        for key in keys:
            if key:
                await _delete_quietly(storage, key)
        log_.info("analysis.discarded")
        return "discarded"
    for key in saved.replaced_thumbnails:
        await _delete_quietly(storage, key)
    await events.publish_quietly(
        ctx["redis"],
        AnalysisProgress(
            recording_id=rid,
            job_id=analysis_id,
            status="analyzed",
            stage="summarize",
            progress=1.0,
            message="analysis complete",
        ),
        owner=owner,
    )
    log_.info("analysis.done", recording_id=rid)
    return "analyzed"


def _meta_of(recording: Recording, capture: RecordingCapture | None) -> dict[str, Any]:
    return {
        "metadata": recording.metadata,
        "actions": capture.actions if capture else [],
        "browserState": capture.browser_state if capture else {},
        "elements": (capture.elements if capture else None) or [],
        "videoContentType": recording.video_content_type,
    }


async def _store_thumbnails(
    storage: Storage, recording_id: Any, analysis_id: str, thumbnails: list[bytes | None]
) -> list[str | None]:
    keys: list[str | None] = []
    for i, data in enumerate(thumbnails):
        if data is None:
            keys.append(None)
            continue
        key = f"{recording_prefix(recording_id)}analysis/{analysis_id}/frame-{i:04d}.jpg"
        await storage.put_bytes(key, "image/jpeg", data)
        keys.append(key)
    return keys


async def _delete_quietly(storage: Storage, key: str) -> None:
    try:
        await storage.delete(key)
    except StorageError as exc:
        log.warning("storage.delete_failed", key=key, error=str(exc))


async def _fail(
    ctx: dict[str, Any], analysis_id: str, reason: str, *, recording: Recording | None = None
) -> None:
    """End the analysis as failed, waiting out a database outage; its event is published."""
    settings: Settings = ctx["settings"]
    window = settings.analysis_save_window_seconds
    try:
        ended = await with_database(
            lambda: analyses.mark_failed(analysis_id, reason), window=window, what="fail"
        )
        if not ended:
            return
        if recording is None:
            analysis = await with_database(
                lambda: analyses.get(analysis_id), window=window, what="fail"
            )
            recording = await recordings.get_recording(analysis.recording_id) if analysis else None
    except (*DATABASE_DOWN, *NETWORK_DOWN) as exc:
        # Still down after the window: the reaper ends it (or runs it again) once it is back.
        log.error("analysis.fail_not_recorded", job_id=analysis_id, reason=reason, error=str(exc))
        return
    if recording is None:
        return
    owner = recording.owner.subject if recording.owner else None
    await events.publish_quietly(
        ctx["redis"],
        AnalysisProgress(
            recording_id=str(recording.id),
            job_id=analysis_id,
            status="failed",
            stage=None,
            progress=1.0,
            message=reason,
        ),
        owner=owner,
    )
    log.info("analysis.failed", job_id=analysis_id, reason=reason)


async def reap_abandoned(ctx: dict[str, Any]) -> int:
    """Find analyses that no worker holds any more, and run them again (or end them).

    The database says they are queued or running, but arq has no job for them and no worker
    holds a lease on one: Redis lost its data, arq gave up after its last try while the worker
    kept dying, or the job ended without being able to record its end. Each is queued again,
    until it has been started ``analysis_max_tries`` times; then it fails with a reason. Runs
    every minute, so such an analysis is visible for what it is within a few minutes.
    """
    settings: Settings = ctx["settings"]
    queue: AnalysisQueue = ctx["queue"]
    cutoff = datetime.now(UTC) - timedelta(seconds=2 * settings.job_lease_seconds)
    reaped = 0
    for analysis in await analyses.active_started_before(cutoff):
        if await queue.is_held(analysis.id):
            continue
        if analysis.attempts < settings.analysis_max_tries and await queue.requeue(analysis.id):
            log.warning(
                "analysis.requeued",
                job_id=analysis.id,
                attempts=analysis.attempts,
                why="no worker held it",
            )
        else:
            await _fail(
                ctx,
                analysis.id,
                "the analysis was interrupted and could not be resumed; request it again",
            )
        reaped += 1
    return reaped


async def sweep_unclaimed(ctx: dict[str, Any]) -> int:
    """Remove unclaimed recordings older than the retention (a periodic job)."""
    settings: Settings = ctx["settings"]
    service: RecordingService = ctx["recordings"]
    cutoff = datetime.now(UTC) - timedelta(days=settings.unclaimed_retention_days)
    swept = await service.sweep_unclaimed(cutoff)
    if swept:
        log.info("recordings.swept_unclaimed", count=swept)
    return swept

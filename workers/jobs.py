"""arq jobs — thin: load ids, run the engine in its process, save through the repositories.

``analyze_recording(ctx, analysis_id)`` is safe to run twice: a second run of a finished
analysis does nothing, and results are saved in one transaction that only the first can commit.
"""

from __future__ import annotations

import asyncio
import os
import tempfile
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from datetime import UTC, datetime, timedelta
from typing import Any

import psutil
import redis.exceptions
import structlog
from arq import Retry
from arq.constants import in_progress_key_prefix, job_key_prefix
from tortoise.exceptions import BaseORMException

from app.analysis import progress as events
from app.analysis import repository as analyses
from app.analysis.progress import AnalysisProgress
from app.config import Settings
from app.recordings import repository as recordings
from app.recordings.models import Recording
from app.recordings.service import RecordingService, recording_prefix
from app.storage import Storage, StorageError
from workers.engine_process import EngineOutcome

log = structlog.get_logger(__name__)

TRANSIENT = (StorageError, BaseORMException, OSError, redis.exceptions.RedisError, ConnectionError)


class EngineLimitExceeded(Exception):
    """The engine process ran past its memory or time limit and was stopped."""


class EnginePool:
    """One spawned engine process, kept warm, replaced when it dies or must be stopped."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._pool: ProcessPoolExecutor | None = None

    def _ensure(self) -> ProcessPoolExecutor:
        if self._pool is None:
            import multiprocessing

            from workers.engine_process import init_process

            self._pool = ProcessPoolExecutor(
                max_workers=1, mp_context=multiprocessing.get_context("spawn"), initializer=init_process
            )
        return self._pool

    def _children(self) -> list[psutil.Process]:
        if self._pool is None:
            return []
        return [psutil.Process(pid) for pid in list(getattr(self._pool, "_processes", {}) or {})
                if psutil.pid_exists(pid)]

    def kill(self) -> None:
        for child in self._children():
            try:
                child.kill()
            except psutil.Error:
                pass
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
        self._pool = None

    async def run(self, **kwargs: Any) -> EngineOutcome:
        from workers.engine_process import run_analysis

        loop = asyncio.get_running_loop()
        pool = self._ensure()
        future = loop.run_in_executor(pool, _call, run_analysis, kwargs)
        limit = self._settings.analysis_memory_limit_mb * 1024 * 1024
        deadline = loop.time() + self._settings.analysis_timeout_seconds
        try:
            while True:
                done, _ = await asyncio.wait({future}, timeout=0.5)
                if done:
                    return future.result()
                if loop.time() > deadline:
                    raise EngineLimitExceeded(
                        f"the analysis took longer than {self._settings.analysis_timeout_seconds} s"
                    )
                rss = sum(_rss(p) for p in self._children())
                if rss > limit:
                    raise EngineLimitExceeded(
                        f"the analysis used more than {self._settings.analysis_memory_limit_mb} MiB of memory"
                    )
        except BrokenProcessPool:
            self._pool = None
            raise EngineLimitExceeded("the analysis process died (out of memory or killed)") from None
        except BaseException:
            self.kill()
            raise

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=False, cancel_futures=True)
            self._pool = None


def _call(fn: Any, kwargs: dict[str, Any]) -> Any:
    return fn(**kwargs)


def _rss(process: psutil.Process) -> int:
    try:
        return int(process.memory_info().rss)
    except psutil.Error:
        return 0


async def analyze_recording(ctx: dict[str, Any], analysis_id: str) -> str:
    settings: Settings = ctx["settings"]
    storage: Storage = ctx["storage"]
    redis_client = ctx["redis"]
    log_ = log.bind(job_id=analysis_id, attempt=ctx.get("job_try", 1))
    try:
        return await _analyze(ctx, analysis_id, settings, storage, redis_client, log_)
    except TRANSIENT as exc:
        attempt = ctx.get("job_try", 1)
        if attempt < settings.analysis_max_tries:
            log_.warning("analysis.retry", error=str(exc))
            raise Retry(defer=min(60, 2**attempt)) from exc
        await _fail(redis_client, analysis_id, f"gave up after {attempt} attempts: {exc}")
        return "failed"
    except Exception as exc:
        # A bug, not the input's fault and not transient: end the analysis with a reason instead
        # of leaving it "analyzing" forever; retrying would fail the same way.
        log_.exception("analysis.internal_error")
        await _fail(redis_client, analysis_id, f"internal error in the analysis ({type(exc).__name__})")
        return "failed"


async def _analyze(ctx: dict[str, Any], analysis_id: str, settings: Settings, storage: Storage,
                   redis_client: Any, log_: Any) -> str:
    analysis = await analyses.mark_running(analysis_id)
    if analysis is None:
        log_.info("analysis.nothing_to_do")  # ended already, or its recording was deleted
        return "skipped"
    recording = await recordings.get_recording(analysis.recording_id)
    if recording is None:
        return "skipped"
    owner = recording.owner.subject if recording.owner else None
    rid = str(recording.id)
    await events.publish(redis_client, AnalysisProgress(recording_id=rid, job_id=analysis_id, status="analyzing",
                                                        stage="probe", progress=0.0, message="started"), owner=owner)
    artifact = await recordings.stored_artifact(recording.id)
    if artifact is None:
        await _fail(redis_client, analysis_id, "the recording has no uploaded video", recording=recording)
        return "failed"
    with tempfile.TemporaryDirectory(prefix="recordings-") as tmp:
        path = os.path.join(tmp, os.path.basename(artifact.object_key))
        await storage.download_to(artifact.object_key, path)
        try:
            outcome = await ctx["engine"].run(
                video_path=path, meta=_meta_of(recording), recording_id=rid, job_id=analysis_id,
                redis_url=settings.redis_url, owner=owner,
            )
        except EngineLimitExceeded as exc:
            await _fail(redis_client, analysis_id, str(exc), recording=recording)
            return "failed"
    if outcome.error is not None or outcome.result is None:
        await _fail(redis_client, analysis_id, outcome.error or "the engine returned nothing", recording=recording)
        return "failed"

    keys = await _store_thumbnails(storage, recording.id, analysis_id, outcome.thumbnails or [])
    saved = await analyses.save_result(analysis_id, outcome.result, keys, engine_versions=outcome.versions or {})
    if not saved.saved:
        # The recording was deleted meanwhile, or another run finished first: leave nothing behind.
        for key in keys:
            if key:
                await _delete_quietly(storage, key)
        log_.info("analysis.discarded")
        return "discarded"
    for key in saved.replaced_thumbnails:
        await _delete_quietly(storage, key)
    await events.publish(redis_client, AnalysisProgress(recording_id=rid, job_id=analysis_id, status="analyzed",
                                                        stage="summarize", progress=1.0, message="analysis complete"),
                         owner=owner)
    log_.info("analysis.done", recording_id=rid)
    return "analyzed"


def _meta_of(recording: Recording) -> dict[str, Any]:
    return {
        "metadata": recording.metadata,
        "actions": recording.actions,
        "browserState": recording.browser_state,
        "elements": recording.elements or [],
        "videoContentType": recording.video_content_type,
    }


async def _store_thumbnails(storage: Storage, recording_id: Any, analysis_id: str,
                            thumbnails: list[bytes | None]) -> list[str | None]:
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


async def _fail(redis_client: Any, analysis_id: str, reason: str, *, recording: Recording | None = None) -> None:
    ended = await analyses.mark_failed(analysis_id, reason)
    if not ended:
        return
    if recording is None:
        analysis = await analyses.get(analysis_id)
        recording = await recordings.get_recording(analysis.recording_id) if analysis else None
    if recording is None:
        return
    owner = recording.owner.subject if recording.owner else None
    await events.publish(redis_client, AnalysisProgress(recording_id=str(recording.id), job_id=analysis_id,
                                                        status="failed", stage=None, progress=1.0, message=reason),
                         owner=owner)
    log.info("analysis.failed", job_id=analysis_id, reason=reason)


async def reap_abandoned(ctx: dict[str, Any]) -> int:
    """Fail analyses that no worker will ever finish (their job left the queue unfinished).

    arq drops a job after its last try even when the worker died mid-run, which would leave the
    analysis "analyzing" forever. A job key in Redis means arq still has it; without one, and past
    the longest time a run can take, nothing is coming.
    """
    settings: Settings = ctx["settings"]
    redis_client = ctx["redis"]
    cutoff = datetime.now(UTC) - timedelta(seconds=settings.analysis_timeout_seconds + 60)
    reaped = 0
    for analysis in await analyses.active_started_before(cutoff):
        if await redis_client.exists(job_key_prefix + analysis.id, in_progress_key_prefix + analysis.id):
            continue
        await _fail(redis_client, analysis.id, "the analysis was interrupted and could not be resumed; "
                    "request it again")
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

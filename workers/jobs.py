"""arq jobs — thin: load ids, begin, run the engine in its process, complete or fail.

``analyze_recording(ctx, analysis_id)`` is safe to run twice: a second run of a finished
analysis does nothing, and results are saved in one transaction that only the first can commit.
The rules are the analysis service's (``app.analysis.service``); what a job adds is how long
it waits for a dependency that is down:

- each database step waits out an outage (capped backoff, up to
  ``analysis_save_window_seconds``): a finished result stays in memory meanwhile, so an outage
  of minutes loses nothing;
- a storage failure is retried a few times by arq;
- the worker rides out Redis outages itself (``workers.resilience``), the job's lease is
  renewed while it runs, and its engine process dies with the worker (``workers.engine_pool``).
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

from app.analysis.queue import lease_key
from app.analysis.service import AnalysisService
from app.config import Settings
from app.dependencies import DATABASE_DOWN, NETWORK_DOWN, dependency_of, unavailable
from app.services import Services
from workers.engine_pool import EngineLimitExceeded, EnginePool
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
    services: Services = ctx["services"]
    settings = services.settings
    log_ = log.bind(job_id=analysis_id, attempt=ctx.get("job_try", 1))
    lease = asyncio.create_task(
        _renew_lease(services.redis, analysis_id, settings.job_lease_seconds)
    )
    try:
        return await _analyze(services.analysis, ctx["engine"], settings, analysis_id, log_)
    except Exception as exc:
        if unavailable(exc):
            attempt = ctx.get("job_try", 1)
            if attempt < settings.analysis_max_tries:
                log_.warning("analysis.retry", error=str(exc))
                raise Retry(defer=min(60, 2**attempt)) from exc
            await _fail(
                services.analysis,
                settings,
                analysis_id,
                f"gave up after {attempt} attempts: {public_reason(exc)}",
            )
            return "failed"
        # A bug, not the input's fault and not transient: end the analysis with a reason instead
        # of leaving it "analyzing" forever; retrying would fail the same way.
        log_.exception("analysis.internal_error")
        await _fail(
            services.analysis,
            settings,
            analysis_id,
            f"internal error in the analysis ({type(exc).__name__})",
        )
        return "failed"
    finally:
        lease.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await lease


async def _analyze(
    service: AnalysisService, engine: EnginePool, settings: Settings, analysis_id: str, log_: Any
) -> str:
    window = settings.analysis_save_window_seconds
    begun = await with_database(lambda: service.begin(analysis_id), window=window, what="start")
    if begun is None:
        log_.info("analysis.nothing_to_do")  # ended already, or its recording was deleted
        return "skipped"
    if begun.video_key is None:
        await _fail(service, settings, analysis_id, "the recording has no uploaded video")
        return "failed"
    with tempfile.TemporaryDirectory(prefix="recordings-") as tmp:
        path = os.path.join(tmp, os.path.basename(begun.video_key))
        await service.download_video(begun.video_key, path)
        try:
            outcome = await engine.run(
                video_path=path, meta=begun.capture, progress=service.progress_target(begun)
            )
        except EngineLimitExceeded as exc:
            await _fail(service, settings, analysis_id, str(exc))
            return "failed"
    if outcome.error is not None or outcome.result is None:
        if outcome.internal:
            log_.error("analysis.internal_error", reason=outcome.error)
        await _fail(service, settings, analysis_id, outcome.error or "the engine returned nothing")
        return "failed"
    # The result is in memory: a database that blinks now costs a wait, not the analysis.
    saved = await with_database(
        lambda: service.complete(
            begun, outcome.result, outcome.thumbnails or [], engine_versions=outcome.versions or {}
        ),
        window=window,
        what="save",
    )
    return "analyzed" if saved else "discarded"


async def _fail(
    service: AnalysisService, settings: Settings, analysis_id: str, reason: str
) -> None:
    """End the analysis as failed, waiting out a database outage."""
    try:
        await with_database(
            lambda: service.fail(analysis_id, reason),
            window=settings.analysis_save_window_seconds,
            what="fail",
        )
    except (*DATABASE_DOWN, *NETWORK_DOWN) as exc:
        # Still down after the window: the reaper ends it (or runs it again) once it is back.
        log.error("analysis.fail_not_recorded", job_id=analysis_id, reason=reason, error=str(exc))


async def reap_abandoned(ctx: dict[str, Any]) -> int:
    """Every minute: analyses no worker holds any more are queued again, or ended
    (``AnalysisService.recover``); one is seen for what it is within a few minutes."""
    services: Services = ctx["services"]
    settings = services.settings
    held_before = datetime.now(UTC) - timedelta(seconds=2 * settings.job_lease_seconds)
    return await services.analysis.recover(
        held_before=held_before, max_tries=settings.analysis_max_tries
    )


async def sweep_unclaimed(ctx: dict[str, Any]) -> int:
    """Remove unclaimed recordings older than the retention (a periodic job)."""
    services: Services = ctx["services"]
    cutoff = datetime.now(UTC) - timedelta(days=services.settings.unclaimed_retention_days)
    swept = await services.recordings.sweep_unclaimed(cutoff)
    if swept:
        log.info("recordings.swept_unclaimed", count=swept)
    return swept


async def sweep_uploads(ctx: dict[str, Any]) -> int:
    """Abort resumable uploads whose time ran out (a periodic job)."""
    services: Services = ctx["services"]
    swept = await services.uploads.sweep_expired()
    if swept:
        log.info("uploads.swept_expired", count=swept)
    return swept

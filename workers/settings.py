"""The arq worker: its jobs, cron, and shared services (opened on start-up, closed on shutdown)."""

from __future__ import annotations

import contextlib
from typing import Any

from arq import cron
from arq.connections import RedisSettings
from arq.worker import Worker, func

from app.analysis.queue import ANALYZE_JOB
from app.config import Settings
from app.logging import configure_logging
from app.services import open_services
from workers.engine_pool import EnginePool
from workers.jobs import analyze_recording, reap_abandoned, sweep_unclaimed, sweep_uploads
from workers.resilience import ResilientWorker


def make_worker(settings: Settings, *, burst: bool = False) -> Worker:
    """A worker for the configured Redis queue; ``burst`` ends it when the queue is empty."""
    if not settings.database_url or not settings.redis_url:
        raise RuntimeError("RECORDINGS_DATABASE_URL and RECORDINGS_REDIS_URL must be set")
    configure_logging(settings)

    async def startup(ctx: dict[str, Any]) -> None:
        stack = contextlib.AsyncExitStack()
        ctx["services"] = await stack.enter_async_context(open_services(settings, api=False))
        ctx["engine"] = EnginePool(settings)
        stack.callback(ctx["engine"].close)
        ctx["exit_stack"] = stack

    async def shutdown(ctx: dict[str, Any]) -> None:
        await ctx["exit_stack"].aclose()

    # The engine process has its own time limit; the job's backs it up, with room for waiting
    # out a database outage while saving the result.
    job_timeout = settings.analysis_timeout_seconds + settings.analysis_save_window_seconds + 30
    return ResilientWorker(
        functions=[
            func(
                analyze_recording,
                name=ANALYZE_JOB,
                max_tries=settings.analysis_max_tries,
                timeout=job_timeout,
            ),
        ],
        cron_jobs=[
            cron(sweep_unclaimed, minute={0, 30}, run_at_startup=False, unique=True, timeout=60),
            cron(sweep_uploads, minute={15, 45}, run_at_startup=False, unique=True, timeout=300),
            cron(reap_abandoned, run_at_startup=True, unique=True, timeout=60),  # every minute
        ],
        job_timeout=job_timeout,
        lease_seconds=settings.job_lease_seconds,
        on_startup=startup,
        on_shutdown=shutdown,
        redis_settings=RedisSettings.from_dsn(settings.redis_url),
        queue_name=settings.queue_name,
        max_jobs=1,  # one engine process per worker; scale out with more workers
        burst=burst,
        handle_signals=True,
        keep_result=3600,
    )

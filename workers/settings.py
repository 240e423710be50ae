"""The arq worker: its jobs, cron, and the clients they share (made on start-up, closed on shutdown)."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis
from arq import cron
from arq.connections import ArqRedis, RedisSettings
from arq.worker import Worker, func

from app import db
from app.analysis.queue import ANALYZE_JOB, AnalysisQueue
from app.auth import Authenticator
from app.config import Settings
from app.logging import configure_logging
from app.recordings.service import RecordingService
from app.storage import make_storage
from workers.engine_pool import EnginePool
from workers.jobs import analyze_recording, reap_abandoned, sweep_unclaimed, with_database
from workers.resilience import ResilientWorker


def make_worker(settings: Settings, *, burst: bool = False) -> Worker:
    """A worker for the configured Redis queue; ``burst`` ends it when the queue is empty."""
    if not settings.database_url or not settings.redis_url:
        raise RuntimeError("RECORDINGS_DATABASE_URL and RECORDINGS_REDIS_URL must be set")
    configure_logging(settings)

    async def startup(ctx: dict[str, Any]) -> None:
        assert settings.database_url and settings.redis_url
        # Waits for PostgreSQL like a job waits for it: the worker starts before the database does.
        await with_database(
            lambda: db.init_db(settings.database_url or ""), window=float("inf"), what="connect"
        )
        storage = make_storage(settings)
        ctx["settings"] = settings
        ctx["storage"] = storage
        ctx["redis"] = aioredis.from_url(settings.redis_url)
        ctx["queue"] = AnalysisQueue(
            ArqRedis(connection_pool=aioredis.ConnectionPool.from_url(settings.redis_url)),
            queue_name=settings.queue_name,
        )
        ctx["engine"] = EnginePool(settings)
        ctx["recordings"] = RecordingService(
            settings=settings, storage=storage, auth=Authenticator(settings)
        )

    async def shutdown(ctx: dict[str, Any]) -> None:
        ctx["engine"].close()
        await ctx["queue"].close()
        await ctx["redis"].aclose()
        await ctx["storage"].close()
        await db.close_db()

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

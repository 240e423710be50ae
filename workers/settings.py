"""The arq worker: its jobs, cron, and the clients they share (made on start-up, closed on shutdown)."""

from __future__ import annotations

from typing import Any

import redis.asyncio as aioredis
from arq import cron
from arq.connections import RedisSettings
from arq.worker import Worker, func

from app import db
from app.auth import Authenticator
from app.config import Settings
from app.logging import configure_logging
from app.recordings.service import RecordingService
from app.storage import make_storage
from workers.jobs import EnginePool, analyze_recording, reap_abandoned, sweep_unclaimed


def make_worker(settings: Settings, *, burst: bool = False) -> Worker:
    """A worker for the configured Redis queue; ``burst`` ends it when the queue is empty."""
    if not settings.database_url or not settings.redis_url:
        raise RuntimeError("RECORDINGS_DATABASE_URL and RECORDINGS_REDIS_URL must be set")
    configure_logging(settings)

    async def startup(ctx: dict[str, Any]) -> None:
        assert settings.database_url and settings.redis_url
        await db.init_db(settings.database_url)
        storage = make_storage(settings)
        ctx["settings"] = settings
        ctx["storage"] = storage
        ctx["redis"] = aioredis.from_url(settings.redis_url)
        ctx["engine"] = EnginePool(settings)
        ctx["recordings"] = RecordingService(settings=settings, storage=storage, auth=Authenticator(settings))

    async def shutdown(ctx: dict[str, Any]) -> None:
        ctx["engine"].close()
        await ctx["redis"].aclose()
        await ctx["storage"].close()
        await db.close_db()

    return Worker(
        functions=[
            func(analyze_recording, name="analyze_recording", max_tries=settings.analysis_max_tries,
                 # the engine process has its own limit; this one only backs it up
                 timeout=settings.analysis_timeout_seconds + 5),
        ],
        cron_jobs=[
            cron(sweep_unclaimed, minute={0, 30}, run_at_startup=False, unique=True, timeout=60),
            cron(reap_abandoned, minute=set(range(0, 60, 5)), run_at_startup=True, unique=True, timeout=60),
        ],
        # arq keeps a job "in progress" for the longest job timeout + 10 s: a job whose worker was
        # killed is picked up again after that, so it must not exceed what an analysis may take.
        job_timeout=settings.analysis_timeout_seconds + 5,
        on_startup=startup,
        on_shutdown=shutdown,
        redis_settings=RedisSettings.from_dsn(settings.redis_url),
        queue_name=settings.queue_name,
        max_jobs=1,  # one engine process per worker; scale out with more workers
        burst=burst,
        handle_signals=True,
        keep_result=3600,
    )

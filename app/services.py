"""The service layer of one process, built once from the settings and closed with it.

REST routes, GraphQL resolvers and arq jobs all call the same :class:`Services`: the API
process opens them in its lifespan, a worker in its start-up.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from dataclasses import dataclass

import redis.asyncio as aioredis
from arq.connections import ArqRedis

from app import db
from app.analysis.queue import AnalysisQueue
from app.analysis.service import AnalysisService
from app.auth import Authenticator
from app.config import Settings
from app.pubsub import Broker
from app.recordings.intake import BodyReader
from app.recordings.resumable import ResumableUploads
from app.recordings.service import RecordingService
from app.storage import Storage, make_storage


@dataclass(kw_only=True, slots=True)
class Services:
    """What the transports call, and the clients they share."""

    settings: Settings
    auth: Authenticator
    recordings: RecordingService
    uploads: ResumableUploads  # videos that arrive in pieces (tus)
    analysis: AnalysisService
    storage: Storage
    redis: aioredis.Redis
    queue: AnalysisQueue
    intake: BodyReader  # reads create bodies (its process starts in API processes only)
    broker: Broker | None  # API processes: fans progress events out to subscribers


@contextlib.asynccontextmanager
async def open_services(settings: Settings, *, api: bool) -> AsyncIterator[Services]:
    """Open the database, Redis and storage clients and build the services on them; close all
    after. ``api`` adds what only an API process needs (the body reader, the event fan-out).

    Nothing here waits for a dependency: clients connect on first use, so a process starts
    (and answers /readyz) while PostgreSQL or Redis is still down.
    """
    if not settings.database_url or not settings.redis_url:
        raise RuntimeError("RECORDINGS_DATABASE_URL and RECORDINGS_REDIS_URL must be set")
    await db.init_db(settings.database_url)
    redis = aioredis.Redis.from_url(settings.redis_url)
    storage = make_storage(settings)
    auth = Authenticator(settings)
    queue = AnalysisQueue(
        ArqRedis(
            connection_pool=aioredis.ConnectionPool.from_url(settings.redis_url),
            default_queue_name=settings.queue_name,
        ),
        queue_name=settings.queue_name,
    )
    recordings = RecordingService(settings=settings, storage=storage, auth=auth)
    analysis = AnalysisService(
        recordings=recordings,
        storage=storage,
        redis=redis,
        queue=queue,
        redis_url=settings.redis_url,
    )
    intake = BodyReader()
    broker = (
        Broker(aioredis.Redis.from_url(settings.redis_url), resync=analysis.resync) if api else None
    )
    if api:
        intake.start()
    if broker is not None:
        await broker.start()
    try:
        yield Services(
            settings=settings,
            auth=auth,
            recordings=recordings,
            uploads=ResumableUploads(settings=settings, storage=storage, recordings=recordings),
            analysis=analysis,
            storage=storage,
            redis=redis,
            queue=queue,
            intake=intake,
            broker=broker,
        )
    finally:
        if broker is not None:
            await broker.close()
        intake.close()
        await queue.close()
        await storage.close()
        await redis.aclose()
        await db.close_db()

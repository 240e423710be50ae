"""The ASGI application: REST routes (and, later, GraphQL) over one set of services."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import AsyncIterator

import redis.asyncio as aioredis
from arq.connections import ArqRedis
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from tortoise.exceptions import BaseORMException

from app import db
from app.analysis import routes as analysis_routes
from app.analysis.broker import Broker
from app.analysis.queue import AnalysisQueue
from app.analysis.service import AnalysisService
from app.auth import Authenticator
from app.config import Settings
from app.dependencies import UNAVAILABLE
from app.errors import DomainError, NotFound
from app.http import (
    Services,
    database_error,
    dependency_error,
    domain_error,
    http_error,
    unexpected_error,
)
from app.logging import configure_logging
from app.openapi import openapi_document
from app.recordings import routes as recording_routes
from app.recordings.intake import BodyReader
from app.recordings.service import RecordingService
from app.storage import StorageError, make_storage
from app.storage.local import DOWNLOAD_PATH, LocalStorage


def _tune_garbage_collector() -> None:
    """Keep full collections from stalling the event loop.

    With a thousand websocket subscribers the heap holds a few hundred thousand long-lived
    objects, and CPython's default thresholds (700, 10, 10) ran full collections of 50-300 ms
    again and again while they connected and while events were delivered: every request and
    every delivery of the process waited. Objects made while starting (modules, the schema)
    are frozen out of collection, and the young generation collects every 20,000 allocations
    instead of 700, so the older ones are examined far less often (measured with
    bench/subscriptions.py: p99 61-83 ms before, 46 ms after; RSS unchanged). Reference
    counting still frees everything that is not in a cycle at once.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)


def create_app(settings: Settings) -> Starlette:
    """Build the application; clients are opened in its lifespan and closed after."""
    if not settings.database_url or not settings.redis_url:
        raise RuntimeError("RECORDINGS_DATABASE_URL and RECORDINGS_REDIS_URL must be set")
    configure_logging(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        assert settings.database_url and settings.redis_url
        await db.init_db(settings.database_url)
        redis = aioredis.from_url(settings.redis_url)
        storage = make_storage(settings)
        auth = Authenticator(settings)
        # Connects on first use, so the API starts (and answers /readyz) while Redis is down.
        queue = AnalysisQueue(
            ArqRedis(
                connection_pool=aioredis.ConnectionPool.from_url(settings.redis_url),
                default_queue_name=settings.queue_name,
            ),
            queue_name=settings.queue_name,
        )

        recordings = RecordingService(settings=settings, storage=storage, auth=auth)
        analysis = AnalysisService(recordings=recordings, storage=storage, redis=redis, queue=queue)
        broker = Broker(aioredis.from_url(settings.redis_url), resync=analysis.resync)
        await broker.start()
        app.state.broker = broker
        app.state.redis = redis
        app.state.storage = storage
        intake = BodyReader()
        intake.start()
        app.state.services = Services(
            auth=auth,
            recordings=recordings,
            analysis=analysis,
            intake=intake,
            max_json_bytes=settings.max_json_bytes,
        )
        _tune_garbage_collector()
        try:
            yield
        finally:
            await broker.close()
            intake.close()
            await queue.close()
            await storage.close()
            await redis.aclose()
            await db.close_db()

    async def healthz(request: Request) -> Response:
        return JSONResponse({"status": "ok"})

    async def readyz(request: Request) -> Response:
        checks: dict[str, str] = {}
        try:
            conn = db.connection()
            await conn.execute_query("SELECT 1")
            checks["database"] = "ok"
        except Exception as exc:  # any failure means "not ready"; the reason is reported
            checks["database"] = f"error: {exc}"
        try:
            await request.app.state.redis.ping()
            checks["redis"] = "ok"
        except Exception as exc:
            checks["redis"] = f"error: {exc}"
        ready = all(v == "ok" for v in checks.values())
        return JSONResponse(
            {"status": "ok" if ready else "unavailable", "checks": checks},
            status_code=200 if ready else 503,
        )

    async def openapi(request: Request) -> Response:
        return JSONResponse(openapi_document(settings))

    async def download(request: Request) -> Response:
        storage = request.app.state.storage
        if not isinstance(storage, LocalStorage):
            raise NotFound("not found")
        key = request.path_params["key"]
        if not storage.verify(
            key, request.query_params.get("expires", ""), request.query_params.get("signature", "")
        ):
            raise NotFound("the download link is invalid or has expired", code="link_expired")
        try:
            path = storage.path_for(key)
        except StorageError:
            raise NotFound("not found") from None
        if not path.is_file():
            raise NotFound("not found")
        info = await storage.head(key)
        return FileResponse(
            path, media_type=(info.content_type if info else None) or "application/octet-stream"
        )

    from schema import GraphQLApp, build_schema

    graphql = GraphQLApp(build_schema(settings), settings)
    routes = [
        Route("/graphql", graphql, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", graphql),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/api/openapi.json", openapi, methods=["GET"]),
        Route(DOWNLOAD_PATH + "{key:path}", download, methods=["GET", "HEAD"]),
        *recording_routes.routes,
        *analysis_routes.routes,
    ]
    return Starlette(
        debug=False,
        routes=routes,
        lifespan=lifespan,
        exception_handlers={
            DomainError: domain_error,
            HTTPException: http_error,
            # A dependency that is down is a 503, handled here rather than as an unexpected error
            # (whose handler re-raises, so the server logs a traceback and drops the connection).
            **{kind: dependency_error for kind in UNAVAILABLE if not issubclass(kind, DomainError)},
            BaseORMException: database_error,
            Exception: unexpected_error,
        },
    )

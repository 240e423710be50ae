"""The ASGI application: REST routes and GraphQL over one set of services."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import AsyncIterator

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.routing import Route, WebSocketRoute
from tortoise.exceptions import BaseORMException

from app import health, openapi
from app.analysis import routes as analysis_routes
from app.config import Settings
from app.cors import OptionsMiddleware, cors_middleware
from app.dependencies import UNAVAILABLE
from app.errors import DomainError
from app.http import database_error, dependency_error, domain_error, http_error, unexpected_error
from app.logging import configure_logging
from app.recordings import routes as recording_routes
from app.recordings import tus
from app.services import open_services
from app.storage import routes as storage_routes
from app.web import routes as web_routes


def _tune_garbage_collector() -> None:
    """Keep full collections from stalling the event loop.

    With a thousand websocket subscribers the heap holds a few hundred thousand long-lived
    objects, and CPython's default thresholds (700, 10, 10) ran full collections of 50-300 ms
    again and again while they connected and while events were delivered: every request and
    every delivery of the process waited. Objects made while starting (modules, the schema)
    are frozen out of collection, and the young generation collects every 20,000 allocations
    instead of 700, so the older ones are examined far less often (docs/performance.md has
    the figures). Reference counting still frees everything that is not in a cycle at once.
    """
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)


def create_app(settings: Settings) -> Starlette:
    """Build the application; its services are opened in its lifespan and closed after."""
    if not settings.database_url or not settings.redis_url:
        raise RuntimeError("RECORDINGS_DATABASE_URL and RECORDINGS_REDIS_URL must be set")
    configure_logging(settings)

    @contextlib.asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        async with open_services(settings, api=True) as services:
            app.state.services = services
            _tune_garbage_collector()
            yield

    from schema import GraphQLApp, build_schema

    graphql = GraphQLApp(build_schema(settings), settings)
    routes = [
        Route("/graphql", graphql, methods=["GET", "POST"]),
        WebSocketRoute("/graphql", graphql),
        *health.routes,
        *openapi.routes,
        *storage_routes.routes,
        *recording_routes.routes,
        *tus.routes,
        *analysis_routes.routes,
        *web_routes.routes,
    ]
    return Starlette(
        debug=False,
        routes=routes,
        middleware=[
            cors_middleware(settings),
            Middleware(OptionsMiddleware, routes=routes),
        ],
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

"""What browsers ask before a request: CORS for other origins, and ``OPTIONS`` on every route.

One policy for REST and GraphQL over HTTP, Starlette's ``CORSMiddleware`` configured from
``RECORDINGS_CORS_ORIGINS``. Credentials are never involved (callers authenticate with a bearer
token or an upload token in a header, never a cookie), so ``["*"]`` is a safe setting and
credentials mode stays off. Websockets are not covered by CORS; their origin check in
``schema`` uses the same list unless ``RECORDINGS_ALLOWED_WS_ORIGINS`` is set.

A plain ``OPTIONS`` (not a preflight) answers 204 with the ``Allow`` header of everything the
path accepts: Starlette would answer 405 with the methods of the first route that matched the
path alone, while a path such as ``/{id}`` is served by several routes. Routes that answer
``OPTIONS`` themselves (tus advertises itself there) are left to do so.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.routing import BaseRoute, Match, Mount, Route

if TYPE_CHECKING:
    from starlette.types import ASGIApp, Receive, Scope, Send

    from app.config import Settings

# Every request header the API reads. Simple headers (Accept, Content-Language, ...) need no
# listing; Content-Type does as soon as it is application/json.
REQUEST_HEADERS = [
    "Authorization",
    "Content-Type",
    "X-Upload-Token",
    "X-Request-ID",
    "Range",
    "If-Range",
    "If-None-Match",
    # tus resumable uploads
    "Tus-Resumable",
    "Upload-Length",
    "Upload-Offset",
    "Upload-Metadata",
    "Upload-Defer-Length",
]
# Response headers a client must read beyond the CORS-safelisted ones.
RESPONSE_HEADERS = [
    "Retry-After",
    "Location",
    "Content-Length",
    "Content-Range",
    "Accept-Ranges",
    "ETag",
    "X-Request-ID",
    "Tus-Resumable",
    "Tus-Version",
    "Tus-Extension",
    "Tus-Max-Size",
    "Upload-Offset",
    "Upload-Length",
    "Upload-Expires",
]
METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
# How long a browser may reuse a preflight's answer (Chromium caps it at two hours).
MAX_AGE_SECONDS = 7200


def cors_middleware(settings: Settings) -> Middleware:
    """The CORS policy: the listed origins (none until configured), no credentials."""
    return Middleware(
        CORSMiddleware,
        allow_origins=settings.cors_origins,
        allow_methods=METHODS,
        allow_headers=REQUEST_HEADERS,
        expose_headers=RESPONSE_HEADERS,
        allow_credentials=False,
        max_age=MAX_AGE_SECONDS,
    )


def allowed_methods(routes: list[BaseRoute], scope: Scope) -> set[str]:
    """The methods of every route that serves the scope's path (empty when none does)."""
    methods: set[str] = set()
    for route in routes:
        if isinstance(route, Mount):
            match, child = route.matches(scope)
            if match is not Match.NONE:
                inner = getattr(route.app, "routes", None)
                if inner is None:
                    methods |= {"GET", "HEAD"}  # a mounted app of files
                else:
                    methods |= allowed_methods(inner, {**scope, **child})
        elif isinstance(route, Route):
            match, _ = route.matches(scope)
            if match is not Match.NONE:
                methods |= set(route.methods or ())
    return methods


class OptionsMiddleware:
    """``OPTIONS`` on a route answers 204 with its real ``Allow``; unknown paths stay 404."""

    def __init__(self, app: ASGIApp, routes: list[BaseRoute]) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "OPTIONS":
            methods = allowed_methods(self.routes, scope)
            if methods and "OPTIONS" not in methods:  # a route that answers OPTIONS itself
                allow = ", ".join(m for m in METHODS if m in methods | {"OPTIONS"})
                await Response(status_code=204, headers={"Allow": allow})(scope, receive, send)
                return
        await self.app(scope, receive, send)

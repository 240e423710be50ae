"""REST plumbing: the one error translation, request helpers, and access to the services."""

from __future__ import annotations

from typing import TYPE_CHECKING

import structlog
from starlette.exceptions import HTTPException
from starlette.requests import ClientDisconnect, Request
from starlette.responses import JSONResponse, Response

from app.auth import Caller
from app.dependencies import outages, unavailable
from app.errors import DomainError, InvalidInput, PayloadTooLarge, Unavailable, UnsupportedMediaType

if TYPE_CHECKING:
    from app.services import Services

log = structlog.get_logger(__name__)

HTTP_CODES = {
    400: "bad_request",
    401: "unauthenticated",
    404: "not_found",
    405: "method_not_allowed",
    411: "length_required",
    413: "payload_too_large",
    415: "unsupported_media_type",
}


def services(request: Request) -> Services:
    """The process's services (``app.services``), opened in the app's lifespan."""
    return request.app.state.services  # type: ignore[no-any-return]


async def caller_of(request: Request) -> Caller:
    return await services(request).auth.caller_from_headers(
        request.headers.get("authorization"), request.headers.get("x-upload-token")
    )


async def read_json_bytes(request: Request) -> bytes:
    """The body of a JSON request, unparsed, refusing other types and oversized bodies."""
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type != "application/json":
        raise UnsupportedMediaType("the body must be application/json", field="Content-Type")
    limit = services(request).settings.max_json_bytes
    declared = request.headers.get("content-length")
    if declared is not None and declared.isdigit() and int(declared) > limit:
        raise PayloadTooLarge(f"the body is larger than {limit} bytes", field="body")
    body = bytearray()
    try:
        async for chunk in request.stream():
            body += chunk
            if len(body) > limit:
                raise PayloadTooLarge(f"the body is larger than {limit} bytes", field="body")
    except ClientDisconnect:
        raise InvalidInput(
            "the client disconnected before the body was complete", field="body"
        ) from None
    return bytes(body)


async def domain_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, DomainError)
    return JSONResponse(exc.to_dict(), status_code=exc.status_code, headers=exc.headers)


async def http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    code = HTTP_CODES.get(exc.status_code, "http_error")
    return JSONResponse(
        {"error": {"code": code, "message": str(exc.detail), "field": None}},
        status_code=exc.status_code,
        headers=exc.headers,
    )


UNAVAILABLE_MESSAGE = "a backing service is unavailable; retry shortly"


async def dependency_error(request: Request, exc: Exception) -> Response:
    """The database or Redis is unreachable: a 503 the client may retry, not a 500."""
    if not unavailable(exc):
        return _internal_error(request)
    outages.failed(exc, path=request.url.path)
    return await domain_error(request, Unavailable(UNAVAILABLE_MESSAGE))


async def database_error(request: Request, exc: Exception) -> Response:
    """An ORM error: a 503 when it wraps a lost connection, otherwise a bug (500, logged)."""
    if unavailable(exc):
        return await dependency_error(request, exc)
    return _internal_error(request)


def _internal_error(request: Request) -> Response:
    log.exception("http.unhandled_error", path=request.url.path)
    return JSONResponse(
        {"error": {"code": "internal_error", "message": "internal error", "field": None}},
        status_code=500,
    )


async def unexpected_error(request: Request, exc: Exception) -> Response:
    if unavailable(exc):
        return await dependency_error(request, exc)
    log.exception("http.unhandled_error", path=request.url.path)
    return JSONResponse(
        {"error": {"code": "internal_error", "message": "internal error", "field": None}},
        status_code=500,
    )

"""Resumable uploads over the tus 1.0 protocol: core, creation, termination and expiration.

``POST /:id/uploads`` with ``Upload-Length`` creates an upload and answers its ``Location``;
``HEAD`` there tells its offset; ``PATCH`` with ``Upload-Offset`` and a body of type
``application/offset+octet-stream`` appends; ``DELETE`` terminates; ``OPTIONS`` on either path
advertises the protocol. Browser clients such as tus-js-client and Uppy speak it as is. Access is
as for ``PUT /:id/video`` (the owner's bearer token or the recording's upload token), and the
completed video is checked and committed the same way. Errors keep the API's JSON shape.
"""

from __future__ import annotations

import base64
import binascii
from datetime import UTC
from email.utils import format_datetime

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from app.errors import InvalidInput, PreconditionFailed, UnsupportedMediaType
from app.http import caller_of, services
from app.recordings.resumable import UploadState

BASE = "/api/feedback/recordings"
VERSION = "1.0.0"
EXTENSIONS = "creation,termination,expiration"


def _headers(request: Request, extra: dict[str, str] | None = None) -> dict[str, str]:
    return {"Tus-Resumable": VERSION, "Cache-Control": "no-store", **(extra or {})}


def _check_version(request: Request) -> None:
    given = request.headers.get("tus-resumable")
    if given != VERSION:
        raise PreconditionFailed(
            f"Tus-Resumable must be {VERSION} (got {given!r})", field="Tus-Resumable"
        )


def _whole(request: Request, header: str) -> int:
    value = request.headers.get(header)
    if value is None or not value.isdigit():
        raise InvalidInput(f"{header} must be a whole number of bytes", field=header)
    return int(value)


def _metadata(request: Request) -> dict[str, str]:
    """``Upload-Metadata``: comma-separated ``key base64value`` pairs."""
    out: dict[str, str] = {}
    raw = request.headers.get("upload-metadata", "")
    for pair in filter(None, (p.strip() for p in raw.split(","))):
        key, _, value = pair.partition(" ")
        try:
            out[key] = base64.b64decode(value, validate=True).decode() if value else ""
        except (binascii.Error, UnicodeDecodeError):
            raise InvalidInput(
                f"Upload-Metadata {key!r} is not base64 text", field="Upload-Metadata"
            ) from None
    return out


def _state_headers(request: Request, state: UploadState) -> dict[str, str]:
    return _headers(
        request,
        {
            "Upload-Offset": str(state.offset),
            "Upload-Length": str(state.length),
            "Upload-Expires": format_datetime(state.expires_at.astimezone(UTC), usegmt=True),
        },
    )


async def options(request: Request) -> Response:
    settings = services(request).settings
    return Response(
        status_code=204,
        headers={
            "Tus-Resumable": VERSION,
            "Tus-Version": VERSION,
            "Tus-Extension": EXTENSIONS,
            "Tus-Max-Size": str(settings.max_upload_bytes),
            "Allow": "OPTIONS, POST"
            if "upload_id" not in request.path_params
            else "OPTIONS, HEAD, PATCH, DELETE",
        },
    )


async def create(request: Request) -> Response:
    _check_version(request)
    caller = await caller_of(request)
    metadata = _metadata(request)
    rid = request.path_params["recording_id"]
    state = await services(request).uploads.create(
        caller,
        rid,
        length=_whole(request, "upload-length"),
        content_type=metadata.get("filetype") or metadata.get("contentType"),
    )
    location = f"{services(request).settings.public_base_url}{BASE}/{rid}/uploads/{state.id}"
    return Response(
        status_code=201, headers=_state_headers(request, state) | {"Location": location}
    )


async def head(request: Request) -> Response:
    _check_version(request)
    caller = await caller_of(request)
    state = await services(request).uploads.state(
        caller, request.path_params["recording_id"], request.path_params["upload_id"]
    )
    return Response(status_code=200, headers=_state_headers(request, state))


async def patch(request: Request) -> Response:
    _check_version(request)
    content_type = request.headers.get("content-type", "").split(";", 1)[0].strip().lower()
    if content_type != "application/offset+octet-stream":
        raise UnsupportedMediaType(
            "a PATCH body must be application/offset+octet-stream", field="Content-Type"
        )
    caller = await caller_of(request)
    declared = request.headers.get("content-length")
    state = await services(request).uploads.append(
        caller,
        request.path_params["recording_id"],
        request.path_params["upload_id"],
        offset=_whole(request, "upload-offset"),
        content_length=int(declared) if declared is not None and declared.isdigit() else None,
        body=request.stream(),
    )
    return Response(status_code=204, headers=_state_headers(request, state))


async def terminate(request: Request) -> Response:
    _check_version(request)
    caller = await caller_of(request)
    await services(request).uploads.terminate(
        caller, request.path_params["recording_id"], request.path_params["upload_id"]
    )
    return Response(status_code=204, headers=_headers(request))


routes = [
    Route(BASE + "/{recording_id}/uploads", create, methods=["POST"]),
    Route(BASE + "/{recording_id}/uploads", options, methods=["OPTIONS"]),
    Route(BASE + "/{recording_id}/uploads/{upload_id}", head, methods=["HEAD"]),
    Route(BASE + "/{recording_id}/uploads/{upload_id}", patch, methods=["PATCH"]),
    Route(BASE + "/{recording_id}/uploads/{upload_id}", terminate, methods=["DELETE"]),
    Route(BASE + "/{recording_id}/uploads/{upload_id}", options, methods=["OPTIONS"]),
]

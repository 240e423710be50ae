"""REST routes of the contract that concern records and video — thin: parse, call, shape."""

from __future__ import annotations

import json
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.http import caller_of, read_json_bytes, services
from app.recordings.models import Recording
from app.recordings.service import Created, iso

BASE = "/api/feedback/recordings"


def summary_of(recording: Recording) -> dict[str, Any]:
    return {
        "id": str(recording.id),
        "status": recording.status,
        "createdAt": iso(recording.created_at),
        "duration": recording.duration,
        "videoUploadStatus": recording.video_upload_status,
    }


def detail_of(recording: Recording) -> dict[str, Any]:
    """The detail document, without the capture (see :func:`get_recording`)."""
    owner = recording.owner
    return {
        "id": str(recording.id),
        "status": recording.status,
        "sessionId": recording.session_id,
        "createdAt": iso(recording.created_at),
        "duration": recording.duration,
        "metadata": recording.metadata,
        # additive fields
        "statusReason": recording.status_reason,
        "videoUploadStatus": recording.video_upload_status,
        "videoUploadError": recording.video_upload_error,
        "videoContentType": recording.video_content_type,
        "userId": owner.subject if owner is not None else None,
        "claimedAt": iso(recording.claimed_at),
    }


def created_of(created: Created) -> dict[str, Any]:
    recording = created.recording
    body: dict[str, Any] = {
        "success": True,
        "recordingId": str(recording.id),
        "videoUploadStatus": recording.video_upload_status,
        "status": recording.status,
        "uploadToken": created.upload_token,
    }
    if created.presigned is not None:
        body |= {
            "uploadUrl": created.presigned.url,
            "presignedVideoObjectId": created.artifact_id,
            "presignedVideoObjectKey": created.object_key,
            "presignedVideoContentType": created.presigned.content_type,
            "presignedTtlSeconds": created.presigned.ttl_seconds,
        }
    return body


async def create_recording(request: Request) -> Response:
    caller = await caller_of(request)
    svc = services(request)
    prepared = await svc.intake.read(await read_json_bytes(request))
    created = await svc.recordings.create(caller, prepared)
    return JSONResponse(created_of(created), status_code=201)


async def upload_video(request: Request) -> Response:
    caller = await caller_of(request)
    stored = await services(request).recordings.upload_video(
        caller,
        request.path_params["recording_id"],
        content_type=request.headers.get("content-type"),
        content_length=request.headers.get("content-length"),
        body=request.stream(),
    )
    return JSONResponse(
        {
            "success": True,
            "recordingId": str(stored.recording.id),
            "videoArtifactId": stored.artifact_id,
            "videoUrl": stored.video_url,
        }
    )


async def list_recordings(request: Request) -> Response:
    caller = await caller_of(request)
    page = await services(request).recordings.list(
        caller, limit=request.query_params.get("limit"), cursor=request.query_params.get("cursor")
    )
    return JSONResponse(
        {"recordings": [summary_of(r) for r in page.recordings], "nextCursor": page.next_cursor}
    )


async def get_recording(request: Request) -> Response:
    caller = await caller_of(request)
    svc = services(request).recordings
    recording = await svc.verify_direct_upload(
        await svc.get(caller, request.path_params["recording_id"])
    )
    actions, browser_state, elements = await svc.capture_text(recording)
    # The capture is passed on as the JSON text the database holds: tens of megabytes are
    # neither decoded nor encoded again here.
    head = json.dumps(detail_of(recording), separators=(",", ":"))
    capture = f'"actions":{actions},"browserState":{browser_state},"elements":{elements or "null"}'
    return Response(f"{head[:-1]},{capture}}}", media_type="application/json")


async def get_video_url(request: Request) -> Response:
    caller = await caller_of(request)
    url = await services(request).recordings.video_url(caller, request.path_params["recording_id"])
    return JSONResponse({"videoUrl": url})


async def claim_recording(request: Request) -> Response:
    caller = await caller_of(request)
    claimed = await services(request).recordings.claim(caller, request.path_params["recording_id"])
    return JSONResponse({"success": True, "id": str(claimed.id), "userId": caller.subject})


async def delete_recording(request: Request) -> Response:
    caller = await caller_of(request)
    await services(request).recordings.delete(caller, request.path_params["recording_id"])
    return Response(status_code=204)


routes = [
    Route(BASE, create_recording, methods=["POST"]),
    Route(BASE, list_recordings, methods=["GET"]),
    Route(BASE + "/{recording_id}", get_recording, methods=["GET"]),
    Route(BASE + "/{recording_id}", delete_recording, methods=["DELETE"]),
    Route(BASE + "/{recording_id}/video", upload_video, methods=["PUT"]),
    Route(BASE + "/{recording_id}/video", get_video_url, methods=["GET"]),
    Route(BASE + "/{recording_id}/claim", claim_recording, methods=["POST"]),
]

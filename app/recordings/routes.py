"""REST routes of the contract that concern records and video — thin: parse, call, shape."""

from __future__ import annotations

import json

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.http import caller_of, read_json_bytes, services
from app.recordings.documents import (
    Claimed,
    RecordingCreated,
    RecordingDetail,
    RecordingPage,
    RecordingSummary,
    VideoStored,
    VideoUrl,
)

BASE = "/api/feedback/recordings"


async def create_recording(request: Request) -> Response:
    caller = await caller_of(request)
    svc = services(request)
    prepared = await svc.intake.read(await read_json_bytes(request))
    created = await svc.recordings.create(caller, prepared)
    return JSONResponse(RecordingCreated.of(created).json_dict(exclude_none=True), status_code=201)


async def upload_video(request: Request) -> Response:
    caller = await caller_of(request)
    stored = await services(request).recordings.upload_video(
        caller,
        request.path_params["recording_id"],
        content_type=request.headers.get("content-type"),
        content_length=request.headers.get("content-length"),
        body=request.stream(),
    )
    return JSONResponse(VideoStored.of(stored).json_dict())


async def list_recordings(request: Request) -> Response:
    caller = await caller_of(request)
    page = await services(request).recordings.list(
        caller, limit=request.query_params.get("limit"), cursor=request.query_params.get("cursor")
    )
    document = RecordingPage(
        recordings=[RecordingSummary.of(r) for r in page.recordings], next_cursor=page.next_cursor
    )
    return JSONResponse(document.json_dict())


async def get_recording(request: Request) -> Response:
    caller = await caller_of(request)
    svc = services(request).recordings
    recording = await svc.verify_direct_upload(
        await svc.get(caller, request.path_params["recording_id"])
    )
    actions, browser_state, elements = await svc.capture_text(recording)
    # The capture is passed on as the JSON text the database holds: tens of megabytes are
    # neither decoded nor encoded again here.
    detail = RecordingDetail.of(recording).json_dict(exclude=set(RecordingDetail.CAPTURE))
    head = json.dumps(detail, separators=(",", ":"))
    capture = f'"actions":{actions},"browserState":{browser_state},"elements":{elements or "null"}'
    return Response(f"{head[:-1]},{capture}}}", media_type="application/json")


async def get_video_url(request: Request) -> Response:
    caller = await caller_of(request)
    url = await services(request).recordings.video_url(caller, request.path_params["recording_id"])
    return JSONResponse(VideoUrl(video_url=url).json_dict())


async def claim_recording(request: Request) -> Response:
    caller = await caller_of(request)
    claimed = await services(request).recordings.claim(caller, request.path_params["recording_id"])
    assert caller.subject is not None  # claim refuses anonymous callers
    return JSONResponse(Claimed(id=str(claimed.id), user_id=caller.subject).json_dict())


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

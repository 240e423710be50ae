"""The OpenAPI document of the REST routes (served at ``/api/openapi.json``), generated.

Every operation is declared once below with the models its route validates and answers with
(``app.recordings.schemas``, ``app.recordings.documents``, ``app.analysis.documents``), so what
the document states is what the server does. Links lead from create to every route that takes
the recording's id.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.analysis.documents import AnalysisResponse, AnalysisStarted, SummaryResponse
from app.config import Settings
from app.documents import ErrorDocument
from app.http import services
from app.recordings.documents import (
    Claimed,
    RecordingCreated,
    RecordingDetail,
    RecordingPage,
    VideoStored,
    VideoUrl,
)
from app.recordings.schemas import CreateRecording

BASE = "/api/feedback/recordings"
REF = "#/components/schemas/{model}"

ANYONE: list[dict[str, list[str]]] = [{}, {"bearerAuth": []}]
SIGNED_IN: list[dict[str, list[str]]] = [{"bearerAuth": []}]
SIGNED_IN_OR_TOKEN: list[dict[str, list[str]]] = [{"bearerAuth": []}, {"uploadToken": []}]
ACCESS_ERRORS = {
    401: "missing or invalid credentials",
    404: "no such recording, or not the caller's",
}
UNAVAILABLE = {503: "a backing service is unavailable; retry after Retry-After seconds"}

Response_ = type[BaseModel] | None


@dataclass(frozen=True, kw_only=True)
class Operation:
    """One route and method: what it takes, and every answer it gives."""

    method: str
    path: str
    operation_id: str
    summary: str
    security: list[dict[str, list[str]]]
    ok: tuple[int, str, Response_]
    errors: dict[int, str] = field(default_factory=dict)
    body: type[BaseModel] | str | None = None  # a model (JSON), or "video" (raw bytes)
    parameters: list[dict[str, Any]] = field(default_factory=list)
    links: dict[str, dict[str, Any]] = field(default_factory=dict)


ID = {
    "name": "recording_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "format": "uuid"},
}


def _by_id(operation_id: str) -> dict[str, Any]:
    return {
        "operationId": operation_id,
        "parameters": {"recording_id": "$response.body#/recordingId"},
    }


OPERATIONS = [
    Operation(
        method="post",
        path=BASE,
        operation_id="createRecording",
        summary="Create a recording document (anonymous or signed in)",
        security=ANYONE,
        body=CreateRecording,
        ok=(201, "created", RecordingCreated),
        errors={
            400: "invalid body; every bad field is named",
            401: "invalid bearer token",
            413: "body too large, or too many values in it",
            415: "not JSON",
            **UNAVAILABLE,
        },
        links={
            name: _by_id(name)
            for name in (
                "getRecording",
                "deleteRecording",
                "uploadVideo",
                "getVideoUrl",
                "claimRecording",
                "analyzeRecording",
                "getAnalysis",
                "getSummary",
            )
        },
    ),
    Operation(
        method="get",
        path=BASE,
        operation_id="listRecordings",
        summary="The signed-in user's recordings, newest first",
        security=SIGNED_IN,
        parameters=[
            {
                "name": "limit",
                "in": "query",
                "schema": {"type": "integer", "minimum": 1, "maximum": 100},
            },
            {
                "name": "cursor",
                "in": "query",
                "schema": {"type": "string"},
                "description": "the nextCursor of the previous page",
            },
        ],
        ok=(200, "a page", RecordingPage),
        errors={400: "bad limit or cursor", 401: "not signed in", **UNAVAILABLE},
    ),
    Operation(
        method="get",
        path=BASE + "/{recording_id}",
        operation_id="getRecording",
        summary="One recording",
        security=SIGNED_IN_OR_TOKEN,
        parameters=[ID],
        ok=(200, "the recording", RecordingDetail),
        errors={**ACCESS_ERRORS, **UNAVAILABLE},
    ),
    Operation(
        method="delete",
        path=BASE + "/{recording_id}",
        operation_id="deleteRecording",
        summary="Delete a recording with its video and everything derived from it",
        security=SIGNED_IN,
        parameters=[ID],
        ok=(204, "deleted", None),
        errors={**ACCESS_ERRORS, **UNAVAILABLE},
    ),
    Operation(
        method="put",
        path=BASE + "/{recording_id}/video",
        operation_id="uploadVideo",
        summary="Stream the video through the server",
        security=SIGNED_IN_OR_TOKEN,
        parameters=[ID],
        body="video",
        ok=(200, "stored", VideoStored),
        errors={
            400: "body shorter or longer than Content-Length, or empty",
            **ACCESS_ERRORS,
            409: "a video is already uploaded",
            411: "no Content-Length",
            413: "above the upload limit",
            415: "not video/* or application/octet-stream",
            **UNAVAILABLE,
        },
    ),
    Operation(
        method="get",
        path=BASE + "/{recording_id}/video",
        operation_id="getVideoUrl",
        summary="Where to download the video",
        security=SIGNED_IN_OR_TOKEN,
        parameters=[ID],
        ok=(200, "a short-lived download URL", VideoUrl),
        errors={**ACCESS_ERRORS, 409: "no video uploaded yet", **UNAVAILABLE},
    ),
    Operation(
        method="post",
        path=BASE + "/{recording_id}/claim",
        operation_id="claimRecording",
        summary="Claim an unclaimed recording",
        security=SIGNED_IN,
        parameters=[ID],
        ok=(200, "claimed by the caller", Claimed),
        errors={**ACCESS_ERRORS, **UNAVAILABLE},
    ),
    Operation(
        method="post",
        path=BASE + "/{recording_id}/analyze",
        operation_id="analyzeRecording",
        summary="Start the analysis (idempotent while one runs)",
        security=SIGNED_IN_OR_TOKEN,
        parameters=[ID],
        ok=(200, "queued or already running", AnalysisStarted),
        errors={**ACCESS_ERRORS, 409: "no uploaded video", 503: "the queue is unavailable"},
    ),
    Operation(
        method="get",
        path=BASE + "/{recording_id}/analysis",
        operation_id="getAnalysis",
        summary="The sections with citations, plus frames, transcript and findings",
        security=SIGNED_IN_OR_TOKEN,
        parameters=[ID],
        ok=(200, "the last finished analysis", AnalysisResponse),
        errors={
            **ACCESS_ERRORS,
            409: "no analysis has finished (status and progress included)",
            **UNAVAILABLE,
        },
    ),
    Operation(
        method="get",
        path=BASE + "/{recording_id}/summary",
        operation_id="getSummary",
        summary="The summary and key findings",
        security=SIGNED_IN_OR_TOKEN,
        parameters=[ID],
        ok=(200, "the summary and key findings", SummaryResponse),
        errors={
            **ACCESS_ERRORS,
            409: "no analysis has finished (status and progress included)",
            **UNAVAILABLE,
        },
    ),
    Operation(
        method="get",
        path="/healthz",
        operation_id="healthz",
        summary="The process is up",
        security=[{}],
        ok=(200, "process up", None),
    ),
    Operation(
        method="get",
        path="/readyz",
        operation_id="readyz",
        summary="PostgreSQL and Redis answer",
        security=[{}],
        ok=(200, "database and Redis reachable", None),
        errors={503: "a dependency is unreachable"},
    ),
]


def _json(schema: dict[str, Any]) -> dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _ref(model: type[BaseModel]) -> dict[str, Any]:
    return {"$ref": REF.format(model=model.__name__)}


def _operation(op: Operation) -> dict[str, Any]:
    status, description, model = op.ok
    ok: dict[str, Any] = {"description": description}
    if model is not None:
        ok["content"] = _json(_ref(model))
    if op.links:
        ok["links"] = op.links
    responses: dict[str, Any] = {str(status): ok}
    for code, text in op.errors.items():
        responses[str(code)] = {"description": text, "content": _json(_ref(ErrorDocument))}
    out: dict[str, Any] = {
        "operationId": op.operation_id,
        "summary": op.summary,
        "security": op.security,
        "responses": responses,
    }
    if op.parameters:
        out["parameters"] = op.parameters
    if op.body == "video":
        binary = {"schema": {"type": "string", "format": "binary"}}
        out["requestBody"] = {
            "required": True,
            "content": {"video/*": binary, "application/octet-stream": binary},
        }
    elif op.body is not None:
        assert not isinstance(op.body, str)
        out["requestBody"] = {"required": True, "content": _json(_ref(op.body))}
    return out


def _schemas() -> dict[str, Any]:
    models: set[type[BaseModel]] = {ErrorDocument}
    for op in OPERATIONS:
        if op.ok[2] is not None:
            models.add(op.ok[2])
        if op.body is not None and not isinstance(op.body, str):
            models.add(op.body)
    # Requests are validated as written by the client (validation mode); answers as serialised.
    keyed = [(m, "validation" if m is CreateRecording else "serialization") for m in models]
    _, document = models_json_schema(keyed, by_alias=True, ref_template=REF)  # type: ignore[arg-type]
    return dict(document.get("$defs", {}))


def openapi_document(settings: Settings) -> dict[str, Any]:
    paths: dict[str, dict[str, Any]] = {}
    for op in OPERATIONS:
        paths.setdefault(op.path, {})[op.method] = _operation(op)
    return {
        "openapi": "3.1.0",
        "info": {"title": "Recordings", "version": "1.0.0"},
        "servers": [{"url": settings.public_base_url}],
        "components": {
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "uploadToken": {"type": "apiKey", "in": "header", "name": "X-Upload-Token"},
            },
            "schemas": _schemas(),
        },
        "paths": paths,
    }


async def openapi(request: Request) -> Response:
    return JSONResponse(openapi_document(services(request).settings))


routes = [Route("/api/openapi.json", openapi, methods=["GET"])]

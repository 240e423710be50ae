"""The OpenAPI document of the REST routes (served at ``/api/openapi.json``)."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.config import Settings
from app.http import services
from app.recordings.schemas import CreateRecording

BASE = "/api/feedback/recordings"


def _error(description: str) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}},
    }


def _ok(description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


_ID = {
    "name": "recording_id",
    "in": "path",
    "required": True,
    "schema": {"type": "string", "format": "uuid"},
}
_AUTH_ERRORS = {"401": _error("missing or invalid credentials"), "404": _error("no such recording")}
_SIGNED_IN = [{"bearerAuth": []}]
_SIGNED_IN_OR_TOKEN = [{"bearerAuth": []}, {"uploadToken": []}]


def openapi_document(settings: Settings) -> dict[str, Any]:
    create_schema = CreateRecording.model_json_schema(ref_template="#/components/schemas/{model}")
    defs = create_schema.pop("$defs", {})
    summary = {
        "type": "object",
        "required": ["id", "status", "createdAt", "duration"],
        "properties": {
            "id": {"type": "string", "format": "uuid"},
            "status": {"type": "string", "enum": ["pending", "analyzing", "analyzed", "failed"]},
            "createdAt": {"type": "string", "format": "date-time"},
            "duration": {"type": ["number", "null"]},
            "videoUploadStatus": {"type": "string", "enum": ["pending", "uploaded", "failed"]},
        },
    }
    detail = {
        "type": "object",
        "required": ["id", "status", "sessionId", "createdAt", "duration", "metadata"],
        "properties": {
            **summary["properties"],  # type: ignore[dict-item]
            "sessionId": {"type": ["string", "null"]},
            "metadata": {"type": "object"},
            "statusReason": {"type": ["string", "null"]},
            "videoUploadError": {"type": ["string", "null"]},
            "videoContentType": {"type": "string"},
            "userId": {"type": ["string", "null"]},
            "claimedAt": {"type": ["string", "null"], "format": "date-time"},
            "actions": {"type": "array", "items": {"type": "object"}},
            "browserState": {"type": "object"},
            "elements": {"type": ["array", "null"], "items": {"type": "object"}},
        },
    }
    created = {
        "type": "object",
        "required": ["success", "recordingId", "videoUploadStatus", "status", "uploadToken"],
        "properties": {
            "success": {"type": "boolean"},
            "recordingId": {"type": "string", "format": "uuid"},
            "videoUploadStatus": {"type": "string"},
            "status": {"type": "string"},
            "uploadToken": {"type": "string"},
            "uploadUrl": {"type": "string"},
            "presignedVideoObjectId": {"type": "string"},
            "presignedVideoObjectKey": {"type": "string"},
            "presignedVideoContentType": {"type": "string"},
            "presignedTtlSeconds": {"type": "integer"},
        },
    }
    return {
        "openapi": "3.1.0",
        "info": {"title": "Recordings", "version": "1.0.0"},
        "servers": [{"url": settings.public_base_url}],
        "components": {
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "JWT"},
                "uploadToken": {"type": "apiKey", "in": "header", "name": "X-Upload-Token"},
            },
            "schemas": {
                **defs,
                "CreateRecording": create_schema,
                "Error": {
                    "type": "object",
                    "required": ["error"],
                    "properties": {
                        "error": {
                            "type": "object",
                            "required": ["code", "message", "field"],
                            "properties": {
                                "code": {"type": "string"},
                                "message": {"type": "string"},
                                "field": {"type": ["string", "null"]},
                                "details": {"type": "array", "items": {"type": "object"}},
                            },
                        }
                    },
                },
            },
        },
        "paths": {
            BASE: {
                "post": {
                    "operationId": "createRecording",
                    "summary": "Create a recording document (anonymous or signed in)",
                    "security": [{}, {"bearerAuth": []}],
                    "requestBody": {
                        "required": True,
                        "content": {
                            "application/json": {
                                "schema": {"$ref": "#/components/schemas/CreateRecording"}
                            }
                        },
                    },
                    "responses": {
                        "201": _ok("created", created),
                        "400": _error("invalid body; every bad field is named"),
                        "401": _error("invalid bearer token"),
                        "413": _error("body too large"),
                        "415": _error("not JSON"),
                    },
                },
                "get": {
                    "operationId": "listRecordings",
                    "summary": "The signed-in user's recordings, newest first",
                    "security": _SIGNED_IN,
                    "parameters": [
                        {
                            "name": "limit",
                            "in": "query",
                            "schema": {"type": "integer", "minimum": 1, "maximum": 100},
                        },
                        {"name": "cursor", "in": "query", "schema": {"type": "string"}},
                    ],
                    "responses": {
                        "200": _ok(
                            "a page",
                            {
                                "type": "object",
                                "required": ["recordings"],
                                "properties": {
                                    "recordings": {"type": "array", "items": summary},
                                    "nextCursor": {"type": ["string", "null"]},
                                },
                            },
                        ),
                        "400": _error("bad limit or cursor"),
                        "401": _error("not signed in"),
                    },
                },
            },
            BASE + "/{recording_id}": {
                "parameters": [_ID],
                "get": {
                    "operationId": "getRecording",
                    "security": _SIGNED_IN_OR_TOKEN,
                    "responses": {"200": _ok("the recording", detail), **_AUTH_ERRORS},
                },
                "delete": {
                    "operationId": "deleteRecording",
                    "security": _SIGNED_IN,
                    "responses": {"204": {"description": "deleted"}, **_AUTH_ERRORS},
                },
            },
            BASE + "/{recording_id}/video": {
                "parameters": [_ID],
                "put": {
                    "operationId": "uploadVideo",
                    "summary": "Stream the video through the server",
                    "security": _SIGNED_IN_OR_TOKEN,
                    "requestBody": {
                        "required": True,
                        "content": {
                            "video/*": {"schema": {"type": "string", "format": "binary"}},
                            "application/octet-stream": {
                                "schema": {"type": "string", "format": "binary"}
                            },
                        },
                    },
                    "responses": {
                        "200": _ok(
                            "stored",
                            {
                                "type": "object",
                                "required": [
                                    "success",
                                    "recordingId",
                                    "videoArtifactId",
                                    "videoUrl",
                                ],
                                "properties": {
                                    "success": {"type": "boolean"},
                                    "recordingId": {"type": "string"},
                                    "videoArtifactId": {"type": "string"},
                                    "videoUrl": {"type": "string"},
                                },
                            },
                        ),
                        "400": _error("body shorter or longer than Content-Length"),
                        **_AUTH_ERRORS,
                        "409": _error("a video is already uploaded"),
                        "411": _error("no Content-Length"),
                        "413": _error("above the upload limit"),
                        "415": _error("not video/* or application/octet-stream"),
                    },
                },
                "get": {
                    "operationId": "getVideoUrl",
                    "security": _SIGNED_IN_OR_TOKEN,
                    "responses": {
                        "200": _ok(
                            "a short-lived download URL",
                            {
                                "type": "object",
                                "required": ["videoUrl"],
                                "properties": {"videoUrl": {"type": "string"}},
                            },
                        ),
                        **_AUTH_ERRORS,
                        "409": _error("no video uploaded yet"),
                    },
                },
            },
            BASE + "/{recording_id}/claim": {
                "parameters": [_ID],
                "post": {
                    "operationId": "claimRecording",
                    "security": _SIGNED_IN,
                    "responses": {
                        "200": _ok(
                            "claimed by the caller",
                            {
                                "type": "object",
                                "required": ["success", "id", "userId"],
                                "properties": {
                                    "success": {"type": "boolean"},
                                    "id": {"type": "string"},
                                    "userId": {"type": "string"},
                                },
                            },
                        ),
                        **_AUTH_ERRORS,
                        "409": _error("claimed by another user"),
                    },
                },
            },
            BASE + "/{recording_id}/analyze": {
                "parameters": [_ID],
                "post": {
                    "operationId": "analyzeRecording",
                    "summary": "Start the analysis (idempotent while one runs)",
                    "security": _SIGNED_IN_OR_TOKEN,
                    "responses": {
                        "200": _ok(
                            "queued or already running",
                            {
                                "type": "object",
                                "required": ["status", "jobId"],
                                "properties": {
                                    "status": {"type": "string"},
                                    "jobId": {"type": "string"},
                                },
                            },
                        ),
                        **_AUTH_ERRORS,
                        "409": _error("no uploaded video"),
                        "503": _error("the queue is unavailable"),
                    },
                },
            },
            BASE + "/{recording_id}/analysis": {
                "parameters": [_ID],
                "get": {
                    "operationId": "getAnalysis",
                    "security": _SIGNED_IN_OR_TOKEN,
                    "responses": {
                        "200": _ok(
                            "sections with citations (plus frames, transcript, findings)",
                            {
                                "type": "object",
                                "required": ["sections"],
                                "properties": {
                                    "sections": {"type": "array", "items": {"type": "object"}}
                                },
                            },
                        ),
                        **_AUTH_ERRORS,
                        "409": _error("no analysis has finished (status and progress included)"),
                    },
                },
            },
            BASE + "/{recording_id}/summary": {
                "parameters": [_ID],
                "get": {
                    "operationId": "getSummary",
                    "security": _SIGNED_IN_OR_TOKEN,
                    "responses": {
                        "200": _ok(
                            "the summary and key findings",
                            {
                                "type": "object",
                                "required": ["summary", "keyFindings"],
                                "properties": {
                                    "summary": {"type": "string"},
                                    "keyFindings": {"type": "array", "items": {"type": "string"}},
                                },
                            },
                        ),
                        **_AUTH_ERRORS,
                        "409": _error("no analysis has finished (status and progress included)"),
                    },
                },
            },
            "/healthz": {
                "get": {
                    "operationId": "healthz",
                    "responses": {"200": {"description": "process up"}},
                }
            },
            "/readyz": {
                "get": {
                    "operationId": "readyz",
                    "responses": {
                        "200": {"description": "database and Redis reachable"},
                        "503": {"description": "a dependency is unreachable"},
                    },
                }
            },
        },
    }


async def openapi(request: Request) -> Response:
    return JSONResponse(openapi_document(services(request).settings))


routes = [Route("/api/openapi.json", openapi, methods=["GET"])]

"""REST routes for analysis: start one, read it, read its summary — thin: parse, call, shape."""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.analysis.models import AnalysisSection
from app.http import caller_of, services
from app.recordings.routes import BASE


def section_dict(section: AnalysisSection) -> dict[str, Any]:
    return {
        "title": section.title,
        "timestamp": section.timestamp,
        "endTimestamp": section.end_timestamp,
        "description": section.description,
        "citations": section.citations,
    }


async def analyze(request: Request) -> Response:
    caller = await caller_of(request)
    analysis = await services(request).analysis.request(caller, request.path_params["recording_id"])
    return JSONResponse({"status": "analyzing", "jobId": analysis.id})


async def get_analysis(request: Request) -> Response:
    caller = await caller_of(request)
    svc = services(request).analysis
    view = await svc.result(caller, request.path_params["recording_id"])
    return JSONResponse(
        {
            "sections": [section_dict(s) for s in view.sections],
            # additive
            "jobId": view.analysis.id,
            "status": view.analysis.status,
            "recording": view.analysis.probe,
            "frames": [
                {
                    "timestamp": f.timestamp,
                    "description": f.description,
                    "text": f.text,
                    "thumbnailUrl": await svc.thumbnail_url(f.thumbnail_key),
                }
                for f in view.frames
            ],
            "transcript": [
                {"start": t.start, "end": t.end, "text": t.text} for t in view.transcript
            ],
            "findings": [f.data for f in view.findings],
            "timings": view.analysis.timings,
        }
    )


async def get_summary(request: Request) -> Response:
    caller = await caller_of(request)
    view = await services(request).analysis.result(caller, request.path_params["recording_id"])
    return JSONResponse(
        {
            "summary": view.analysis.summary,
            "keyFindings": view.analysis.key_findings or [],
            "findings": [f.data for f in view.findings],
            "jobId": view.analysis.id,
        }
    )


routes = [
    Route(BASE + "/{recording_id}/analyze", analyze, methods=["POST"]),
    Route(BASE + "/{recording_id}/analysis", get_analysis, methods=["GET"]),
    Route(BASE + "/{recording_id}/summary", get_summary, methods=["GET"]),
]

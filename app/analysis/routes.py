"""REST routes for analysis: start one, read it, read its summary — thin: parse, call, shape."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app.analysis.documents import AnalysisResponse, AnalysisStarted, FrameDocument, SummaryResponse
from app.http import caller_of, services
from app.recordings.routes import BASE


async def analyze(request: Request) -> Response:
    caller = await caller_of(request)
    analysis = await services(request).analysis.request(caller, request.path_params["recording_id"])
    return JSONResponse(AnalysisStarted(job_id=analysis.id).json_dict())


async def get_analysis(request: Request) -> Response:
    caller = await caller_of(request)
    svc = services(request).analysis
    view = await svc.result(caller, request.path_params["recording_id"])
    frames = [
        FrameDocument(
            **stored.frame.model_dump(), thumbnail_url=await svc.thumbnail_url(stored.thumbnail_key)
        )
        for stored in view.frames
    ]
    document = AnalysisResponse(
        sections=view.sections,
        job_id=view.analysis.id,
        status=view.analysis.status,
        recording=view.recording,
        frames=frames,
        transcript=view.transcript,
        findings=view.findings,
        timings=view.analysis.timings,
    )
    return JSONResponse(document.json_dict())


async def get_summary(request: Request) -> Response:
    caller = await caller_of(request)
    view = await services(request).analysis.result(caller, request.path_params["recording_id"])
    assert view.summary is not None  # a finished analysis has one
    document = SummaryResponse(
        summary=view.summary.summary,
        key_findings=view.summary.key_findings,
        findings=view.findings,
        job_id=view.analysis.id,
    )
    return JSONResponse(document.json_dict())


routes = [
    Route(BASE + "/{recording_id}/analyze", analyze, methods=["POST"]),
    Route(BASE + "/{recording_id}/analysis", get_analysis, methods=["GET"]),
    Route(BASE + "/{recording_id}/summary", get_summary, methods=["GET"]),
]

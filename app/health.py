"""``/healthz`` (the process is up) and ``/readyz`` (PostgreSQL and Redis answer)."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app import db
from app.http import services


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    checks: dict[str, str] = {}
    try:
        await db.connection().execute_query("SELECT 1")
        checks["database"] = "ok"
    except Exception as exc:  # any failure means "not ready"; the reason is reported
        checks["database"] = f"error: {exc}"
    try:
        await services(request).redis.ping()
        checks["redis"] = "ok"
    except Exception as exc:
        checks["redis"] = f"error: {exc}"
    ready = all(v == "ok" for v in checks.values())
    return JSONResponse(
        {"status": "ok" if ready else "unavailable", "checks": checks},
        status_code=200 if ready else 503,
    )


routes = [
    Route("/healthz", healthz, methods=["GET"]),
    Route("/readyz", readyz, methods=["GET"]),
]

"""The reference dashboard: its page and static files, served by the API it is a client of.

One page (``index.html``) for every dashboard address — ``/`` and ``/recordings/{id}`` — whose
ES modules (under ``/web/``) do the rest through GraphQL. Nothing here reads a token: the page
keeps the caller's in the browser tab and sends it with each GraphQL request.
"""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles

WEB = Path(__file__).parent / "static"

# The page loads only its own modules and styles; it talks to this origin (HTTP and websocket);
# videos and thumbnails may come from storage elsewhere (presigned S3 URLs).
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self' ws: wss:; "
    "img-src 'self' data: https: http:; media-src 'self' https: http:; frame-ancestors 'none'; "
    "base-uri 'none'; form-action 'self'"
)


async def page(request: Request) -> Response:
    return FileResponse(
        WEB / "index.html",
        media_type="text/html",
        headers={"Content-Security-Policy": CSP, "Cache-Control": "no-cache"},
    )


routes = [
    Route("/", page, methods=["GET", "HEAD"]),
    Route("/recordings/{recording_id}", page, methods=["GET", "HEAD"]),
    Mount("/web", app=StaticFiles(directory=WEB, packages=None, html=False), name="web"),
]

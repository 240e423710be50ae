"""The download route of local storage: files served through signed, expiring URLs."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import FileResponse, Response
from starlette.routing import Route

from app.errors import NotFound
from app.http import services
from app.storage.base import StorageError
from app.storage.local import DOWNLOAD_PATH, LocalStorage


async def download(request: Request) -> Response:
    storage = services(request).storage
    if not isinstance(storage, LocalStorage):
        raise NotFound("not found")
    key = request.path_params["key"]
    if not storage.verify(
        key, request.query_params.get("expires", ""), request.query_params.get("signature", "")
    ):
        raise NotFound("the download link is invalid or has expired", code="link_expired")
    try:
        path = storage.path_for(key)
    except StorageError:
        raise NotFound("not found") from None
    if not path.is_file():
        raise NotFound("not found")
    info = await storage.head(key)
    content_type = (info.content_type if info else None) or "application/octet-stream"
    return FileResponse(path, media_type=content_type)


routes = [Route(DOWNLOAD_PATH + "{key:path}", download, methods=["GET", "HEAD"])]

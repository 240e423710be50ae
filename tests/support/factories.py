"""Plain async helpers that make what the tests need through the real API."""

from __future__ import annotations

import copy
import json
import time
from pathlib import Path
from typing import Any

import httpx
import jwt

DATA = Path(__file__).parent.parent / "data"
BASE = "/api/feedback/recordings"


def create_body(scenario: str = "login-500") -> dict[str, Any]:
    """A real recorder's create body."""
    return copy.deepcopy(json.loads((DATA / scenario / "create.json").read_text()))


def token(secret: str, subject: str, *, ttl: int = 3600) -> str:
    now = int(time.time())
    return jwt.encode({"sub": subject, "iat": now, "exp": now + ttl}, secret, algorithm="HS256")


def bearer(secret: str, subject: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token(secret, subject)}"}


async def create(
    http: httpx.AsyncClient,
    url: str,
    *,
    headers: dict[str, str] | None = None,
    body: dict[str, Any] | None = None,
) -> dict[str, Any]:
    response = await http.post(url + BASE, json=body or create_body(), headers=headers or {})
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def upload(
    http: httpx.AsyncClient,
    url: str,
    recording_id: str,
    data: bytes,
    *,
    headers: dict[str, str],
    content_type: str = "video/webm",
) -> httpx.Response:
    return await http.put(
        f"{url}{BASE}/{recording_id}/video",
        content=data,
        headers={"Content-Type": content_type, **headers},
    )


async def uploaded_recording(
    http: httpx.AsyncClient,
    api: Any,
    headers: dict[str, str],
    scenario: str = "upgrade-checkout",
    video: str = "recording.webm",
    data: bytes | None = None,
) -> str:
    """A recording created through ``api`` (anything with a ``url``) with its video uploaded."""
    created = await create(http, api.url, headers=headers, body=create_body(scenario))
    payload = data if data is not None else (DATA / scenario / video).read_bytes()
    content_type = "video/mp4" if video.endswith(".mp4") else "video/webm"
    r = await upload(
        http, api.url, created["recordingId"], payload, headers=headers, content_type=content_type
    )
    assert r.status_code == 200, r.text
    return str(created["recordingId"])

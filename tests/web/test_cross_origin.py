"""A page on another origin calls the API from the browser: allowed when its origin is listed in
RECORDINGS_CORS_ORIGINS, blocked by the browser when it is not."""

from __future__ import annotations

import asyncio
import functools
import http.server
import os
import sys
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from tests.conftest import Api
from tests.support import services
from tests.support.browser import launch
from tests.support.factories import BASE, DATA, create_body

# What a recorder embedded in a product does: create, upload the video with the upload token,
# read the recording back over GraphQL and open a GraphQL websocket.
RECORDER = """
async ({ api, base, body }) => {
  const created = await fetch(api + base, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  });
  const { recordingId, uploadToken } = await created.json();
  const video = await (await fetch("/recording.webm")).blob();
  const put = await fetch(`${api}${base}/${recordingId}/video`, {
    method: "PUT", headers: { "Content-Type": "video/webm", "X-Upload-Token": uploadToken },
    body: video,
  });
  const query = await fetch(api + "/graphql", {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-Upload-Token": uploadToken },
    body: JSON.stringify({
      query: "query($id: ID!) { recording(id: $id) { id videoUploadStatus status } }",
      variables: { id: recordingId },
    }),
  });
  const socket = await new Promise((resolve) => {
    const ws = new WebSocket(api.replace("http", "ws") + "/graphql", "graphql-transport-ws");
    ws.onopen = () => ws.send(JSON.stringify({ type: "connection_init",
      payload: { "X-Upload-Token": uploadToken } }));
    ws.onmessage = (m) => { resolve(JSON.parse(m.data).type); ws.close(); };
    ws.onerror = () => resolve("error");
  });
  return {
    created: created.status, recordingId, put: put.status, graphql: await query.json(), socket,
  };
}
"""


class _Quiet(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@functools.cache
def _site(tmp: Path) -> Path:
    (tmp / "index.html").write_text("<!doctype html><title>A product</title><p>recorder</p>")
    (tmp / "recording.webm").write_bytes((DATA / "login-500" / "recording.webm").read_bytes())
    return tmp


@functools.cache
def _serve(directory: Path, port: int) -> str:
    """A static site on ``port``, for the rest of the session (a daemon thread)."""
    handler = functools.partial(_Quiet, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", port), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return f"http://127.0.0.1:{port}"


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _site(tmp_path_factory.mktemp("site"))


@pytest.fixture(scope="module")
def listed_origin(backends, site: Path) -> str:
    port = urlsplit(backends.allowed_origin).port
    assert port is not None
    return _serve(site, port)


@pytest.fixture(scope="module")
def other_origin(site: Path) -> str:
    return _serve(site, services.free_port())


@pytest.fixture(scope="module")
async def browser() -> Any:
    async for launched in launch():
        yield launched


async def test_a_page_on_a_listed_origin_creates_uploads_and_queries(
    browser, local_api: Api, listed_origin: str, db
):
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(listed_origin + "/")
    result = await page.evaluate(
        RECORDER, {"api": local_api.url, "base": BASE, "body": create_body()}
    )
    await context.close()
    assert result["created"] == 201 and result["put"] == 200, result
    recording = result["graphql"]["data"]["recording"]
    assert recording == {
        "id": result["recordingId"],
        "videoUploadStatus": "uploaded",
        "status": "pending",
    }
    assert result["socket"] == "connection_ack"
    assert await db.fetchval("SELECT video_upload_status FROM recordings") == "uploaded"


async def test_a_page_on_another_origin_is_blocked_by_the_browser(
    browser, local_api: Api, other_origin: str, db
):
    context = await browser.new_context()
    page = await context.new_page()
    errors: list[str] = []
    page.on("console", lambda message: errors.append(message.text))
    await page.goto(other_origin + "/")
    failed = await page.evaluate(
        """async ({ api, base, body }) => {
          try {
            await fetch(api + base, { method: "POST",
              headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
            return null;
          } catch (error) { return `${error.name}: ${error.message}`; }
        }""",
        {"api": local_api.url, "base": BASE, "body": create_body()},
    )
    await context.close()
    assert failed == "TypeError: Failed to fetch"
    assert any("CORS policy" in e for e in errors), errors
    assert await db.fetchval("SELECT count(*) FROM recordings") == 0  # the request never went


DIRECT = """
async ({ api, base, body }) => {
  const created = await (await fetch(api + base, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
  })).json();
  const video = await (await fetch("/recording.webm")).blob();
  const put = await fetch(created.uploadUrl, {
    method: "PUT", headers: { "Content-Type": created.presignedVideoContentType }, body: video,
  });
  const query = await fetch(api + "/graphql", {
    method: "POST",
    headers: { "Content-Type": "application/json", "X-Upload-Token": created.uploadToken },
    body: JSON.stringify({
      query: "query($id: ID!) { recording(id: $id) { videoUploadStatus } }",
      variables: { id: created.recordingId },
    }),
  });
  return { put: put.status, graphql: await query.json() };
}
"""


async def test_a_page_on_a_listed_origin_uploads_straight_to_the_bucket(
    browser, s3_api: Api, listed_origin: str, db
):
    applied = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "app.cli",
        "bucket-cors",
        "--apply",
        env={**os.environ, **s3_api.env},
        stderr=asyncio.subprocess.PIPE,
    )
    _, stderr = await asyncio.wait_for(applied.communicate(), 60)
    assert applied.returncode == 0, stderr.decode()
    context = await browser.new_context()
    page = await context.new_page()
    await page.goto(listed_origin + "/")
    result = await page.evaluate(DIRECT, {"api": s3_api.url, "base": BASE, "body": create_body()})
    await context.close()
    assert result["put"] == 200, result
    assert result["graphql"]["data"]["recording"] == {"videoUploadStatus": "uploaded"}

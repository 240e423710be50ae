"""Resumable uploads over tus 1.0: a real tus client, cut connections resumed, the same checks."""

from __future__ import annotations

import asyncio
import base64
import io
import socket
from datetime import UTC, datetime, timedelta
from urllib.parse import urlsplit

import pytest
from tusclient.client import TusClient

from tests.conftest import Api, s3_client
from tests.support.factories import BASE, DATA, bearer, create

VIDEO = (DATA / "upgrade-checkout" / "recording.webm").read_bytes()  # ~1.9 MiB
TUS = {"Tus-Resumable": "1.0.0"}


def _upload_with_client(endpoint: str, headers: dict[str, str], data: bytes, **kw) -> str:
    """Upload with tuspy (the Python tus client) in chunks; returns the upload's URL."""
    client = TusClient(endpoint, headers=headers)
    uploader = client.uploader(
        file_stream=io.BytesIO(data),
        chunk_size=kw.pop("chunk_size", 256 * 1024),
        metadata={"filetype": "video/webm"},
        **kw,
    )
    uploader.upload()
    return str(uploader.url)


async def _stored_video(http, api: Api, rid: str, headers: dict[str, str]) -> bytes:
    url = (await http.get(f"{api.url}{BASE}/{rid}/video", headers=headers)).json()["videoUrl"]
    return (await http.get(url)).content


async def test_a_tus_client_uploads_in_chunks(api: Api, http, db, backends):
    alice = bearer(backends.jwt_secret, "alice")
    rid = (await create(http, api.url, headers=alice))["recordingId"]
    endpoint = f"{api.url}{BASE}/{rid}/uploads"
    options = await http.options(endpoint)
    assert options.status_code == 204
    assert options.headers["tus-resumable"] == "1.0.0"
    assert options.headers["tus-version"] == "1.0.0"
    assert "creation" in options.headers["tus-extension"]
    assert "termination" in options.headers["tus-extension"]
    await asyncio.to_thread(_upload_with_client, endpoint, alice, VIDEO)
    detail = (await http.get(f"{api.url}{BASE}/{rid}", headers=alice)).json()
    assert detail["videoUploadStatus"] == "uploaded"
    assert await _stored_video(http, api, rid, alice) == VIDEO
    assert await db.fetchval("SELECT count(*) FROM resumable_uploads") == 0
    if api.storage == "s3":
        client = s3_client(backends.s3_endpoint)
        assert not client.list_multipart_uploads(Bucket=api.bucket).get("Uploads")
        keys = [o["Key"] for o in client.list_objects_v2(Bucket=api.bucket)["Contents"]]
        assert not [k for k in keys if k.endswith(".tail")]


def _cut_patch(url: str, path: str, headers: dict[str, str], offset: int, data: bytes) -> None:
    """Send a PATCH announcing all of ``data`` but drop the connection after half of it."""
    parts = urlsplit(url)
    lines = [
        f"PATCH {path} HTTP/1.1",
        f"Host: {parts.netloc}",
        "Tus-Resumable: 1.0.0",
        "Content-Type: application/offset+octet-stream",
        f"Upload-Offset: {offset}",
        f"Content-Length: {len(data)}",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    with socket.create_connection((parts.hostname, parts.port), timeout=10) as sock:
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        sock.sendall(data[: len(data) // 2])
        # An abrupt end: the server sees the body stop part-way.
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")


async def _offset(http, upload_url: str, headers: dict[str, str]) -> int:
    r = await http.head(upload_url, headers={**headers, **TUS})
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    return int(r.headers["upload-offset"])


async def test_a_cut_connection_resumes_from_the_last_stored_byte(api: Api, http, db, backends):
    token_headers: dict[str, str] = {}
    created = await create(http, api.url)  # anonymous: the upload token is the credential
    rid = created["recordingId"]
    token_headers = {"X-Upload-Token": created["uploadToken"]}
    made = await http.post(
        f"{api.url}{BASE}/{rid}/uploads",
        headers={
            **token_headers,
            **TUS,
            "Upload-Length": str(len(VIDEO)),
            "Upload-Metadata": "filetype " + base64.b64encode(b"video/webm").decode(),
        },
    )
    assert made.status_code == 201, made.text
    upload_url = made.headers["location"]
    assert upload_url.startswith(f"{api.url}{BASE}/{rid}/uploads/")
    assert made.headers["upload-expires"]
    path = urlsplit(upload_url).path
    offsets = [0]
    for _ in range(2):  # cut twice, each time part-way through what was announced
        start = offsets[-1]
        await asyncio.to_thread(
            _cut_patch, api.url, path, token_headers, start, VIDEO[start : start + 900_000]
        )
        for _ in range(50):  # the server notices the cut and stores what came
            await asyncio.sleep(0.1)
            now = await _offset(http, upload_url, token_headers)
            if now > start and await db.fetchval(
                "SELECT busy_until IS NULL FROM resumable_uploads"
            ):
                break
        assert start < now < start + 900_000, (start, now)
        offsets.append(now)
    # A stale offset is refused; the right one continues to the end.
    stale = await http.patch(
        upload_url,
        content=VIDEO[:10],
        headers={
            **token_headers,
            **TUS,
            "Upload-Offset": "0",
            "Content-Type": "application/offset+octet-stream",
        },
    )
    assert stale.status_code == 409 and stale.json()["error"]["code"] == "offset_mismatch"
    await asyncio.to_thread(
        _upload_with_client,
        f"{api.url}{BASE}/{rid}/uploads",
        token_headers,
        VIDEO,
        url=upload_url,  # resume: the client asks the offset with HEAD and goes on from there
    )
    assert await _stored_video(http, api, rid, token_headers) == VIDEO


async def test_tus_refuses_what_put_refuses_and_its_own_mistakes(api: Api, http, db, backends):
    alice = bearer(backends.jwt_secret, "alice")
    rid = (await create(http, api.url, headers=alice))["recordingId"]
    endpoint = f"{api.url}{BASE}/{rid}/uploads"

    async def post(headers: dict[str, str]):
        return await http.post(endpoint, headers={**alice, **headers})

    too_big = await post({**TUS, "Upload-Length": str(10 * 1024**4)})
    assert too_big.status_code == 413 and too_big.json()["error"]["field"] == "Upload-Length"
    assert (await post({**TUS, "Upload-Length": "0"})).status_code == 400
    assert (await post({**TUS})).status_code == 400
    assert (await post({"Upload-Length": "10"})).status_code == 412
    not_video = await post(
        {
            **TUS,
            "Upload-Length": "10",
            "Upload-Metadata": "filetype " + base64.b64encode(b"text/plain").decode(),
        }
    )
    assert not_video.status_code == 415
    bob = bearer(backends.jwt_secret, "bob")
    someone_else = await http.post(endpoint, headers={**bob, **TUS, "Upload-Length": "10"})
    assert someone_else.status_code == 404

    made = await post({**TUS, "Upload-Length": "10"})
    url = made.headers["location"]
    wrong_type = await http.patch(url, content=b"x", headers={**alice, **TUS, "Upload-Offset": "0"})
    assert wrong_type.status_code == 415
    past_end = await http.patch(
        url,
        content=b"x" * 11,
        headers={
            **alice,
            **TUS,
            "Upload-Offset": "0",
            "Content-Type": "application/offset+octet-stream",
        },
    )
    assert past_end.status_code == 413
    assert (await http.head(url, headers={**bob, **TUS})).status_code == 404
    gone = await http.delete(url, headers={**alice, **TUS})
    assert gone.status_code == 204
    assert (await http.head(url, headers={**alice, **TUS})).status_code == 404
    assert await db.fetchval("SELECT count(*) FROM resumable_uploads") == 0
    detail = (await http.get(f"{api.url}{BASE}/{rid}", headers=alice)).json()
    assert detail["videoUploadStatus"] == "pending"


async def test_unfinished_uploads_expire_and_are_aborted(api: Api, http, db, backends, orm):
    alice = bearer(backends.jwt_secret, "alice")
    rid = (await create(http, api.url, headers=alice))["recordingId"]
    size = 12 * 1024**2  # more than one S3 part: a multipart upload with a part and a tail
    made = await http.post(
        f"{api.url}{BASE}/{rid}/uploads",
        headers={**alice, **TUS, "Upload-Length": str(size)},
    )
    url = made.headers["location"]
    part = await http.patch(
        url,
        content=b"v" * (9 * 1024**2),
        headers={
            **alice,
            **TUS,
            "Upload-Offset": "0",
            "Content-Type": "application/offset+octet-stream",
        },
    )
    assert part.status_code == 204 and part.headers["upload-offset"] == str(9 * 1024**2)
    if api.storage == "s3":
        client = s3_client(backends.s3_endpoint)
        assert client.list_multipart_uploads(Bucket=api.bucket).get("Uploads")
    # The worker's sweep aborts what has outlived its time.
    swept = await orm.uploads.sweep_expired(datetime.now(UTC) + timedelta(days=2))
    assert swept == 1
    assert await db.fetchval("SELECT count(*) FROM resumable_uploads") == 0
    assert (await http.head(url, headers={**alice, **TUS})).status_code == 404
    if api.storage == "s3":
        assert not client.list_multipart_uploads(Bucket=api.bucket).get("Uploads")
    else:
        assert not list(api.data_dir.rglob("*.part"))


@pytest.fixture
async def orm(api: Api, backends, db, monkeypatch):
    """The services of an API process, in the test's process (the same storage as ``api``)."""
    from app.config import Settings
    from app.services import open_services

    for name, value in api.env.items():
        monkeypatch.setenv(name, value)
    async with open_services(Settings(), api=False) as services:
        yield services

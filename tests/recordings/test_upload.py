"""PUT /:id/video: streaming into storage, and every way an upload can go wrong."""

from __future__ import annotations

import asyncio
import hashlib
import os

from tests.conftest import Api, s3_client
from tests.support.factories import BASE, bearer, create, upload
from tests.support.rawhttp import raw_request


async def stored_objects(api: Api, backends) -> list[str]:
    """Every object the backend holds (no partial files, no leftover uploads)."""
    if api.storage == "local":
        root = api.data_dir / "objects"
        return sorted(
            str(p.relative_to(root))
            for p in root.rglob("*")
            if p.is_file() and not p.name.endswith(".json")
        )
    listing = s3_client(backends.s3_endpoint).list_objects_v2(Bucket=api.bucket)
    return sorted(o["Key"] for o in listing.get("Contents", []))


async def read_object(api: Api, backends, key: str) -> bytes:
    if api.storage == "local":
        return (api.data_dir / "objects" / key).read_bytes()
    return s3_client(backends.s3_endpoint).get_object(Bucket=api.bucket, Key=key)["Body"].read()


async def test_upload_stores_the_bytes_and_returns_a_working_url(api: Api, http, db, backends):
    headers = bearer(backends.jwt_secret, "alice")
    created = await create(http, api.url, headers=headers)
    rid = created["recordingId"]
    data = os.urandom(3 * 1024 * 1024 + 17)
    r = await upload(http, api.url, rid, data, headers=headers)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["success"] is True and body["recordingId"] == rid
    assert body["videoArtifactId"].startswith("obj-")
    artifact = await db.fetchrow(
        "SELECT * FROM video_artifacts WHERE id = $1", body["videoArtifactId"]
    )
    assert artifact["size"] == len(data) and artifact["state"] == "stored"
    assert artifact["content_type"] == "video/webm"
    assert await read_object(api, backends, artifact["object_key"]) == data
    downloaded = await http.get(body["videoUrl"])
    assert downloaded.status_code == 200
    assert hashlib.sha256(downloaded.content).digest() == hashlib.sha256(data).digest()
    detail = (await http.get(f"{api.url}{BASE}/{rid}", headers=headers)).json()
    assert detail["videoUploadStatus"] == "uploaded"


async def test_upload_token_authorises_the_upload(api: Api, http, db):
    created = await create(http, api.url)
    r = await upload(
        http,
        api.url,
        created["recordingId"],
        b"v" * 100,
        headers={"X-Upload-Token": created["uploadToken"]},
        content_type="application/octet-stream",
    )
    assert r.status_code == 200
    # octet-stream takes the type the recording declared
    assert await db.fetchval("SELECT content_type FROM video_artifacts") == "video/webm"


async def test_missing_content_length_is_411(api: Api, http, db, backends):
    created = await create(http, api.url)
    head = (
        f"PUT {BASE}/{created['recordingId']}/video HTTP/1.1\r\nHost: x\r\n"
        f"X-Upload-Token: {created['uploadToken']}\r\nContent-Type: video/webm\r\n"
        "Transfer-Encoding: chunked"
    )
    status, reply = raw_request(api.url, head, b"5\r\nhello\r\n0\r\n\r\n")
    assert status == 411, reply
    assert b'"length_required"' in reply
    assert await stored_objects(api, backends) == []


async def test_wrong_media_type_is_415(api: Api, http, db, backends):
    created = await create(http, api.url)
    for content_type in ("text/plain", "image/png", "application/json"):
        r = await upload(
            http,
            api.url,
            created["recordingId"],
            b"x" * 10,
            headers={"X-Upload-Token": created["uploadToken"]},
            content_type=content_type,
        )
        assert r.status_code == 415
        assert r.json()["error"]["field"] == "Content-Type"
    assert await stored_objects(api, backends) == []


async def test_too_large_is_413_before_the_body_is_read(api: Api, http, db, backends):
    created = await create(http, api.url)
    head = (
        f"PUT {BASE}/{created['recordingId']}/video HTTP/1.1\r\nHost: x\r\n"
        f"X-Upload-Token: {created['uploadToken']}\r\nContent-Type: video/webm\r\n"
        f"Content-Length: {3 * 1024**3}"
    )
    # No body is sent at all: an answer proves the server decided from the header alone.
    status, reply = raw_request(api.url, head, b"", timeout=10)
    assert status == 413, reply
    assert await stored_objects(api, backends) == []


async def test_short_body_is_400_and_stores_nothing(api: Api, http, db, backends):
    created = await create(http, api.url)
    rid = created["recordingId"]
    head = (
        f"PUT {BASE}/{rid}/video HTTP/1.1\r\nHost: x\r\n"
        f"X-Upload-Token: {created['uploadToken']}\r\nContent-Type: video/webm\r\n"
        "Content-Length: 100000"
    )
    status, reply = raw_request(api.url, head, b"x" * 40000, half_close=True)
    assert status in (400, None), reply  # the client is gone; the answer may not reach it
    await asyncio.sleep(0.5)
    assert await stored_objects(api, backends) == []
    row = await db.fetchrow("SELECT video_upload_status, video_upload_error FROM recordings")
    assert row["video_upload_status"] == "failed"
    assert "of 100000 bytes" in row["video_upload_error"]
    assert await db.fetchval("SELECT count(*) FROM video_artifacts WHERE state = 'stored'") == 0
    # nothing is lost: the upload can be retried
    r = await upload(
        http, api.url, rid, b"y" * 10, headers={"X-Upload-Token": created["uploadToken"]}
    )
    assert r.status_code == 200


async def test_long_body_is_400_and_stores_nothing(api: Api, http, db, backends):
    created = await create(http, api.url)
    head = (
        f"PUT {BASE}/{created['recordingId']}/video HTTP/1.1\r\nHost: x\r\n"
        f"X-Upload-Token: {created['uploadToken']}\r\nContent-Type: video/webm\r\n"
        "Content-Length: 100"
    )
    status, reply = raw_request(api.url, head, b"x" * 5000)
    assert status == 400, reply
    await asyncio.sleep(0.3)
    assert await stored_objects(api, backends) == []


async def test_second_upload_is_409_and_keeps_the_first(api: Api, http, db, backends):
    created = await create(http, api.url)
    token = {"X-Upload-Token": created["uploadToken"]}
    assert (
        await upload(http, api.url, created["recordingId"], b"first", headers=token)
    ).status_code == 200
    r = await upload(http, api.url, created["recordingId"], b"second", headers=token)
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "already_uploaded"
    keys = await stored_objects(api, backends)
    assert len(keys) == 1 and await read_object(api, backends, keys[0]) == b"first"


async def test_racing_uploads_leave_exactly_one_video(api: Api, http, db, backends):
    created = await create(http, api.url)
    token = {"X-Upload-Token": created["uploadToken"]}
    results = await asyncio.gather(
        *(
            upload(http, api.url, created["recordingId"], bytes([i]) * 200_000, headers=token)
            for i in range(4)
        )
    )
    statuses = sorted(r.status_code for r in results)
    assert statuses.count(200) == 1 and statuses.count(409) == 3
    assert len(await stored_objects(api, backends)) == 1
    assert await db.fetchval("SELECT count(*) FROM video_artifacts") == 1


async def test_empty_body_is_400(api: Api, http, db, backends):
    created = await create(http, api.url)
    r = await upload(
        http,
        api.url,
        created["recordingId"],
        b"",
        headers={"X-Upload-Token": created["uploadToken"]},
    )
    assert r.status_code == 400
    assert await stored_objects(api, backends) == []


async def test_video_url_before_upload_is_409(api: Api, http, db):
    created = await create(http, api.url)
    r = await http.get(
        f"{api.url}{BASE}/{created['recordingId']}/video",
        headers={"X-Upload-Token": created["uploadToken"]},
    )
    assert r.status_code == 409
    assert r.json()["error"]["code"] == "video_not_uploaded"


async def test_bad_upload_token_is_401(api: Api, http, db):
    created = await create(http, api.url)
    r = await upload(
        http, api.url, created["recordingId"], b"x", headers={"X-Upload-Token": "garbage"}
    )
    assert r.status_code == 401
    assert r.json()["error"]["field"] == "X-Upload-Token"


async def test_unknown_recording_is_404(api: Api, http, db, backends):
    headers = bearer(backends.jwt_secret, "alice")
    for rid in ("00000000-0000-0000-0000-000000000000", "not-a-uuid"):
        r = await upload(http, api.url, rid, b"x", headers=headers)
        assert r.status_code == 404
        assert (await http.get(f"{api.url}{BASE}/{rid}", headers=headers)).status_code == 404


async def test_unknown_route_has_the_error_shape(api: Api, http):
    r = await http.get(api.url + "/api/nope")
    assert r.status_code == 404
    assert r.json()["error"]["code"] == "not_found"
    r = await http.patch(api.url + BASE)
    assert r.status_code == 405 and r.json()["error"]["code"] == "method_not_allowed"

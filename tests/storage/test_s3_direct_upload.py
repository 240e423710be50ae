"""Direct uploads to S3 through the presigned URL, verified by the service, not trusting the client.

moto's S3 server does not enforce the signed Content-Type or the expiry itself, so these tests
upload what a misbehaving client would and check that the service's own verification catches it.
"""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import Api, s3_client
from tests.support.factories import BASE, bearer, create


@pytest.fixture
def s3(s3_api: Api, db, backends) -> Api:
    from tests.conftest import empty_storage

    empty_storage(s3_api, backends)
    return s3_api


async def detail(http, api: Api, rid: str, headers) -> dict:
    r = await http.get(f"{api.url}{BASE}/{rid}", headers=headers)
    assert r.status_code == 200
    return r.json()


async def test_presigned_put_then_read_marks_uploaded(s3: Api, http, db, backends):
    alice = bearer(backends.jwt_secret, "alice")
    created = await create(http, s3.url, headers=alice)
    rid = created["recordingId"]
    assert (await detail(http, s3, rid, alice))[
        "videoUploadStatus"
    ] == "pending"  # nothing there yet
    put = httpx.put(
        created["uploadUrl"],
        content=b"\x1aE\xdf\xa3" + b"v" * 5000,
        headers={"Content-Type": created["presignedVideoContentType"]},
    )
    assert put.status_code == 200
    assert (await detail(http, s3, rid, alice))["videoUploadStatus"] == "uploaded"
    artifact = await db.fetchrow("SELECT * FROM video_artifacts")
    assert artifact["id"] == created["presignedVideoObjectId"]
    assert artifact["state"] == "stored" and artifact["size"] == 5004
    url = (await http.get(f"{s3.url}{BASE}/{rid}/video", headers=alice)).json()["videoUrl"]
    assert httpx.get(url).content.startswith(b"\x1aE\xdf\xa3")


@pytest.mark.parametrize(
    ("content_type", "data", "reason"),
    [
        ("text/plain", b"v" * 100, "uploaded as text/plain"),
        ("video/mp4", b"v" * 100, "but video/webm was signed"),
        ("video/webm", b"", "empty"),
    ],
)
async def test_a_wrong_direct_upload_fails_with_its_reason(
    s3: Api, http, db, backends, content_type, data, reason
):
    alice = bearer(backends.jwt_secret, "alice")
    created = await create(http, s3.url, headers=alice)
    rid = created["recordingId"]
    # moto accepts this although the URL signed another Content-Type; real S3 would refuse it.
    assert (
        httpx.put(
            created["uploadUrl"], content=data, headers={"Content-Type": content_type}
        ).status_code
        == 200
    )
    state = await detail(http, s3, rid, alice)
    assert state["videoUploadStatus"] == "failed"
    assert reason in state["videoUploadError"]
    # the bad object is gone, and the upload can be retried through the server
    listing = s3_client(backends.s3_endpoint).list_objects_v2(Bucket=s3.bucket)
    assert listing.get("KeyCount", 0) == 0
    r = await http.put(
        f"{s3.url}{BASE}/{rid}/video",
        content=b"good",
        headers={**alice, "Content-Type": "video/webm"},
    )
    assert r.status_code == 200
    assert (await detail(http, s3, rid, alice))["videoUploadStatus"] == "uploaded"


async def test_server_upload_after_presign_replaces_the_presigned_artifact(
    s3: Api, http, db, backends
):
    alice = bearer(backends.jwt_secret, "alice")
    created = await create(http, s3.url, headers=alice)
    r = await http.put(
        f"{s3.url}{BASE}/{created['recordingId']}/video",
        content=b"abc",
        headers={**alice, "Content-Type": "video/webm"},
    )
    assert r.status_code == 200
    rows = await db.fetch("SELECT id, state FROM video_artifacts")
    assert [(row["id"], row["state"]) for row in rows] == [(r.json()["videoArtifactId"], "stored")]

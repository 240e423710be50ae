"""POST /api/feedback/recordings: validation, exact storage, presigned fields per backend."""

from __future__ import annotations

import json
from urllib.parse import parse_qs, urlsplit

import pytest

from tests.conftest import Api
from tests.support.factories import BASE, bearer, create_body


async def count(db, table: str) -> int:
    return await db.fetchval(f"SELECT count(*) FROM {table}")


@pytest.mark.parametrize("scenario", ["login-500", "upgrade-checkout"])
async def test_create_stores_exactly_what_was_sent(api: Api, http, db, scenario):
    body = create_body(scenario)
    r = await http.post(api.url + BASE, json=body)
    assert r.status_code == 201
    created = r.json()
    assert created["success"] is True
    assert created["status"] == "pending" and created["videoUploadStatus"] == "pending"
    assert created["uploadToken"]
    row = await db.fetchrow("SELECT * FROM recordings WHERE id = $1::uuid", created["recordingId"])
    assert json.loads(row["metadata"]) == body["metadata"]
    assert json.loads(row["actions"]) == body["actions"]
    assert json.loads(row["browser_state"]) == body["browserState"]
    assert json.loads(row["elements"]) == body["elements"]
    assert row["video_content_type"] == "video/webm"  # codec parameters normalised away
    assert row["owner_id"] is None and row["claimed_at"] is None
    assert row["duration"] == body["metadata"]["duration"]


async def test_presigned_fields_only_where_storage_can_presign(api: Api, http, db):
    created = (await http.post(api.url + BASE, json=create_body())).json()
    presigned = {"uploadUrl", "presignedVideoObjectId", "presignedVideoObjectKey",
                 "presignedVideoContentType", "presignedTtlSeconds"}
    if api.storage == "local":
        assert presigned.isdisjoint(created)
        assert await count(db, "video_artifacts") == 0
        return
    assert presigned <= set(created)
    assert created["presignedVideoObjectId"].startswith("obj-")
    assert created["presignedVideoObjectKey"].endswith(f"recording_{created['recordingId']}.webm")
    assert created["presignedVideoContentType"] == "video/webm"
    assert created["presignedTtlSeconds"] == 300
    query = parse_qs(urlsplit(created["uploadUrl"]).query)
    assert query["X-Amz-Expires"] == ["300"]
    assert "content-type" in query["X-Amz-SignedHeaders"][0].split(";")
    assert query["X-Amz-Algorithm"] == ["AWS4-HMAC-SHA256"]


async def test_signed_in_creator_owns_the_recording(api: Api, http, db, backends):
    created = (await http.post(api.url + BASE, json=create_body(),
                               headers=bearer(backends.jwt_secret, "alice"))).json()
    row = await db.fetchrow(
        "SELECT u.subject, r.claimed_at FROM recordings r JOIN users u ON u.id = r.owner_id "
        "WHERE r.id = $1::uuid", created["recordingId"])
    assert row["subject"] == "alice" and row["claimed_at"] is not None


@pytest.mark.parametrize("content_type,stored", [
    ("video/webm;codecs=vp9,opus", "video/webm"),
    ("video/mp4", "video/mp4"),
    ("video/quicktime", "video/quicktime"),
])
async def test_content_type_is_normalised(api: Api, http, db, content_type, stored):
    body = create_body() | {"videoContentType": content_type}
    created = (await http.post(api.url + BASE, json=body)).json()
    assert await db.fetchval("SELECT video_content_type FROM recordings WHERE id = $1::uuid",
                             created["recordingId"]) == stored


async def test_every_bad_field_is_named_and_nothing_is_stored(api: Api, http, db):
    body = create_body()
    del body["metadata"]["title"]
    body["metadata"]["duration"] = "long"
    body["actions"][1]["timestamp"] = -5
    body["browserState"]["consoleLogs"] = "none"
    body["videoContentType"] = "image/png"
    body["surprise"] = 1
    r = await http.post(api.url + BASE, json=body)
    assert r.status_code == 400
    error = r.json()["error"]
    assert error["code"] == "invalid_input"
    fields = {d["field"] for d in error["details"]}
    assert {"metadata.title", "metadata.duration", "actions[1].timestamp",
            "browserState.consoleLogs", "videoContentType", "surprise"} <= fields
    assert error["field"] in fields
    assert await count(db, "recordings") == 0


@pytest.mark.parametrize("payload,headers,status,field", [
    (b"{not json", {"Content-Type": "application/json"}, 400, "body"),
    (b"[1, 2]", {"Content-Type": "application/json"}, 400, "body"),
    (b'{"metadata": {}}', {"Content-Type": "text/plain"}, 415, "Content-Type"),
    (b"", {"Content-Type": "application/json"}, 400, "body"),
    (b'{"metadata": 5}', {"Content-Type": "application/json"}, 400, "metadata"),
])
async def test_malformed_bodies_are_4xx(api: Api, http, db, payload, headers, status, field):
    r = await http.post(api.url + BASE, content=payload, headers=headers)
    assert r.status_code == status
    assert r.json()["error"]["field"] == field
    assert await count(db, "recordings") == 0


async def test_invalid_bearer_token_is_401_not_anonymous(api: Api, http, db):
    for header in ("Bearer not-a-jwt", "Basic abc", "Bearer"):
        r = await http.post(api.url + BASE, json=create_body(), headers={"Authorization": header})
        assert r.status_code == 401, header
        assert r.json()["error"]["code"] == "unauthenticated"
    assert await count(db, "recordings") == 0


async def test_oversized_json_is_413(api: Api, http, db):
    body = create_body()
    body["actions"] = [{"type": "click", "timestamp": 1, "text": "x" * 1024}] * 40_000  # ~41 MiB
    r = await http.post(api.url + BASE, json=body)
    assert r.status_code == 413
    assert await count(db, "recordings") == 0


async def test_nul_characters_are_refused_not_a_500(api: Api, http, db):
    body = create_body()
    body["metadata"]["title"] = "bad\u0000title"
    body["actions"][0]["text"] = "also\u0000bad"
    r = await http.post(api.url + BASE, json=body)
    assert r.status_code == 400
    fields = {d["field"] for d in r.json()["error"]["details"]}
    assert fields == {"metadata.title", "actions[0].text"}
    assert await count(db, "recordings") == 0

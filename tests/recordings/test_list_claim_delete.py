"""Listing with cursors, claiming, deleting."""

from __future__ import annotations

import uuid

from tests.conftest import Api, s3_client
from tests.support.factories import BASE, bearer, create, create_body, upload


async def test_list_is_newest_first_with_cursor_pages(api: Api, http, db, backends):
    alice = bearer(backends.jwt_secret, "alice")
    made = [(await create(http, api.url, headers=alice))["recordingId"] for _ in range(23)]
    seen: list[dict] = []
    cursor = None
    pages = 0
    while True:
        params = {"limit": 10} | ({"cursor": cursor} if cursor else {})
        r = await http.get(api.url + BASE, headers=alice, params=params)
        assert r.status_code == 200
        page = r.json()
        assert len(page["recordings"]) <= 10
        seen += page["recordings"]
        pages += 1
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert pages == 3
    assert [r["id"] for r in seen] == list(reversed(made))
    first = seen[0]
    assert set(first) >= {"id", "status", "createdAt", "duration"}
    assert first["createdAt"].endswith("Z") and first["status"] == "pending"


async def test_list_rejects_bad_paging(api: Api, http, db, backends):
    alice = bearer(backends.jwt_secret, "alice")
    for params, field in (
        ({"limit": 0}, "limit"),
        ({"limit": "ten"}, "limit"),
        ({"limit": 1000}, "limit"),
        ({"cursor": "!!!"}, "cursor"),
        ({"cursor": "eyJhIjogMX0"}, "cursor"),
    ):
        r = await http.get(api.url + BASE, headers=alice, params=params)
        assert r.status_code == 400, params
        assert r.json()["error"]["field"] == field


async def test_claim_rules(api: Api, http, db, backends):
    alice, bob = bearer(backends.jwt_secret, "alice"), bearer(backends.jwt_secret, "bob")
    created = await create(http, api.url)
    url = f"{api.url}{BASE}/{created['recordingId']}/claim"
    assert (await http.post(url)).status_code == 401
    r = await http.post(url, headers=alice)
    assert r.status_code == 200
    assert r.json() == {"success": True, "id": created["recordingId"], "userId": "alice"}
    assert (await http.post(url, headers=alice)).status_code == 200  # again, same user
    # Another user's recording is "not found", exactly like a missing one: nothing tells it exists.
    r = await http.post(url, headers=bob)
    missing = await http.post(f"{api.url}{BASE}/{uuid.uuid4()}/claim", headers=bob)
    assert r.status_code == missing.status_code == 404
    assert r.json() == missing.json()
    owner = await db.fetchval(
        "SELECT u.subject FROM recordings r JOIN users u ON u.id = r.owner_id"
    )
    assert owner == "alice"
    # once claimed, the upload token no longer reads it; the owner does
    detail = f"{api.url}{BASE}/{created['recordingId']}"
    assert (
        await http.get(detail, headers={"X-Upload-Token": created["uploadToken"]})
    ).status_code == 404
    assert (await http.get(detail, headers=alice)).json()["userId"] == "alice"


async def test_delete_removes_rows_and_objects(api: Api, http, db, backends):
    alice = bearer(backends.jwt_secret, "alice")
    created = await create(http, api.url, headers=alice)
    rid = created["recordingId"]
    assert (await upload(http, api.url, rid, b"z" * 5000, headers=alice)).status_code == 200
    key = await db.fetchval("SELECT object_key FROM video_artifacts")
    r = await http.delete(f"{api.url}{BASE}/{rid}", headers=alice)
    assert r.status_code == 204 and r.content == b""
    assert await db.fetchval("SELECT count(*) FROM recordings") == 0
    assert await db.fetchval("SELECT count(*) FROM video_artifacts") == 0
    if api.storage == "local":
        assert not (api.data_dir / "objects" / key).exists()
    else:
        listing = s3_client(backends.s3_endpoint).list_objects_v2(Bucket=api.bucket)
        assert listing.get("KeyCount", 0) == 0
    r = await http.delete(f"{api.url}{BASE}/{rid}", headers=alice)
    assert r.status_code == 404


async def test_detail_has_the_contract_fields(api: Api, http, db, backends):
    alice = bearer(backends.jwt_secret, "alice")
    body_session = {"sessionId": "sess-42"}
    created = await create(http, api.url, headers=alice, body=create_body() | body_session)
    r = await http.get(f"{api.url}{BASE}/{created['recordingId']}", headers=alice)
    detail = r.json()
    assert set(detail) >= {"id", "status", "sessionId", "createdAt", "duration", "metadata"}
    assert detail["sessionId"] == "sess-42"
    assert detail["metadata"] == create_body()["metadata"]

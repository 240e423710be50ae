"""The ownership matrix: every route, for every kind of caller. No cross-user read or write."""

from __future__ import annotations

import pytest

from tests.conftest import Api
from tests.support.factories import BASE, bearer, create, upload

CALLERS = ["owner", "other_user", "anonymous", "own_upload_token", "other_upload_token"]

# What each caller gets on a recording that alice created signed in (so it is claimed).
CLAIMED = {
    "detail": {
        "owner": 200,
        "other_user": 404,
        "anonymous": 401,
        "own_upload_token": 404,
        "other_upload_token": 404,
    },
    "video_url": {
        "owner": 200,
        "other_user": 404,
        "anonymous": 401,
        "own_upload_token": 404,
        "other_upload_token": 404,
    },
    "upload": {
        "owner": 200,
        "other_user": 404,
        "anonymous": 401,
        "own_upload_token": 200,
        "other_upload_token": 404,
    },
    "claim": {
        "owner": 200,
        "other_user": 404,
        "anonymous": 401,
        "own_upload_token": 401,
        "other_upload_token": 401,
    },
    "delete": {
        "owner": 204,
        "other_user": 404,
        "anonymous": 401,
        "own_upload_token": 401,
        "other_upload_token": 401,
    },
    "analyze": {
        "owner": 200,
        "other_user": 404,
        "anonymous": 401,
        "own_upload_token": 404,
        "other_upload_token": 404,
    },
    "analysis": {
        "owner": 404,
        "other_user": 404,
        "anonymous": 401,
        "own_upload_token": 404,
        "other_upload_token": 404,
    },
    "summary": {
        "owner": 404,
        "other_user": 404,
        "anonymous": 401,
        "own_upload_token": 404,
        "other_upload_token": 404,
    },
}
# ... on a recording created anonymously and not claimed yet ("owner" is then any signed-in user).
UNCLAIMED = {
    "detail": {
        "owner": 404,
        "other_user": 404,
        "anonymous": 401,
        "own_upload_token": 200,
        "other_upload_token": 404,
    },
    "video_url": {
        "owner": 404,
        "other_user": 404,
        "anonymous": 401,
        "own_upload_token": 200,
        "other_upload_token": 404,
    },
    "upload": {
        "owner": 404,
        "other_user": 404,
        "anonymous": 401,
        "own_upload_token": 200,
        "other_upload_token": 404,
    },
    "claim": {
        "owner": 200,
        "other_user": 200,
        "anonymous": 401,
        "own_upload_token": 401,
        "other_upload_token": 401,
    },
    "delete": {
        "owner": 404,
        "other_user": 404,
        "anonymous": 401,
        "own_upload_token": 401,
        "other_upload_token": 401,
    },
    "analyze": {
        "owner": 404,
        "other_user": 404,
        "anonymous": 401,
        "own_upload_token": 200,
        "other_upload_token": 404,
    },
    "analysis": {
        "owner": 404,
        "other_user": 404,
        "anonymous": 401,
        "own_upload_token": 404,
        "other_upload_token": 404,
    },
    "summary": {
        "owner": 404,
        "other_user": 404,
        "anonymous": 401,
        "own_upload_token": 404,
        "other_upload_token": 404,
    },
}
# For the owner (or the upload token of an unclaimed recording), "analysis" and "summary" are 404
# only because nothing was analysed yet: the body says so ("analysis_not_found"), unlike another
# caller's 404.
ALLOWED_404 = {"analysis", "summary"}


async def _call(http, api: Api, route: str, rid: str, headers: dict[str, str]):
    url = f"{api.url}{BASE}/{rid}"
    if route == "detail":
        return await http.get(url, headers=headers)
    if route == "video_url":
        return await http.get(url + "/video", headers=headers)
    if route == "upload":
        return await upload(http, api.url, rid, b"video-bytes", headers=headers)
    if route == "claim":
        return await http.post(url + "/claim", headers=headers)
    if route == "analyze":
        return await http.post(url + "/analyze", headers=headers)
    if route in ("analysis", "summary"):
        return await http.get(f"{url}/{route}", headers=headers)
    return await http.delete(url, headers=headers)


@pytest.mark.parametrize("claimed", [True, False], ids=["claimed", "unclaimed"])
@pytest.mark.parametrize("route", list(CLAIMED))
@pytest.mark.parametrize("caller", CALLERS)
async def test_ownership_matrix(api: Api, http, db, backends, claimed, route, caller):
    alice = bearer(backends.jwt_secret, "alice")
    recording = await create(http, api.url, headers=alice if claimed else None)
    rid = recording["recordingId"]
    other = await create(http, api.url)
    if route in ("video_url", "analyze", "analysis", "summary"):
        assert (
            await upload(
                http, api.url, rid, b"v", headers={"X-Upload-Token": recording["uploadToken"]}
            )
        ).status_code == 200
    before = await db.fetchrow(
        "SELECT owner_id, video_upload_status FROM recordings WHERE id = $1::uuid", rid
    )
    headers = {
        "owner": alice,
        "other_user": bearer(backends.jwt_secret, "mallory"),
        "anonymous": {},
        "own_upload_token": {"X-Upload-Token": recording["uploadToken"]},
        "other_upload_token": {"X-Upload-Token": other["uploadToken"]},
    }[caller]
    expected = (CLAIMED if claimed else UNCLAIMED)[route][caller]
    r = await _call(http, api, route, rid, headers)
    assert r.status_code == expected, r.text
    if route in ALLOWED_404 and expected == 404:
        may_read = caller == "owner" if claimed else caller == "own_upload_token"
        assert r.json()["error"]["code"] == ("analysis_not_found" if may_read else "not_found")
    if expected >= 400:
        assert set(r.json()["error"]) >= {"code", "message", "field"}
        after = await db.fetchrow(
            "SELECT owner_id, video_upload_status FROM recordings WHERE id = $1::uuid", rid
        )
        assert after == before  # a refused call changes nothing
    if route == "delete" and expected == 204:
        assert await db.fetchval("SELECT count(*) FROM recordings WHERE id = $1::uuid", rid) == 0


async def test_list_shows_only_the_callers_recordings(api: Api, http, db, backends):
    alice, bob = bearer(backends.jwt_secret, "alice"), bearer(backends.jwt_secret, "bob")
    mine = {(await create(http, api.url, headers=alice))["recordingId"] for _ in range(3)}
    await create(http, api.url, headers=bob)
    anonymous = await create(http, api.url)
    listed = (await http.get(api.url + BASE, headers=alice)).json()["recordings"]
    assert {r["id"] for r in listed} == mine
    r = await http.get(api.url + BASE, headers={"X-Upload-Token": anonymous["uploadToken"]})
    assert r.status_code == 401
    assert (await http.get(api.url + BASE)).status_code == 401

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
    capture = await db.fetchrow(
        "SELECT * FROM recording_captures WHERE recording_id = $1::uuid", created["recordingId"]
    )
    assert json.loads(row["metadata"]) == body["metadata"]
    assert json.loads(capture["actions"]) == body["actions"]
    assert json.loads(capture["browser_state"]) == body["browserState"]
    assert json.loads(capture["elements"]) == body["elements"]
    assert row["video_content_type"] == "video/webm"  # codec parameters normalised away
    assert row["owner_id"] is None and row["claimed_at"] is None
    assert row["duration"] == body["metadata"]["duration"]


async def test_presigned_fields_only_where_storage_can_presign(api: Api, http, db):
    created = (await http.post(api.url + BASE, json=create_body())).json()
    presigned = {
        "uploadUrl",
        "presignedVideoObjectId",
        "presignedVideoObjectKey",
        "presignedVideoContentType",
        "presignedTtlSeconds",
    }
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
    created = (
        await http.post(
            api.url + BASE, json=create_body(), headers=bearer(backends.jwt_secret, "alice")
        )
    ).json()
    row = await db.fetchrow(
        "SELECT u.subject, r.claimed_at FROM recordings r JOIN users u ON u.id = r.owner_id "
        "WHERE r.id = $1::uuid",
        created["recordingId"],
    )
    assert row["subject"] == "alice" and row["claimed_at"] is not None


@pytest.mark.parametrize(
    ("content_type", "stored"),
    [
        ("video/webm;codecs=vp9,opus", "video/webm"),
        ("video/mp4", "video/mp4"),
        ("video/quicktime", "video/quicktime"),
    ],
)
async def test_content_type_is_normalised(api: Api, http, db, content_type, stored):
    body = create_body() | {"videoContentType": content_type}
    created = (await http.post(api.url + BASE, json=body)).json()
    assert (
        await db.fetchval(
            "SELECT video_content_type FROM recordings WHERE id = $1::uuid", created["recordingId"]
        )
        == stored
    )


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
    assert {
        "metadata.title",
        "metadata.duration",
        "actions[1].timestamp",
        "browserState.consoleLogs",
        "videoContentType",
        "surprise",
    } <= fields
    assert error["field"] in fields
    assert await count(db, "recordings") == 0


@pytest.mark.parametrize(
    ("payload", "headers", "status", "field"),
    [
        (b"{not json", {"Content-Type": "application/json"}, 400, "body"),
        (b"[1, 2]", {"Content-Type": "application/json"}, 400, "body"),
        (b'{"metadata": {}}', {"Content-Type": "text/plain"}, 415, "Content-Type"),
        (b"", {"Content-Type": "application/json"}, 400, "body"),
        (b'{"metadata": 5}', {"Content-Type": "application/json"}, 400, "metadata"),
    ],
)
async def test_malformed_bodies_are_4xx(api: Api, http, db, payload, headers, status, field):
    r = await http.post(api.url + BASE, content=payload, headers=headers)
    assert r.status_code == status
    assert r.json()["error"]["field"] == field
    assert await count(db, "recordings") == 0


def _raw(body: dict) -> str:
    return json.dumps(body)  # allow_nan: the way a careless client writes NaN


def _with_title(raw: str, prefix: str) -> str:
    return raw.replace('"title": "', f'"title": "{prefix}', 1)


NESTED = "[" * 100_000 + "]" * 100_000


@pytest.mark.parametrize(
    ("make", "field", "reason"),
    [
        # Python's json reads these; JSON has no such values and jsonb refuses them.
        (
            lambda b: _raw(b | {"metadata": b["metadata"] | {"ratio": float("nan")}}),
            "body",
            "NaN is not a JSON value",
        ),
        (
            lambda b: _raw(b).replace('"duration": ', '"duration": -Infinity, "d": ', 1),
            "body",
            "-Infinity is not a JSON value",
        ),
        # Deeper than the parser's stack: a RecursionError inside json.loads.
        (
            lambda b: _raw(b).replace('"actions": ', f'"deep": {NESTED}, "actions": ', 1),
            "body",
            "nested too deeply",
        ),
        # Parsed, but deep enough that a parser in a deeper stack (a worker's) may not read it back.
        (
            lambda b: _raw(b).replace(
                '"title": ', '"deep": ' + "[" * 600 + "]" * 600 + ', "title": ', 1
            ),
            "metadata.deep",
            "nests deeper than 512 levels",
        ),
        # "\ud800" alone decodes to a str that cannot be written as UTF-8.
        (lambda b: _with_title(_raw(b), "\\ud800"), "metadata.title", "unpaired surrogate"),
        # ... in a name too: the answer names the field with the escape (it must encode as UTF-8).
        (
            lambda b: _raw(b).replace('"title": ', '"x\\udfff": 1, "title": ', 1),
            "metadata.x\\udfff",
            "its name contains an unpaired surrogate",
        ),
    ],
)
async def test_json_that_postgres_cannot_store_is_a_400_not_a_500(
    api: Api, http, db, make, field, reason
):
    r = await http.post(
        api.url + BASE,
        content=make(create_body()).encode(),
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 400, r.text
    error = r.json()["error"]
    assert error["code"] == "invalid_input" and error["field"] == field
    assert reason in error["message"]
    assert await count(db, "recordings") == 0


async def test_deep_json_within_the_bound_is_kept(api: Api, http, db):
    deep = "[" * 500 + "]" * 500
    raw = _raw(create_body()).replace('"title": ', f'"deep": {deep}, "title": ', 1)
    r = await http.post(
        api.url + BASE, content=raw.encode(), headers={"Content-Type": "application/json"}
    )
    assert r.status_code == 201, r.text
    stored = json.loads(await db.fetchval("SELECT metadata FROM recordings"))["deep"]
    assert json.dumps(stored, separators=(",", ":")) == deep


async def test_a_surrogate_pair_is_text_and_kept(api: Api, http, db):
    # An escaped emoji is a valid pair: it decodes to one character and is stored as sent.
    r = await http.post(
        api.url + BASE,
        content=_with_title(_raw(create_body()), "\\ud83d\\ude00").encode(),
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 201, r.text
    title = json.loads(await db.fetchval("SELECT metadata FROM recordings"))["title"]
    assert title.startswith("\U0001f600")


GQL_CREATE = (
    "mutation($input: JSON!) { createRecordingJson(input: $input) { __typename "
    "... on InvalidInputError { message field } } }"
)


@pytest.mark.parametrize(
    ("make", "status", "field"),
    [
        (lambda b: _raw(b).replace('"duration": ', '"ratio": NaN, "duration": ', 1), 400, None),
        (lambda b: _raw(b).replace('"actions": ', f'"deep": {NESTED}, "actions": ', 1), 400, None),
        (lambda b: _with_title(_raw(b), "\\udc00"), 200, "metadata.title"),
    ],
)
async def test_graphql_create_refuses_the_same_json(api: Api, http, db, make, status, field):
    raw = make({"query": GQL_CREATE, "variables": {"input": create_body()}})
    r = await http.post(
        api.url + "/graphql", content=raw.encode(), headers={"Content-Type": "application/json"}
    )
    assert r.status_code == status, r.text
    if field is not None:
        result = r.json()["data"]["createRecordingJson"]
        assert result["__typename"] == "InvalidInputError" and result["field"] == field
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

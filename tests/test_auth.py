"""An upload token never signs anyone in, and a user's token is never an upload token."""

from __future__ import annotations

import uuid

import jwt
import pytest

from app.auth import UPLOAD_AUDIENCE, Authenticator
from app.config import Settings
from app.errors import Unauthenticated
from tests.conftest import Api
from tests.support.factories import BASE, bearer, create, token, upload
from tests.support.graphql import PROGRESS, Subscription

REST_ROUTES = [
    ("POST", ""),
    ("GET", ""),
    ("GET", "/{id}"),
    ("DELETE", "/{id}"),
    ("PUT", "/{id}/video"),
    ("GET", "/{id}/video"),
    ("POST", "/{id}/claim"),
    ("POST", "/{id}/analyze"),
    ("GET", "/{id}/analysis"),
    ("GET", "/{id}/summary"),
]

GRAPHQL_OPERATIONS = [
    "{ recordings { edges { node { id } } } }",
    "query($id: ID!) { recording(id: $id) { id } }",
    "mutation($id: ID!) { claimRecording(id: $id) { __typename } }",
    "mutation($id: ID!) { analyzeRecording(id: $id) { __typename } }",
    "mutation($id: ID!) { deleteRecording(id: $id) { __typename } }",
    "mutation($input: CreateRecordingInput!) { createRecording(input: $input) { __typename } }",
    "mutation($input: JSON!) { createRecordingJson(input: $input) { __typename } }",
]


@pytest.mark.parametrize(("method", "path"), REST_ROUTES)
async def test_an_upload_token_is_refused_as_a_bearer_token_on_every_route(
    local_api: Api, http, db, backends, method, path
):
    created = await create(http, local_api.url)  # anonymous: the token is the only credential
    rid = created["recordingId"]
    headers = {"Authorization": f"Bearer {created['uploadToken']}"}
    kwargs = {}
    if method == "POST" and path == "":
        kwargs["json"] = {"metadata": {}}
    if method == "PUT":
        headers["Content-Type"] = "video/webm"
        kwargs["content"] = b"video"
    r = await http.request(
        method, local_api.url + BASE + path.format(id=rid), headers=headers, **kwargs
    )
    assert r.status_code == 401, r.text
    assert r.json()["error"]["field"] == "Authorization"
    assert await db.fetchval("SELECT count(*) FROM users") == 0  # nobody was signed in


@pytest.mark.parametrize("operation", GRAPHQL_OPERATIONS)
async def test_an_upload_token_is_refused_as_a_bearer_token_over_graphql(
    local_api: Api, http, db, backends, operation
):
    created = await create(http, local_api.url)
    variables = {"id": created["recordingId"], "input": {}}
    r = await http.post(
        local_api.url + "/graphql",
        json={"query": operation, "variables": variables},
        headers={"Authorization": f"Bearer {created['uploadToken']}"},
    )
    assert r.status_code == 401, r.text
    assert await db.fetchval("SELECT count(*) FROM users") == 0


@pytest.mark.parametrize("query", [PROGRESS, "subscription { recordingUpdates { status } }"])
async def test_an_upload_token_is_refused_as_a_bearer_token_by_subscriptions(
    local_api: Api, http, db, backends, query
):
    created = await create(http, local_api.url)
    payload = {"Authorization": f"Bearer {created['uploadToken']}"}
    async with Subscription(local_api.url, query, {"id": created["recordingId"]}, payload) as sub:
        assert sub.ack == {"type": "closed", "code": 4403}
    assert await db.fetchval("SELECT count(*) FROM users") == 0


@pytest.mark.parametrize("route", ["detail", "upload", "video_url"])
async def test_a_user_token_is_refused_as_an_upload_token(
    local_api: Api, http, db, backends, route
):
    created = await create(http, local_api.url)
    rid = created["recordingId"]
    user_token = token(
        backends.jwt_secret, rid
    )  # a user named like the recording, signed with the JWT secret
    headers = {"X-Upload-Token": user_token}
    if route == "upload":
        r = await upload(http, local_api.url, rid, b"video", headers=headers)
    else:
        r = await http.get(
            f"{local_api.url}{BASE}/{rid}{'/video' if route == 'video_url' else ''}",
            headers=headers,
        )
    assert r.status_code == 401, r.text
    assert r.json()["error"]["field"] == "X-Upload-Token"
    detail = await http.get(
        f"{local_api.url}{BASE}/{rid}", headers={"X-Upload-Token": created["uploadToken"]}
    )
    assert detail.status_code == 200 and detail.json()["videoUploadStatus"] == "pending"


async def test_a_user_token_is_refused_as_an_upload_token_by_subscriptions(
    local_api: Api, http, db, backends
):
    created = await create(http, local_api.url)
    payload = {"X-Upload-Token": token(backends.jwt_secret, created["recordingId"])}
    async with Subscription(
        local_api.url, PROGRESS, {"id": created["recordingId"]}, payload
    ) as sub:
        assert sub.ack == {"type": "closed", "code": 4403}


SECRET = "s" * 32


@pytest.mark.parametrize(
    "overrides",
    [
        {},  # the defaults: one secret signs both kinds
        {"signing_secret": SECRET},  # the same secret set twice
        {"signing_secret": "t" * 32, "jwt_audience": "recordings-api"},
        {"jwt_issuer": "https://issuer.example"},
    ],
    ids=["defaults", "same-signing-secret", "own-signing-secret-with-audience", "issuer"],
)
async def test_the_two_kinds_never_pass_for_one_another_whatever_is_configured(overrides):
    auth = Authenticator(Settings(jwt_secret=SECRET, **overrides))
    rid = uuid.uuid4()
    upload_token = auth.issue_upload_token(rid)
    assert auth.verify_upload_token(upload_token) == rid
    with pytest.raises(Unauthenticated):
        await auth.verify_bearer(upload_token)
    user_token = auth.issue_user_token(str(rid))
    assert await auth.verify_bearer(user_token) == str(rid)
    with pytest.raises(Unauthenticated):
        auth.verify_upload_token(user_token)


async def test_a_bearer_token_with_the_upload_audience_is_refused():
    """Even signed with the JWT secret (as an identity provider's could be), the upload audience
    or the upload type in a token's header never signs anyone in."""
    auth = Authenticator(Settings(jwt_secret=SECRET))
    claims = {"sub": "mallory", "exp": 2**31, "aud": [UPLOAD_AUDIENCE, "other"]}
    with pytest.raises(Unauthenticated):
        await auth.verify_bearer(jwt.encode(claims, SECRET, algorithm="HS256"))
    typed = jwt.encode(
        {"sub": "mallory", "exp": 2**31},
        SECRET,
        algorithm="HS256",
        headers={"typ": "recordings-upload+jwt"},
    )
    with pytest.raises(Unauthenticated):
        await auth.verify_bearer(typed)
    # an ordinary bearer token still works
    assert await auth.verify_bearer(bearer(SECRET, "alice")["Authorization"].split()[1]) == "alice"

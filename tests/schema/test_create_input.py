"""createRecording's typed input: the REST body, typed, refused and stored the same way."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api
from tests.support.factories import BASE, bearer, create_body

TYPED = """mutation($input: CreateRecordingInput!) { createRecording(input: $input) {
  __typename
  ... on CreateRecordingPayload { uploadToken recording { id status videoUploadStatus title url } }
  ... on InvalidInputError { message field details }
} }"""


def typed(body: dict[str, Any]) -> dict[str, Any]:
    """A recorder's body as the typed input: the same names; what the schema does not name
    goes into ``extra``."""
    known_network = {
        "method",
        "url",
        "status",
        "statusText",
        "durationMs",
        "timestamp",
        "resourceType",
        "requestSize",
        "responseSize",
        "headers",
    }
    state = body.get("browserState", {})
    return {
        "metadata": body["metadata"],
        "actions": body["actions"],
        "browserState": {
            "consoleLogs": state.get("consoleLogs", []),
            "networkRequests": [
                {k: v for k, v in n.items() if k in known_network}
                | {"extra": {k: v for k, v in n.items() if k not in known_network} or None}
                for n in state.get("networkRequests", [])
            ],
        },
        "elements": body.get("elements"),
        "videoContentType": body["videoContentType"],
    }


async def _gql(http, api: Api, query: str, variables: dict[str, Any], headers=None) -> Any:
    r = await http.post(
        api.url + "/graphql", json={"query": query, "variables": variables}, headers=headers or {}
    )
    assert r.status_code == 200, r.text
    assert "errors" not in r.json(), r.json()
    return r.json()["data"]


async def test_a_typed_create_stores_what_the_rest_create_of_the_same_body_stores(
    api: Api, http, db, backends
):
    body = create_body("upgrade-checkout")
    headers = bearer(backends.jwt_secret, "typed")
    created = (await _gql(http, api, TYPED, {"input": typed(body)}, headers))["createRecording"]
    assert created["__typename"] == "CreateRecordingPayload", created
    recording = created["recording"]
    assert recording["status"] == "pending" and recording["videoUploadStatus"] == "pending"
    assert recording["title"] == body["metadata"]["title"]
    assert recording["url"] == body["metadata"]["url"]
    via_rest = await http.post(api.url + BASE, json=body, headers=headers)
    assert via_rest.status_code == 201
    typed_detail = await http.get(api.url + BASE + f"/{recording['id']}", headers=headers)
    rest_detail = await http.get(
        api.url + BASE + f"/{via_rest.json()['recordingId']}", headers=headers
    )
    ignore = {"id", "createdAt", "updatedAt", "claimedAt"}
    assert {k: v for k, v in typed_detail.json().items() if k not in ignore} == {
        k: v for k, v in rest_detail.json().items() if k not in ignore
    }


@pytest.mark.parametrize(
    ("change", "field"),
    [
        (lambda b: b["metadata"].update(title="bad\u0000title"), "metadata.title"),
        (lambda b: b["actions"][0].update(timestamp=-1), "actions[0].timestamp"),
        (lambda b: b.update(videoContentType="text/plain"), "videoContentType"),
    ],
)
async def test_a_typed_create_is_refused_like_rest_naming_the_field(
    api: Api, http, db, change, field
):
    body = create_body()
    change(body)
    rest = await http.post(api.url + BASE, json=body)
    assert rest.status_code in (400, 415), rest.text
    assert rest.json()["error"]["field"] == field
    result = (await _gql(http, api, TYPED, {"input": typed(body)}))["createRecording"]
    assert result["__typename"] == "InvalidInputError", result
    assert result["field"] == field
    assert await db.fetchval("SELECT count(*) FROM recordings") == 0


async def test_the_json_create_still_works_and_is_deprecated(api: Api, http, db):
    query = """mutation($input: JSON!) { createRecordingJson(input: $input) {
      __typename ... on CreateRecordingPayload { recording { id } } } }"""
    data = await _gql(http, api, query, {"input": create_body()})
    assert data["createRecordingJson"]["__typename"] == "CreateRecordingPayload"
    fields = await _gql(
        http,
        api,
        '{ __type(name: "Mutation") { fields(includeDeprecated: true) '
        "{ name isDeprecated deprecationReason } } }",
        {},
    )
    by_name = {f["name"]: f for f in fields["__type"]["fields"]}
    assert by_name["createRecordingJson"]["isDeprecated"] is True
    assert "createRecording" in by_name["createRecordingJson"]["deprecationReason"]
    assert by_name["createRecording"]["isDeprecated"] is False

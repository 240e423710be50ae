"""The OpenAPI document is generated from the models the routes use, and covers every route."""

from __future__ import annotations

from starlette.routing import Route

from app.config import Settings
from app.main import create_app
from app.openapi import openapi_document
from tests.conftest import Api
from tests.support.factories import BASE

UNDOCUMENTED = {
    "/graphql",
    "/api/openapi.json",
    "/api/storage/{key:path}",
    "/",
    "/recordings/{recording_id}",
    "/api/feedback/recordings/{recording_id}/uploads",
    "/api/feedback/recordings/{recording_id}/uploads/{upload_id}",
}  # GraphQL; the document; signed links; the dashboard's pages; tus (its own protocol)


def test_every_rest_route_is_documented_and_nothing_else():
    app = create_app(
        Settings(database_url="postgres://x@127.0.0.1/x", redis_url="redis://127.0.0.1:1")
    )
    served = {
        (route.path, method.lower())
        for route in app.routes
        if isinstance(route, Route) and route.path not in UNDOCUMENTED
        for method in route.methods or ()
        if method != "HEAD"
    }
    documented = {
        (path, method)
        for path, item in openapi_document(Settings()).get("paths", {}).items()
        for method in item
    }
    assert served == documented


async def test_the_document_is_served_with_links_from_create(local_api: Api, http):
    doc = (await http.get(local_api.url + "/api/openapi.json")).json()
    assert doc["openapi"].startswith("3.")
    create = doc["paths"][BASE]["post"]
    assert doc["components"]["schemas"]["CreateRecording"]["required"] == ["metadata"]
    assert create["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "/CreateRecording"
    )
    links = create["responses"]["201"]["links"]
    by_id = {
        op["operationId"]
        for item in doc["paths"].values()
        for op in item.values()
        if any(p.get("name") == "recording_id" for p in op.get("parameters", []))
    }
    assert set(links) == by_id and len(by_id) == 8
    for operation in (op for item in doc["paths"].values() for op in item.values()):
        for status, response in operation["responses"].items():
            if status.startswith(("4", "5")):
                assert response["content"]["application/json"]["schema"]["$ref"].endswith(
                    "/ErrorDocument"
                )
    actions = doc["components"]["schemas"]["CreateRecording"]["properties"]["actions"]
    assert actions["maxItems"] == 100_000  # the limits the server enforces are stated

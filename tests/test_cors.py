"""CORS for pages on other origins, and OPTIONS on every route (the browser's side is in
tests/web/test_cross_origin.py)."""

from __future__ import annotations

import asyncio
import json
import re

import pytest
import websockets
from starlette.routing import Route

from app.config import Settings
from app.main import create_app
from tests.conftest import Api
from tests.support import services
from tests.support.factories import BASE, bearer, create, create_body

RID = "00000000-0000-0000-0000-000000000000"


def _routes() -> list[tuple[str, list[str]]]:
    """Every HTTP route of the app: its path (with an id filled in) and methods."""
    app = create_app(Settings(database_url="postgres://x/y", redis_url="redis://x"))
    out = []
    for route in app.routes:
        if isinstance(route, Route) and route.methods:
            path = re.sub(r"\{[^}]+\}", RID, route.path)
            out.append((path, sorted(m for m in route.methods if m != "HEAD")))
    return out


ROUTES = _routes()


def test_the_app_has_the_routes_the_preflight_test_walks() -> None:
    paths = {p for p, _ in ROUTES}
    assert {BASE, f"{BASE}/{RID}", f"{BASE}/{RID}/video", "/graphql"} <= paths


async def test_a_preflight_from_a_listed_origin_is_allowed_for_every_route_and_method(
    local_api: Api, http, backends
):
    origin = backends.allowed_origin
    checked = 0
    for path, methods in ROUTES:
        for method in methods:
            r = await http.options(
                local_api.url + path,
                headers={
                    "Origin": origin,
                    "Access-Control-Request-Method": method,
                    "Access-Control-Request-Headers": "authorization, content-type, x-upload-token",
                },
            )
            assert r.status_code == 200, (path, method, r.status_code, r.text)
            assert r.headers["access-control-allow-origin"] == origin
            assert method in r.headers["access-control-allow-methods"]
            allowed = {
                h.strip().lower() for h in r.headers["access-control-allow-headers"].split(",")
            }
            assert {"authorization", "content-type", "x-upload-token"} <= allowed
            assert int(r.headers["access-control-max-age"]) >= 600
            assert "access-control-allow-credentials" not in r.headers  # never credentials
            checked += 1
    assert checked >= 10


async def test_an_answer_to_a_listed_origin_exposes_the_headers_a_client_reads(
    local_api: Api, http, backends
):
    r = await http.post(
        local_api.url + BASE, json=create_body(), headers={"Origin": backends.allowed_origin}
    )
    assert r.status_code == 201
    assert r.headers["access-control-allow-origin"] == backends.allowed_origin
    exposed = {h.strip().lower() for h in r.headers["access-control-expose-headers"].split(",")}
    assert {"retry-after", "location", "content-range", "x-request-id"} <= exposed


async def test_an_origin_not_listed_gets_no_cors_headers(local_api: Api, http):
    preflight = await http.options(
        local_api.url + BASE,
        headers={"Origin": "http://elsewhere.example", "Access-Control-Request-Method": "POST"},
    )
    assert preflight.status_code == 400
    assert "access-control-allow-origin" not in preflight.headers
    r = await http.get(local_api.url + "/health", headers={"Origin": "http://elsewhere.example"})
    assert "access-control-allow-origin" not in r.headers


async def test_production_allows_no_origin_until_configured(local_api: Api, http):
    env = {k: v for k, v in local_api.env.items() if k != "RECORDINGS_CORS_ORIGINS"}
    with services.api_server(env, cwd=local_api.data_dir.parent) as (url, _):
        r = await http.options(
            url + BASE,
            headers={"Origin": "http://any.example", "Access-Control-Request-Method": "POST"},
        )
        assert r.status_code == 400 and "access-control-allow-origin" not in r.headers
    env["RECORDINGS_CORS_ORIGINS"] = '["*"]'
    with services.api_server(env, cwd=local_api.data_dir.parent) as (url, _):
        r = await http.options(
            url + BASE,
            headers={"Origin": "http://any.example", "Access-Control-Request-Method": "POST"},
        )
        assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "*"


@pytest.mark.parametrize(
    ("path", "allow"),
    [
        (BASE, {"GET", "HEAD", "POST", "OPTIONS"}),
        (f"{BASE}/{RID}", {"GET", "HEAD", "DELETE", "OPTIONS"}),
        (f"{BASE}/{RID}/video", {"PUT", "OPTIONS"}),
        ("/graphql", {"GET", "HEAD", "POST", "OPTIONS"}),
    ],
)
async def test_options_answers_every_method_the_path_has(local_api: Api, http, path, allow):
    expected = {m for p, methods in ROUTES if p == path for m in methods} | {"OPTIONS"}
    r = await http.options(local_api.url + path)
    assert r.status_code == 204, r.text
    got = {m.strip() for m in r.headers["allow"].split(",")}
    assert expected <= got and allow <= got, (got, expected)


async def test_options_on_a_path_that_does_not_exist_is_404(local_api: Api, http):
    assert (await http.options(local_api.url + "/api/nothing-here")).status_code == 404


async def test_websockets_allow_the_cors_origins_unless_listed_apart(
    local_api: Api, backends, http
):
    alice = bearer(backends.jwt_secret, "alice")
    ws_url = local_api.url.replace("http://", "ws://") + "/graphql"
    async with websockets.connect(
        ws_url, subprotocols=["graphql-transport-ws"], origin=backends.allowed_origin
    ) as ws:  # type: ignore[arg-type]
        await ws.send(json.dumps({"type": "connection_init", "payload": alice}))
        assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "connection_ack"
    with pytest.raises(websockets.InvalidStatus) as refused:
        await websockets.connect(
            ws_url, subprotocols=["graphql-transport-ws"], origin="http://elsewhere.example"
        )  # type: ignore[arg-type]
    assert refused.value.response.status_code == 403
    assert (await create(http, local_api.url, headers=alice))["recordingId"]

"""What an operator meets: health, readiness, OpenAPI, migrations, tokens, identity providers."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

import asyncpg
import httpx
import jwt
import pytest
from cryptography.hazmat.primitives.asymmetric import rsa

from app.db import credentials_from_url
from tests.conftest import Api
from tests.support import services
from tests.support.factories import BASE, create_body


async def test_health_and_readiness(local_api: Api, http):
    assert (await http.get(local_api.url + "/healthz")).json() == {"status": "ok"}
    r = await http.get(local_api.url + "/readyz")
    assert r.status_code == 200
    assert r.json()["checks"] == {"database": "ok", "redis": "ok"}


def test_readiness_fails_when_redis_is_unreachable(backends, db, tmp_path):
    env = {
        "RECORDINGS_DATABASE_URL": backends.database_url,
        "RECORDINGS_REDIS_URL": f"redis://127.0.0.1:{services.free_port()}/0",
        "RECORDINGS_JWT_SECRET": backends.jwt_secret,
        "RECORDINGS_DATA_DIR": str(tmp_path / "var"),
    }
    with services.api_server(env, cwd=tmp_path) as (url, _):
        assert httpx.get(url + "/healthz").status_code == 200
        r = httpx.get(url + "/readyz")
        assert r.status_code == 503
        assert r.json()["checks"]["database"] == "ok"
        assert r.json()["checks"]["redis"].startswith("error")
        # Records still work; starting an analysis answers a 503 to retry, and changes nothing.
        token = jwt.encode({"sub": "ann", "exp": 2_000_000_000}, backends.jwt_secret)
        headers = {"Authorization": f"Bearer {token}"}
        rid = httpx.post(url + BASE, json=create_body(), headers=headers).json()["recordingId"]
        httpx.put(
            f"{url}{BASE}/{rid}/video",
            content=b"v" * 10,
            headers={**headers, "Content-Type": "video/webm"},
        ).raise_for_status()
        r = httpx.post(f"{url}{BASE}/{rid}/analyze", headers=headers)
        assert r.status_code == 503 and r.json()["error"]["code"] == "unavailable"
        assert (
            r.headers["Retry-After"].isdigit()
            and "queue is unavailable" in r.json()["error"]["message"]
        )
        detail = httpx.get(f"{url}{BASE}/{rid}", headers=headers).json()
        assert detail["status"] == "pending" and detail["statusReason"] is None


def _cli(*args: str, env: dict[str, str], cwd=None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.cli", *args],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=120,
        cwd=cwd,
    )


async def test_a_fresh_database_migrates_to_the_models(backends):
    from tortoise import Tortoise

    from app.db import tortoise_config

    server = backends.database_url.rsplit("/", 1)[0] + "/postgres"
    name = services.unique_database_name()
    await services.admin_sql(server, f'CREATE DATABASE "{name}"')
    url = services.with_database(server, name)
    try:
        for _ in range(2):  # applying twice is a no-op the second time
            result = await asyncio.to_thread(_cli, "migrate", env={"RECORDINGS_DATABASE_URL": url})
            assert result.returncode == 0, result.stderr
        creds = credentials_from_url(url)
        conn = await asyncpg.connect(
            host=creds["host"], port=creds["port"], user=creds["user"], database=creds["database"]
        )
        try:
            await Tortoise.init(config=tortoise_config(url))
            try:
                for model in Tortoise.apps["models"].values():
                    table = model._meta.db_table
                    columns = {
                        r["column_name"]
                        for r in await conn.fetch(
                            "SELECT column_name FROM information_schema.columns "
                            "WHERE table_name = $1",
                            table,
                        )
                    }
                    assert columns == set(model._meta.fields_db_projection.values()), table
            finally:
                await Tortoise.close_connections()
            indexes = {
                r["indexname"]: r["indexdef"]
                for r in await conn.fetch(
                    "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'recordings'"
                )
            }
            assert "(owner_id, created_at, id)" in indexes["recordings_owner_created_idx"]
            plan = await conn.fetchval(
                "EXPLAIN SELECT * FROM recordings WHERE owner_id = 1 "
                "ORDER BY created_at DESC, id DESC LIMIT 20"
            )
            assert plan  # the query the list route runs is valid against the migrated schema
            applied = await conn.fetchval("SELECT count(*) FROM tortoise_migrations")
            assert applied == len([f for f in os.listdir("migrations") if f[0].isdigit()])
        finally:
            await conn.close()
    finally:
        await services.admin_sql(server, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


def test_token_command_prints_a_working_token(local_api: Api, db):
    result = _cli(
        "token", "carol", env={"RECORDINGS_JWT_SECRET": local_api.env["RECORDINGS_JWT_SECRET"]}
    )
    assert result.returncode == 0, result.stderr
    token = result.stdout.strip()
    claims = jwt.decode(token, local_api.env["RECORDINGS_JWT_SECRET"], algorithms=["HS256"])
    assert claims["sub"] == "carol"
    r = httpx.get(local_api.url + BASE, headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200 and r.json()["recordings"] == []


def test_bad_configuration_is_a_clear_error():
    result = _cli("token", "x", env={"RECORDINGS_STORAGE": "floppy", "RECORDINGS_JWT_SECRET": "s"})
    assert result.returncode != 0
    assert "invalid configuration" in result.stderr and "storage" in result.stderr


@pytest.fixture
def jwks_server():
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    public = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(key.public_key()))
    body = json.dumps({"keys": [public | {"kid": "k1", "use": "sig", "alg": "RS256"}]}).encode()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}/.well-known/jwks.json", key
    server.shutdown()
    server.server_close()


def test_rs256_tokens_from_an_identity_provider(backends, db, tmp_path, jwks_server):
    jwks_url, key = jwks_server
    env = {
        "RECORDINGS_DATABASE_URL": backends.database_url,
        "RECORDINGS_REDIS_URL": backends.redis_url,
        "RECORDINGS_JWT_ALGORITHM": "RS256",
        "RECORDINGS_JWT_JWKS_URL": jwks_url,
        "RECORDINGS_JWT_AUDIENCE": "recordings-api",
        "RECORDINGS_SIGNING_SECRET": "x" * 32,
        "RECORDINGS_DATA_DIR": str(tmp_path / "var"),
    }

    def token(signing_key, audience="recordings-api") -> str:
        return jwt.encode(
            {"sub": "idp|dana", "aud": audience, "exp": 2_000_000_000},
            signing_key,
            algorithm="RS256",
            headers={"kid": "k1"},
        )

    with services.api_server(env, cwd=tmp_path) as (url, _):
        good = {"Authorization": f"Bearer {token(key)}"}
        r = httpx.post(url + BASE, json=create_body(), headers=good)
        assert r.status_code == 201
        rid = r.json()["recordingId"]
        assert httpx.get(f"{url}{BASE}/{rid}", headers=good).json()["userId"] == "idp|dana"
        forged = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        for bad in (token(forged), token(key, audience="someone-else")):
            r = httpx.get(f"{url}{BASE}/{rid}", headers={"Authorization": f"Bearer {bad}"})
            assert r.status_code == 401
        hs = jwt.encode(
            {"sub": "idp|dana", "aud": "recordings-api", "exp": 2_000_000_000},
            "x" * 32,
            algorithm="HS256",
        )
        assert (
            httpx.get(f"{url}{BASE}/{rid}", headers={"Authorization": f"Bearer {hs}"}).status_code
            == 401
        )


def test_model_adapters_are_configured_from_the_environment(monkeypatch):
    from app.config import Settings

    assert Settings().engine_options().llm is None
    monkeypatch.setenv("RECORDINGS_LLM_BASE_URL", "http://127.0.0.1:9/v1")
    monkeypatch.setenv("RECORDINGS_LLM_MODEL", "writer")
    monkeypatch.setenv("RECORDINGS_LLM_API_KEY", "k")
    options = Settings().engine_options()
    assert (options.llm.base_url, options.llm.model, options.llm.api_key) == (
        "http://127.0.0.1:9/v1",
        "writer",
        "k",
    )
    assert options.vlm is None

"""Real services for the session: a fresh PostgreSQL database, Redis, S3, and API processes."""

from __future__ import annotations

import json
import logging
import secrets
import shutil
import signal
import tempfile
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import boto3
import httpx
import pytest
import structlog.testing
from botocore.client import Config

from app.db import credentials_from_url
from tests.support import services

DATA = Path(__file__).parent / "data"

ERROR_LEVELS = {"error", "critical", "exception"}


def pytest_configure(config: pytest.Config) -> None:
    # A supervisor (a CI runner, `kill`) stops the suite with SIGTERM: unwind as Ctrl-C does, so
    # that the fixtures stop every service process they started.
    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


@pytest.fixture(autouse=True)
def no_error_logged(
    request: pytest.FixtureRequest, caplog: pytest.LogCaptureFixture
) -> Iterator[None]:
    """Fail a test whose code logs at ERROR, unless the test is marked ``logs_errors``: an error
    in the log is a bug until a test says it is what it expects."""
    with structlog.testing.capture_logs() as captured:
        yield
    if request.node.get_closest_marker("logs_errors"):
        return
    errors = [
        f"{entry.get('event')}: {entry}"
        for entry in captured
        if entry.get("log_level") in ERROR_LEVELS
    ]
    errors += [
        f"{r.name}: {r.getMessage()}"
        for r in caplog.get_records("call")
        if r.levelno >= logging.ERROR
    ]
    assert not errors, "the test logged errors:\n" + "\n".join(errors)


@dataclass(frozen=True, kw_only=True)
class Backends:
    database_url: str
    redis_url: str
    s3_endpoint: str
    jwt_secret: str
    workdir: Path
    queue_name: str
    # The origin of the one page on another origin that the APIs let call them (CORS and
    # websockets); tests serve a page there to call the API from a browser.
    allowed_origin: str


@pytest.fixture(scope="session")
def backends() -> Iterator[Backends]:
    # Not under pytest's tmp_path: another pytest session on the machine may prune that while
    # the embedded servers still use it.
    workdir = Path(tempfile.mkdtemp(prefix="recordings-test-"))
    with (
        services.postgres_server(workdir) as pg_server,
        services.redis_server(workdir) as redis_url,
        services.s3_server() as s3_endpoint,
        services.fresh_database(pg_server) as database_url,
    ):
        yield Backends(
            database_url=database_url,
            redis_url=redis_url,
            s3_endpoint=s3_endpoint,
            jwt_secret=secrets.token_urlsafe(24),
            workdir=workdir,
            queue_name=f"recordings-test:{secrets.token_hex(4)}",
            allowed_origin=f"http://127.0.0.1:{services.free_port()}",
        )
    shutil.rmtree(workdir, ignore_errors=True)


def s3_client(endpoint: str):  # type: ignore[no-untyped-def]
    return boto3.client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id="test",
        aws_secret_access_key="test",
        config=Config(signature_version="s3v4", s3={"addressing_style": "path"}),
    )


@dataclass(frozen=True, kw_only=True)
class Api:
    """A running API process and how to reach what it uses."""

    url: str
    env: dict[str, str]
    pid: int
    storage: str
    data_dir: Path
    bucket: str | None


def _base_env(b: Backends) -> dict[str, str]:
    return {
        "RECORDINGS_DATABASE_URL": b.database_url,
        "RECORDINGS_REDIS_URL": b.redis_url,
        "RECORDINGS_JWT_SECRET": b.jwt_secret,
        "RECORDINGS_ENVIRONMENT": "test",
        "RECORDINGS_QUEUE_NAME": b.queue_name,
        "RECORDINGS_CORS_ORIGINS": json.dumps([b.allowed_origin]),
    }


@pytest.fixture(scope="session")
def local_api(backends: Backends) -> Iterator[Api]:
    cwd = Path(tempfile.mkdtemp(dir=backends.workdir, prefix="local-api-"))
    env = {
        **_base_env(backends),
        "RECORDINGS_STORAGE": "local",
        "RECORDINGS_DATA_DIR": str(cwd / "var"),
        "RECORDINGS_PRESIGN_TTL_SECONDS": "300",
    }
    with services.api_server(env, cwd=cwd) as (url, proc):
        yield Api(
            url=url, env=env, pid=proc.pid, storage="local", data_dir=cwd / "var", bucket=None
        )


@pytest.fixture(scope="session")
def s3_api(backends: Backends) -> Iterator[Api]:
    cwd = Path(tempfile.mkdtemp(dir=backends.workdir, prefix="s3-api-"))
    bucket = f"recordings-{secrets.token_hex(4)}"
    s3_client(backends.s3_endpoint).create_bucket(Bucket=bucket)
    env = {
        **_base_env(backends),
        "RECORDINGS_STORAGE": "s3",
        "RECORDINGS_S3_ENDPOINT_URL": backends.s3_endpoint,
        "RECORDINGS_S3_BUCKET": bucket,
        "RECORDINGS_S3_ACCESS_KEY_ID": "test",
        "RECORDINGS_S3_SECRET_ACCESS_KEY": "test",
        "RECORDINGS_S3_ADDRESSING_STYLE": "path",
        "RECORDINGS_PRESIGN_TTL_SECONDS": "300",
        "RECORDINGS_DATA_DIR": str(cwd / "var"),
    }
    with services.api_server(env, cwd=cwd) as (url, proc):
        yield Api(url=url, env=env, pid=proc.pid, storage="s3", data_dir=cwd / "var", bucket=bucket)


def empty_storage(api: Api, backends: Backends) -> None:
    if api.storage == "local":
        shutil.rmtree(api.data_dir / "objects", ignore_errors=True)
        (api.data_dir / "objects").mkdir(parents=True)
        return
    client = s3_client(backends.s3_endpoint)
    for page in client.get_paginator("list_objects_v2").paginate(Bucket=api.bucket):
        for obj in page.get("Contents", []):
            client.delete_object(Bucket=api.bucket, Key=obj["Key"])


@pytest.fixture(params=["local", "s3"])
def api(request: pytest.FixtureRequest, db: asyncpg.Connection, backends: Backends) -> Api:
    """Each test using this runs against both storage backends, on empty tables and storage."""
    chosen: Api = request.getfixturevalue(f"{request.param}_api")
    empty_storage(chosen, backends)
    return chosen


@pytest.fixture(scope="session")
async def pg(backends: Backends) -> AsyncIterator[asyncpg.Connection]:
    creds = credentials_from_url(backends.database_url)
    conn = await asyncpg.connect(
        host=creds["host"],
        port=creds["port"],
        user=creds["user"],
        password=creds["password"],
        database=creds["database"],
    )
    yield conn
    await conn.close()


@pytest.fixture
async def db(pg: asyncpg.Connection) -> asyncpg.Connection:
    """The test database, emptied before the test."""
    await pg.execute("TRUNCATE video_artifacts, recordings, users CASCADE")
    return pg


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(timeout=60) as client:
        yield client


@pytest.fixture(scope="session")
def worker(local_api: Api) -> Iterator[services.Worker]:
    """A worker beside the local-storage API, sharing its database, Redis, storage and queue."""
    with services.worker_process(local_api.env, cwd=local_api.data_dir.parent) as proc:
        yield proc

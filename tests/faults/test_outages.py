"""The service survives its own PostgreSQL and Redis going away: each test runs its own server
process, stops it under a running API and worker, and starts it again."""

from __future__ import annotations

import asyncio
import secrets
import tempfile
import time
from collections.abc import AsyncIterator
from pathlib import Path

import asyncpg
import pytest

from app.db import credentials_from_url
from tests.conftest import Api, Backends
from tests.support import services
from tests.support.factories import BASE, bearer, uploaded_recording
from tests.support.graphql import PROGRESS, Subscription, collect, gql, wait_for_stage

ENGINE_STAGES = {"decode", "keyframes", "ocr", "transcribe"}


@pytest.fixture
def workdir(backends: Backends) -> Path:
    return Path(tempfile.mkdtemp(dir=backends.workdir, prefix="faults-"))


@pytest.fixture
async def own_database(workdir: Path) -> AsyncIterator[tuple[services.PostgresProcess, str]]:
    """A PostgreSQL server of the test's own with a fresh, migrated database."""
    from app import db

    with services.own_postgres(workdir) as pg:  # deleted with its data afterwards
        await services.admin_sql(pg.url, 'CREATE DATABASE "recordings"')
        url = services.with_database(pg.url, "recordings")
        await db.migrate(url)
        yield pg, url


def _env(backends: Backends, workdir: Path, **overrides: str) -> dict[str, str]:
    return {
        "RECORDINGS_DATABASE_URL": backends.database_url,
        "RECORDINGS_REDIS_URL": backends.redis_url,
        "RECORDINGS_JWT_SECRET": backends.jwt_secret,
        "RECORDINGS_ENVIRONMENT": "test",
        "RECORDINGS_QUEUE_NAME": f"recordings-faults:{secrets.token_hex(4)}",
        "RECORDINGS_STORAGE": "local",
        "RECORDINGS_DATA_DIR": str(workdir / "var"),
        **overrides,
    }


async def _connect(url: str) -> asyncpg.Connection:
    creds = credentials_from_url(url)
    return await asyncpg.connect(
        host=creds["host"], port=creds["port"], user=creds["user"], database=creds["database"]
    )


def _log_text(workdir: Path, prefix: str) -> str:
    return "\n".join(p.read_text(errors="replace") for p in sorted(workdir.glob(f"{prefix}*.log")))


async def test_a_database_outage_across_the_end_of_an_analysis_loses_nothing(
    backends, http, workdir, own_database
):
    """PostgreSQL stops while the engine runs and stays down longer than arq's retries used to
    wait (2 + 4 + 8 s): the result is kept and saved once when the database is back. Meanwhile
    the API answers 503 with Retry-After (REST) and a typed retryable error (GraphQL), and logs
    the outage once, not once per request."""
    alice = bearer(backends.jwt_secret, "alice")
    pg, database_url = own_database
    env = _env(backends, workdir, RECORDINGS_DATABASE_URL=database_url)
    with (
        services.api_server(env, cwd=workdir) as (url, _),
        services.worker_process(env, cwd=workdir),
    ):
        api = Api(url=url, env=env, pid=0, storage="local", data_dir=workdir / "var", bucket=None)
        rid = await uploaded_recording(http, api, alice, scenario="login-500")
        async with Subscription(
            url, PROGRESS, {"id": rid}, {"Authorization": alice["Authorization"]}
        ) as sub:
            await asyncio.sleep(0.3)
            job_id = (await http.post(f"{url}{BASE}/{rid}/analyze", headers=alice)).json()["jobId"]
            await wait_for_stage(sub, ENGINE_STAGES)
            pg.stop()
            down_at = time.monotonic()
            for _ in range(5):
                r = await http.get(f"{url}{BASE}/{rid}", headers=alice)
                assert r.status_code == 503 and r.headers["Retry-After"].isdigit(), r.text
                assert r.json()["error"]["code"] == "unavailable"
                body = await gql(
                    http,
                    url,
                    "query($id: ID!) { recording(id: $id) { status } }",
                    {"id": rid},
                    alice,
                )
                assert body["errors"][0]["extensions"]["code"] == "UNAVAILABLE", body
                assert body["errors"][0]["extensions"]["retryable"] is True
            await asyncio.sleep(max(0.0, 20 - (time.monotonic() - down_at)))
            pg.start()
            back_at = time.monotonic()
            events = await collect(sub, timeout=180)
        assert events[-1]["status"] == "analyzed", events[-3:]
        print(
            f"\ndatabase down {back_at - down_at:.1f} s; "
            f"analysis saved {time.monotonic() - back_at:.1f} s after it was back"
        )
        r = await http.get(f"{url}{BASE}/{rid}/summary", headers=alice)
        assert r.status_code == 200 and r.json()["keyFindings"]
    conn = await _connect(database_url)
    try:
        rows = await conn.fetch("SELECT id, status, attempts FROM analyses")
        sections = await conn.fetchval(
            "SELECT count(*) FROM analysis_sections WHERE analysis_id = $1", job_id
        )
        positions = await conn.fetch(
            "SELECT position FROM analysis_sections WHERE analysis_id = $1", job_id
        )
    finally:
        await conn.close()
    assert [(r["id"], r["status"], r["attempts"]) for r in rows] == [(job_id, "analyzed", 1)]
    assert sections > 0 and len(positions) == len({p["position"] for p in positions})
    api_log = _log_text(workdir, "api-")
    assert api_log.count("dependency.unavailable") == 1, api_log[-3000:]
    assert "Traceback" not in api_log
    assert "analysis.database.save.unavailable" in _log_text(workdir, "worker-")


async def test_the_worker_and_subscribers_ride_out_redis_restarts(backends, http, db, workdir):
    """Redis restarts under an idle worker, then under a running analysis with a subscriber
    watching: the worker keeps running, the analysis finishes once, the subscriber gets its end,
    and a job queued after the restarts runs."""
    alice = bearer(backends.jwt_secret, "alice")
    with services.own_redis(workdir) as redis_server:
        env = _env(backends, workdir, RECORDINGS_REDIS_URL=redis_server.url)
        with (
            services.api_server(env, cwd=workdir) as (url, _),
            services.worker_process(env, cwd=workdir) as worker,
        ):
            api = Api(
                url=url, env=env, pid=0, storage="local", data_dir=workdir / "var", bucket=None
            )
            await asyncio.sleep(2)  # the worker is polling
            redis_server.stop()
            await asyncio.sleep(3)
            assert worker.proc is not None and worker.proc.poll() is None, "the idle worker exited"
            redis_server.start()

            rid = await uploaded_recording(http, api, alice, scenario="login-500")
            async with Subscription(
                url, PROGRESS, {"id": rid}, {"Authorization": alice["Authorization"]}
            ) as sub:
                await asyncio.sleep(0.3)
                assert (
                    await http.post(f"{url}{BASE}/{rid}/analyze", headers=alice)
                ).status_code == 200
                await wait_for_stage(sub, ENGINE_STAGES)
                redis_server.stop()
                await asyncio.sleep(3)
                assert worker.proc.poll() is None, "the busy worker exited"
                redis_server.start()
                events = await collect(sub, timeout=180)
            assert events[-1]["status"] == "analyzed", events[-3:]

            later = await uploaded_recording(
                http, api, alice, scenario="login-500", video="recording.mp4"
            )
            assert (
                await http.post(f"{url}{BASE}/{later}/analyze", headers=alice)
            ).status_code == 200
            status = await _wait_status(http, url, later, alice)
            assert status == "analyzed"
            assert worker.proc.poll() is None
    rows = await db.fetch(
        "SELECT recording_id::text AS rid, status, attempts FROM analyses ORDER BY created_at"
    )
    assert [(r["rid"], r["status"], r["attempts"]) for r in rows] == [
        (rid, "analyzed", 1),
        (later, "analyzed", 1),
    ]
    worker_log = _log_text(workdir, "worker-")
    assert "worker.redis.unavailable" in worker_log and "worker.redis.recovered" in worker_log


async def test_an_end_published_while_redis_is_down_still_reaches_the_subscriber(
    backends, http, db, workdir
):
    """The analysis ends while Redis is down and stays down until the worker gives up publishing
    the final event: the API's fan-out re-reads the state when Redis is back, so the subscriber
    still gets "analyzed" and its subscription completes."""
    alice = bearer(backends.jwt_secret, "alice")
    with services.own_redis(workdir) as redis_server:
        env = _env(backends, workdir, RECORDINGS_REDIS_URL=redis_server.url)
        with (
            services.api_server(env, cwd=workdir) as (url, _),
            services.worker_process(env, cwd=workdir),
        ):
            api = Api(
                url=url, env=env, pid=0, storage="local", data_dir=workdir / "var", bucket=None
            )
            rid = await uploaded_recording(http, api, alice, scenario="login-500")
            async with Subscription(
                url, PROGRESS, {"id": rid}, {"Authorization": alice["Authorization"]}
            ) as sub:
                await asyncio.sleep(0.3)
                assert (
                    await http.post(f"{url}{BASE}/{rid}/analyze", headers=alice)
                ).status_code == 200
                await wait_for_stage(sub, ENGINE_STAGES)
                redis_server.stop()
                deadline = time.monotonic() + 120
                while "analysis.event_not_published" not in _log_text(workdir, "worker-"):
                    assert time.monotonic() < deadline, "the worker never finished the analysis"
                    await asyncio.sleep(0.5)
                redis_server.start()
                events = await collect(sub, timeout=60)
            assert events[-1]["status"] == "analyzed", events[-3:]
    assert (
        await db.fetchval("SELECT status FROM analyses WHERE recording_id = $1::uuid", rid)
        == "analyzed"
    )


async def test_analyze_while_redis_is_down_is_a_503_that_changes_nothing(
    backends, http, db, workdir
):
    alice = bearer(backends.jwt_secret, "alice")
    with services.own_redis(workdir) as redis_server:
        env = _env(backends, workdir, RECORDINGS_REDIS_URL=redis_server.url)
        with services.api_server(env, cwd=workdir) as (url, _):
            api = Api(
                url=url, env=env, pid=0, storage="local", data_dir=workdir / "var", bucket=None
            )
            rid = await uploaded_recording(http, api, alice, scenario="login-500")
            redis_server.stop()
            r = await http.post(f"{url}{BASE}/{rid}/analyze", headers=alice)
            assert r.status_code == 503, r.text
            assert r.headers["Retry-After"].isdigit()
            assert r.json()["error"]["code"] == "unavailable"
            detail = (await http.get(f"{url}{BASE}/{rid}", headers=alice)).json()
            assert detail["status"] == "pending" and detail["statusReason"] is None
            assert await db.fetchval("SELECT count(*) FROM analyses") == 0
            redis_server.start()
            r = await http.post(f"{url}{BASE}/{rid}/analyze", headers=alice)
            assert r.status_code == 200 and r.json()["status"] == "analyzing"


async def test_a_killed_workers_engine_dies_with_it_and_its_job_runs_again_soon(
    backends, http, db, workdir
):
    """SIGKILL of the worker alone (not its process group): its engine process goes too, and
    another worker runs the interrupted analysis once the job's lease lapses."""
    import os
    import signal

    import psutil

    lease = 6.0
    alice = bearer(backends.jwt_secret, "alice")
    env = _env(backends, workdir, RECORDINGS_JOB_LEASE_SECONDS=str(lease))
    with (
        services.api_server(env, cwd=workdir) as (url, _),
        services.worker_process(env, cwd=workdir) as worker,
    ):
        api = Api(url=url, env=env, pid=0, storage="local", data_dir=workdir / "var", bucket=None)
        rid = await uploaded_recording(http, api, alice, scenario="login-500")
        async with Subscription(
            url, PROGRESS, {"id": rid}, {"Authorization": alice["Authorization"]}
        ) as sub:
            await asyncio.sleep(0.3)
            job_id = (await http.post(f"{url}{BASE}/{rid}/analyze", headers=alice)).json()["jobId"]
            await wait_for_stage(sub, ENGINE_STAGES)
            assert worker.proc is not None
            children = psutil.Process(worker.proc.pid).children(recursive=True)
            assert children, "the worker runs its engine in a process of its own"
            os.kill(worker.proc.pid, signal.SIGKILL)
            worker.proc.wait(10)
            killed_at = time.monotonic()
            _, alive = psutil.wait_procs(children, timeout=10)
            assert not alive, f"processes outlived their worker: {[p.pid for p in alive]}"
            engine_gone_s = time.monotonic() - killed_at
            worker.start()
            while await db.fetchval("SELECT attempts FROM analyses WHERE id = $1", job_id) < 2:
                assert time.monotonic() - killed_at < lease + 30, (
                    "the interrupted job was not run again"
                )
                await asyncio.sleep(0.25)
            retried_after = time.monotonic() - killed_at
            events = await collect(sub, timeout=180)
        assert events[-1]["status"] == "analyzed", events[-3:]
    assert retried_after < lease + 30
    print(
        f"\nengine gone {engine_gone_s:.2f} s after its worker; "
        f"job run again {retried_after:.1f} s after (lease {lease:.0f} s)"
    )
    rows = await db.fetch(
        "SELECT id, status, attempts FROM analyses WHERE recording_id = $1::uuid", rid
    )
    assert [(r["id"], r["status"], r["attempts"]) for r in rows] == [(job_id, "analyzed", 2)]


async def _wait_status(
    http, url: str, rid: str, headers: dict[str, str], timeout: float = 180
) -> str:
    deadline = time.monotonic() + timeout
    status = ""
    while time.monotonic() < deadline:
        status = (await http.get(f"{url}{BASE}/{rid}", headers=headers)).json()["status"]
        if status in ("analyzed", "failed"):
            return status
        await asyncio.sleep(0.5)
    return status

"""The arq jobs run in-process on the real service layer: a bug ends an analysis with a reason,
the reaper gets analyses no worker holds going again, the sweep removes old unclaimed recordings."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import redis.asyncio as aioredis

from app.analysis import repository as analyses
from app.config import Settings
from app.recordings.models import Recording, User
from app.services import Services, open_services
from tests.conftest import Api, Backends
from tests.support.factories import BASE, bearer, uploaded_recording
from workers import jobs


@pytest.fixture
async def services(backends: Backends, local_api: Api) -> AsyncIterator[Services]:
    settings = Settings(
        database_url=backends.database_url,
        redis_url=backends.redis_url,
        jwt_secret=backends.jwt_secret,
        data_dir=local_api.data_dir,
        queue_name=f"recordings-jobs:{secrets.token_hex(4)}",
        analysis_max_tries=2,
    )
    async with open_services(settings, api=False) as opened:
        yield opened


@pytest.mark.logs_errors  # the bug is logged with its traceback
async def test_an_internal_error_ends_the_analysis_with_a_reason(
    services, local_api: Api, backends, db, http
):
    """A bug in the engine must not leave a recording "analyzing" forever."""
    alice = bearer(backends.jwt_secret, "alice")
    rid = await uploaded_recording(http, local_api, alice, scenario="login-500")

    class ExplodingEngine:
        async def run(self, **kwargs: object) -> None:
            raise ZeroDivisionError("engine bug")

    analysis = (await analyses.start(uuid.UUID(rid))).analysis
    ctx = {"services": services, "engine": ExplodingEngine(), "job_try": 1}
    assert await jobs.analyze_recording(ctx, analysis.id) == "failed"
    row = await db.fetchrow("SELECT status, error FROM analyses WHERE id = $1", analysis.id)
    assert row["status"] == "failed" and "ZeroDivisionError" in row["error"]
    detail = (await http.get(f"{local_api.url}{BASE}/{rid}", headers=alice)).json()
    assert detail["status"] == "failed" and "internal error" in detail["statusReason"]


async def test_an_analysis_no_worker_holds_is_queued_again_then_ended(
    services, local_api: Api, backends, db, http
):
    """The database says "running", but arq has no job and no worker holds a lease on one (Redis
    lost its data, or arq gave up while the worker kept dying): it runs again, and once it has been
    started as often as it may, it ends with a reason instead of staying "analyzing"."""
    alice = bearer(backends.jwt_secret, "alice")
    rids = [
        await uploaded_recording(http, local_api, alice, scenario="login-500") for _ in range(3)
    ]
    queue_name = services.settings.queue_name
    client = aioredis.from_url(backends.redis_url)
    try:
        lost, exhausted, held = [(await analyses.start(uuid.UUID(rid))).analysis for rid in rids]
        await db.execute("UPDATE analyses SET created_at = now() - interval '1 hour'")
        await db.execute(
            "UPDATE analyses SET attempts = 2, status = 'running' WHERE id = $1", exhausted.id
        )
        await client.set(f"arq:in-progress:{held.id}", b"1", ex=60)  # a worker holds this one
        ctx = {"services": services}
        assert await jobs.reap_abandoned(ctx) == 2
        assert await services.queue.is_held(lost.id)  # queued again
        assert await client.zscore(queue_name, lost.id) is not None
        assert await jobs.reap_abandoned(ctx) == 0  # nothing more to do while arq holds it
    finally:
        await client.delete(f"arq:in-progress:{held.id}", f"arq:job:{lost.id}", queue_name)
        await client.aclose()
    rows = {r["id"]: r for r in await db.fetch("SELECT id, status, error FROM analyses")}
    assert rows[lost.id]["status"] == "queued"
    assert rows[exhausted.id]["status"] == "failed" and "interrupted" in rows[exhausted.id]["error"]
    assert rows[held.id]["status"] == "queued"
    assert (await http.get(f"{local_api.url}{BASE}/{rids[1]}", headers=alice)).json()[
        "status"
    ] == "failed"


async def test_the_sweep_removes_old_unclaimed_recordings_only(services, db):
    owner = await User.create(subject="keeper")
    old_unclaimed = await Recording.create(
        id=uuid.uuid4(), metadata={}, video_content_type="video/webm"
    )
    new_unclaimed = await Recording.create(
        id=uuid.uuid4(), metadata={}, video_content_type="video/webm"
    )
    old_claimed = await Recording.create(
        id=uuid.uuid4(), owner=owner, metadata={}, video_content_type="video/webm"
    )
    ten_days_ago = datetime.now(UTC) - timedelta(days=10)
    await db.execute(
        "UPDATE recordings SET created_at = $1 WHERE id = ANY($2::uuid[])",
        ten_days_ago,
        [old_unclaimed.id, old_claimed.id],
    )
    assert await jobs.sweep_unclaimed({"services": services}) == 1
    remaining = {r["id"] for r in await db.fetch("SELECT id FROM recordings")}
    assert remaining == {new_unclaimed.id, old_claimed.id}

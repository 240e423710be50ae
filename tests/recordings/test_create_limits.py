"""What a create body may cost: bounded in lists and values, read off the event loop when large."""

from __future__ import annotations

import asyncio
import json
import time

import psutil

from app.recordings.schemas import MAX_ACTIONS, MAX_METADATA_VALUES, MAX_VALUES
from tests.conftest import Api
from tests.support.factories import BASE, bearer, create_body


async def _post(http, api: Api, body: object):  # type: ignore[no-untyped-def]
    return await http.post(
        api.url + BASE,
        content=json.dumps(body),
        headers={"Content-Type": "application/json"},
        timeout=120,
    )


async def test_too_many_actions_are_refused_naming_the_field(local_api: Api, http, db):
    body = create_body()
    body["actions"] = [{"type": "click", "timestamp": 1}] * (MAX_ACTIONS + 1)
    r = await _post(http, local_api, body)
    assert r.status_code == 400, r.text
    assert r.json()["error"]["field"] == "actions"
    assert await db.fetchval("SELECT count(*) FROM recordings") == 0


async def test_too_many_values_in_all_are_413(local_api: Api, http, db):
    body = create_body()
    body["elements"] = [{"v": list(range(20))} for _ in range(MAX_VALUES // 22 + 10)]
    r = await _post(http, local_api, body)
    assert r.status_code == 413, r.text
    assert r.json()["error"]["field"] == "body" and str(MAX_VALUES) in r.json()["error"]["message"]
    # a million tiny actions (the probe's body) is refused as quickly
    body = create_body()
    body["actions"] = [{"type": "c", "timestamp": 1}] * 1_000_000
    started = time.monotonic()
    r = await _post(http, local_api, body)
    assert r.status_code == 413 and time.monotonic() - started < 20
    assert await db.fetchval("SELECT count(*) FROM recordings") == 0


async def test_a_large_metadata_is_413(local_api: Api, http, db):
    body = create_body()
    body["metadata"]["extra"] = list(range(MAX_METADATA_VALUES + 1))
    r = await _post(http, local_api, body)
    assert r.status_code == 413 and r.json()["error"]["field"] == "metadata", r.text


async def test_the_largest_body_allowed_does_not_hold_other_clients(
    local_api: Api, http, db, backends
):
    """30 MiB of actions are parsed and validated in the reader's process: meanwhile the API
    answers other requests at once (before, such a body held its event loop for seconds)."""
    body = create_body()
    body["actions"] = [
        {"type": "click", "timestamp": i, "selector": "#save", "text": "x" * 250}
        for i in range(MAX_ACTIONS)
    ]
    payload = json.dumps(body)
    alice = bearer(backends.jwt_secret, "alice")
    latencies: list[float] = []
    done = asyncio.Event()

    async def probe() -> None:
        while not done.is_set():
            started = time.perf_counter()
            assert (await http.get(local_api.url + BASE, headers=alice)).status_code == 200
            latencies.append(time.perf_counter() - started)
            await asyncio.sleep(0.02)

    prober = asyncio.create_task(probe())
    await asyncio.sleep(0.2)
    r = await http.post(
        local_api.url + BASE,
        content=payload,
        headers={"Content-Type": "application/json"},
        timeout=120,
    )
    done.set()
    await prober
    assert r.status_code == 201, r.text
    assert len(latencies) > 10 and max(latencies) < 0.5, (
        f"the API stalled for {max(latencies):.2f} s"
    )
    stored = await db.fetchval("SELECT jsonb_array_length(actions) FROM recording_captures")
    assert stored == MAX_ACTIONS
    detail = await http.get(
        f"{local_api.url}{BASE}/{r.json()['recordingId']}",
        headers={"X-Upload-Token": r.json()["uploadToken"]},
        timeout=60,
    )
    assert detail.json()["actions"][-1] == body["actions"][-1]


async def test_a_dead_reader_process_is_replaced(local_api: Api, http, db):
    body = create_body()
    body["actions"] = [
        {"type": "click", "timestamp": i, "text": "y" * 100} for i in range(2000)
    ]  # > 64 KiB
    assert (await _post(http, local_api, body)).status_code == 201
    readers = [
        p
        for p in psutil.Process(local_api.pid).children()
        if "multiprocessing" in " ".join(p.cmdline())
    ]
    assert readers, "large bodies are read in a process of the API's own"
    for reader in readers:
        reader.kill()
    psutil.wait_procs(readers, timeout=10)
    statuses = [(await _post(http, local_api, body)).status_code for _ in range(2)]
    assert statuses in ([201, 201], [503, 201]), statuses


async def test_graphql_requests_are_bounded_too(local_api: Api, http):
    big = "x" * (3 * 1024 * 1024)
    r = await http.post(
        local_api.url + "/graphql",
        content=json.dumps({"query": "{ __typename }", "v": big}),
        headers={"Content-Type": "application/json"},
    )
    assert r.status_code == 413 and r.json()["error"]["field"] == "body"

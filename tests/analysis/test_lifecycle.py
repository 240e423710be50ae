"""The analysis lifecycle end to end: real uvicorn, worker, Redis and PostgreSQL, and real media."""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import secrets

import pytest
from arq.connections import RedisSettings, create_pool
from arq.jobs import Job

from tests.conftest import Api
from tests.support import services
from tests.support.factories import BASE, bearer, create, uploaded_recording
from tests.support.graphql import PROGRESS, Subscription, collect, gql, wait_for_stage

RECORDING_QUERY = """query($id: ID!) { recording(id: $id) {
  id status videoUploadStatus duration intent visitedUrls
  analysis { jobId status stage progress error
    sections { title timestamp endTimestamp description
      citations { type timestamp evidenceId detail } }
    frames { timestamp description text thumbnailUrl }
    transcript { start end text }
    findings { kind title severity timestamp confidence evidenceIds } }
  summary { summary keyFindings } } }"""


CURRENT_QUERY = """query($id: ID!) { recording(id: $id) {
  analysis { jobId status } currentAnalysis { jobId status sections { title } } } }"""


async def test_analysis_end_to_end_with_live_progress(local_api: Api, worker, http, db, backends):
    alice = bearer(backends.jwt_secret, "alice")
    rid = await uploaded_recording(http, local_api, alice)
    r = await http.get(f"{local_api.url}{BASE}/{rid}/analysis", headers=alice)
    assert r.status_code == 404 and r.json()["error"]["code"] == "analysis_not_found"

    async with Subscription(
        local_api.url, PROGRESS, {"id": rid}, {"Authorization": alice["Authorization"]}
    ) as sub:
        assert sub.ack["type"] == "connection_ack"
        listener = asyncio.create_task(collect(sub))
        await asyncio.sleep(0.3)
        first = await http.post(f"{local_api.url}{BASE}/{rid}/analyze", headers=alice)
        second = await http.post(f"{local_api.url}{BASE}/{rid}/analyze", headers=alice)
        assert first.status_code == 200 and first.json()["status"] == "analyzing"
        assert second.json()["jobId"] == first.json()["jobId"]  # idempotent while it runs
        assert first.json()["jobId"].startswith("job-")
        early = await http.get(f"{local_api.url}{BASE}/{rid}/summary", headers=alice)
        assert early.status_code == 409 and early.json()["error"]["code"] == "analysis_not_ready"
        assert early.json()["error"]["status"] == "analyzing"
        events = await listener

    assert events[0]["status"] == "pending"  # the current state comes first
    assert events[-1]["status"] == "analyzed" and events[-1]["progress"] == 1.0
    progress = [e["progress"] for e in events]
    assert progress == sorted(progress), progress  # never backwards
    stages = {e["stage"] for e in events}
    assert {"decode", "ocr", "transcribe", "summarize"} <= stages
    assert len(events) >= 6
    assert all(e["jobId"] == first.json()["jobId"] for e in events[1:])
    # The estimate of the time left: known once the analysis is under way, then only shrinking
    # (to the tenth of a second it is rounded to), and null once it has finished.
    etas = [e["etaSeconds"] for e in events if e["etaSeconds"] is not None]
    assert len(etas) >= 3, events
    assert all(b <= a + 0.1 for a, b in itertools.pairwise(etas)), etas
    assert 0 < etas[0] < 600 and events[-1]["etaSeconds"] is None

    rest = (await http.get(f"{local_api.url}{BASE}/{rid}/analysis", headers=alice)).json()
    summary = (await http.get(f"{local_api.url}{BASE}/{rid}/summary", headers=alice)).json()
    assert rest["sections"] and summary["summary"] and summary["keyFindings"]
    for section in rest["sections"]:
        assert {"title", "timestamp", "description", "citations", "endTimestamp"} <= set(section)
        for citation in section["citations"]:
            assert {"type", "timestamp", "evidenceId"} <= set(citation)
    thumb = rest["frames"][0]["thumbnailUrl"]
    image = await http.get(thumb)
    assert image.status_code == 200 and image.content[:2] == b"\xff\xd8"  # a JPEG

    data = (await gql(http, local_api.url, RECORDING_QUERY, {"id": rid}, alice))["data"][
        "recording"
    ]
    assert data["status"] == "analyzed"
    analysis = data["analysis"]
    assert analysis["jobId"] == first.json()["jobId"] and analysis["status"] == "analyzed"
    assert [(s["title"], s["timestamp"], len(s["citations"])) for s in analysis["sections"]] == [
        (s["title"], s["timestamp"], len(s["citations"])) for s in rest["sections"]
    ]
    assert [f["title"] for f in analysis["findings"]] == [f.get("title") for f in rest["findings"]]
    assert data["summary"] == {"summary": summary["summary"], "keyFindings": summary["keyFindings"]}
    assert analysis["transcript"] and analysis["frames"]
    row = await db.fetchrow(
        "SELECT status, attempts FROM analyses WHERE id = $1", first.json()["jobId"]
    )
    assert row["status"] == "analyzed" and row["attempts"] == 1

    # A re-analysis: the finished result stays readable (REST and currentAnalysis) until the new
    # one commits; the latest run shows its progress meanwhile.
    again = (await http.post(f"{local_api.url}{BASE}/{rid}/analyze", headers=alice)).json()
    assert again["jobId"] != first.json()["jobId"]
    async with Subscription(
        local_api.url, PROGRESS, {"id": rid}, {"Authorization": alice["Authorization"]}
    ) as sub:
        listener = asyncio.create_task(collect(sub))
        during = (await gql(http, local_api.url, CURRENT_QUERY, {"id": rid}, alice))["data"][
            "recording"
        ]
        during_rest = (
            await http.get(f"{local_api.url}{BASE}/{rid}/analysis", headers=alice)
        ).json()
        rerun = await listener
    assert rerun[-1]["status"] == "analyzed" and rerun[-1]["jobId"] == again["jobId"]
    assert during["analysis"]["jobId"] == again["jobId"] and during["analysis"]["status"] in {
        "queued",
        "running",
    }
    assert during["currentAnalysis"]["jobId"] == first.json()["jobId"]
    assert [s["title"] for s in during["currentAnalysis"]["sections"]] == [
        s["title"] for s in rest["sections"]
    ]
    assert [s["title"] for s in during_rest["sections"]] == [s["title"] for s in rest["sections"]]
    after = (await gql(http, local_api.url, CURRENT_QUERY, {"id": rid}, alice))["data"]["recording"]
    assert after["currentAnalysis"]["jobId"] == after["analysis"]["jobId"] == again["jobId"]
    assert after["currentAnalysis"]["sections"]


async def test_a_broken_video_fails_with_its_reason_and_the_worker_goes_on(
    local_api: Api, worker, http, db, backends
):
    alice = bearer(backends.jwt_secret, "alice")
    broken = await uploaded_recording(
        http, local_api, alice, scenario="login-500", data=os.urandom(50_000)
    )
    async with Subscription(
        local_api.url, PROGRESS, {"id": broken}, {"Authorization": alice["Authorization"]}
    ) as sub:
        listener = asyncio.create_task(collect(sub))
        await asyncio.sleep(0.3)
        assert (
            await http.post(f"{local_api.url}{BASE}/{broken}/analyze", headers=alice)
        ).status_code == 200
        events = await listener
    assert events[-1]["status"] == "failed" and events[-1]["message"]
    reason = events[-1]["message"]
    r = await http.get(f"{local_api.url}{BASE}/{broken}/analysis", headers=alice)
    assert r.status_code == 409
    assert r.json()["error"]["status"] == "failed" and r.json()["error"]["reason"] == reason
    detail = (await http.get(f"{local_api.url}{BASE}/{broken}", headers=alice)).json()
    assert detail["status"] == "failed" and detail["statusReason"] == reason
    data = (await gql(http, local_api.url, RECORDING_QUERY, {"id": broken}, alice))["data"][
        "recording"
    ]
    assert data["status"] == "failed" and data["analysis"]["error"] == reason

    good = await uploaded_recording(
        http, local_api, alice, scenario="login-500", video="recording.mp4"
    )
    assert (
        await http.post(f"{local_api.url}{BASE}/{good}/analyze", headers=alice)
    ).status_code == 200
    for _ in range(240):
        status = (await http.get(f"{local_api.url}{BASE}/{good}", headers=alice)).json()["status"]
        if status != "analyzing":
            break
        await asyncio.sleep(0.5)
    assert status == "analyzed"


async def test_analyze_needs_an_uploaded_video(local_api: Api, http, db, backends):
    alice = bearer(backends.jwt_secret, "alice")
    created = await create(http, local_api.url, headers=alice)
    r = await http.post(f"{local_api.url}{BASE}/{created['recordingId']}/analyze", headers=alice)
    assert r.status_code == 409 and r.json()["error"]["code"] == "video_not_uploaded"
    assert await db.fetchval("SELECT count(*) FROM analyses") == 0


async def test_delete_during_analysis_leaves_nothing(local_api: Api, worker, http, db, backends):
    alice = bearer(backends.jwt_secret, "alice")
    rid = await uploaded_recording(http, local_api, alice)
    async with Subscription(
        local_api.url, PROGRESS, {"id": rid}, {"Authorization": alice["Authorization"]}
    ) as sub:
        await asyncio.sleep(0.3)
        job_id = (await http.post(f"{local_api.url}{BASE}/{rid}/analyze", headers=alice)).json()[
            "jobId"
        ]
        await wait_for_stage(sub, {"decode", "keyframes", "ocr", "transcribe"})
        assert (await http.delete(f"{local_api.url}{BASE}/{rid}", headers=alice)).status_code == 204
    queue = await create_pool(
        RedisSettings.from_dsn(backends.redis_url), default_queue_name=backends.queue_name
    )
    try:
        outcome = await Job(job_id, queue, _queue_name=backends.queue_name).result(timeout=180)
    finally:
        await queue.aclose()
    assert outcome in ("discarded", "skipped")
    assert await db.fetchval("SELECT count(*) FROM analyses") == 0
    assert await db.fetchval("SELECT count(*) FROM analysis_frames") == 0
    assert not (local_api.data_dir / "objects" / "app" / "recordings" / rid).exists()


async def test_two_api_processes_each_deliver_the_events(
    local_api: Api, worker, http, db, backends
):
    alice = bearer(backends.jwt_secret, "alice")
    rid = await uploaded_recording(http, local_api, alice, scenario="login-500")
    with services.api_server(local_api.env, cwd=local_api.data_dir.parent) as (second_url, _):
        auth = {"Authorization": alice["Authorization"]}
        async with (
            Subscription(local_api.url, PROGRESS, {"id": rid}, auth) as one,
            Subscription(second_url, PROGRESS, {"id": rid}, auth) as two,
        ):
            listeners = [asyncio.create_task(collect(one)), asyncio.create_task(collect(two))]
            await asyncio.sleep(0.3)
            assert (
                await http.post(f"{second_url}{BASE}/{rid}/analyze", headers=alice)
            ).status_code == 200
            first, second = await asyncio.gather(*listeners)
    assert first[-1]["status"] == second[-1]["status"] == "analyzed"
    assert first[-1]["jobId"] == second[-1]["jobId"]


async def test_killed_worker_is_replaced_and_leaves_one_result(backends, db, http, local_api: Api):
    # Its own queue and short job timeout, so the interrupted job is picked up again quickly.
    env = {
        **local_api.env,
        "RECORDINGS_QUEUE_NAME": f"recordings-kill:{secrets.token_hex(4)}",
        "RECORDINGS_ANALYSIS_TIMEOUT_SECONDS": "25",
    }
    cwd = local_api.data_dir.parent
    alice = bearer(backends.jwt_secret, "alice")
    with (
        services.api_server(env, cwd=cwd) as (url, _),
        services.worker_process(env, cwd=cwd) as worker_proc,
    ):
        api = Api(
            url=url, env=env, pid=0, storage="local", data_dir=local_api.data_dir, bucket=None
        )
        rid = await uploaded_recording(http, api, alice, scenario="login-500")
        auth = {"Authorization": alice["Authorization"]}
        async with Subscription(url, PROGRESS, {"id": rid}, auth) as sub:
            await asyncio.sleep(0.3)
            job_id = (await http.post(f"{url}{BASE}/{rid}/analyze", headers=alice)).json()["jobId"]
            await wait_for_stage(sub, {"decode", "keyframes", "transcribe", "ocr"})
            worker_proc.kill()
            worker_proc.start()
            events = await collect(sub, timeout=240)
        assert events[-1]["status"] == "analyzed", events[-3:]
    rows = await db.fetch(
        "SELECT id, status, attempts FROM analyses WHERE recording_id = $1::uuid", rid
    )
    assert [(r["id"], r["status"]) for r in rows] == [(job_id, "analyzed")]
    assert rows[0]["attempts"] == 2
    sections = await db.fetchval(
        "SELECT count(*) FROM analysis_sections WHERE analysis_id = $1", job_id
    )
    positions = await db.fetch(
        "SELECT position FROM analysis_frames WHERE analysis_id = $1", job_id
    )
    assert sections > 0 and len(positions) == len(
        {p["position"] for p in positions}
    )  # no duplicates


async def test_other_users_cannot_see_or_touch_an_analysis(local_api: Api, http, db, backends):
    alice, bob = bearer(backends.jwt_secret, "alice"), bearer(backends.jwt_secret, "bob")
    created = await create(http, local_api.url, headers=alice)
    rid = created["recordingId"]
    assert (await gql(http, local_api.url, RECORDING_QUERY, {"id": rid}, bob))["data"][
        "recording"
    ] is None
    for route in ("analysis", "summary"):
        assert (
            await http.get(f"{local_api.url}{BASE}/{rid}/{route}", headers=bob)
        ).status_code == 404
    assert (await http.post(f"{local_api.url}{BASE}/{rid}/analyze", headers=bob)).status_code == 404
    mutation = """mutation($id: ID!) {
      analyzeRecording(id: $id) { __typename ... on NotFoundError { message } }
      deleteRecording(id: $id) { __typename }
      claimRecording(id: $id) { __typename ... on ConflictError { code } } }"""
    data = (await gql(http, local_api.url, mutation, {"id": rid}, bob))["data"]
    assert data["analyzeRecording"]["__typename"] == "NotFoundError"
    assert data["deleteRecording"]["__typename"] == "NotFoundError"
    assert data["claimRecording"] == {"__typename": "NotFoundError"}
    async with Subscription(
        local_api.url, PROGRESS, {"id": rid}, {"Authorization": bob["Authorization"]}
    ) as sub:
        messages = [m async for m in sub.messages(timeout=10)]
    assert messages[0]["type"] == "error" or "errors" in messages[0].get("payload", {})
    assert "not found" in json.dumps(messages[0]).lower()
    assert await db.fetchval("SELECT count(*) FROM recordings WHERE id = $1::uuid", rid) == 1
    async with Subscription(
        local_api.url, PROGRESS, {"id": rid}, {"Authorization": "Bearer forged"}
    ) as sub:
        assert sub.ack == {"type": "closed", "code": 4403}


@pytest.mark.parametrize(
    ("query", "fragment"),
    [
        ("{ recordings { edges { node { id } } } }", "sign in"),
        (
            "{ " + 'recording(id: "x") { analysis { ' * 1 + "sections { citations { type } } } } }",
            None,
        ),
    ],
)
async def test_graphql_expected_errors_are_clear(local_api: Api, http, db, query, fragment):
    body = await gql(http, local_api.url, query)
    if fragment:
        assert fragment in body["errors"][0]["message"]
    else:
        assert body["data"]["recording"] is None


UPDATES = "subscription { recordingUpdates { recordingId jobId status stage progress } }"


async def test_recording_updates_follow_the_users_recordings(
    local_api: Api, worker, http, db, backends
):
    alice = bearer(backends.jwt_secret, "alice")
    rid = await uploaded_recording(
        http, local_api, alice, scenario="login-500", data=b"not a video at all"
    )
    async with Subscription(
        local_api.url, UPDATES, {}, {"Authorization": alice["Authorization"]}
    ) as sub:
        await asyncio.sleep(0.3)
        assert (
            await http.post(f"{local_api.url}{BASE}/{rid}/analyze", headers=alice)
        ).status_code == 200
        statuses = []
        async for message in sub.messages(timeout=120):
            event = message["payload"]["data"]["recordingUpdates"]
            assert event["recordingId"] == rid
            statuses.append(event["status"])
            if event["status"] in ("analyzed", "failed"):
                break
    assert statuses[0] == "analyzing" and statuses[-1] == "failed"


async def test_analysis_on_s3_storage(s3_api: Api, backends, db, http):
    from tests.conftest import empty_storage, s3_client

    empty_storage(s3_api, backends)
    env = {**s3_api.env, "RECORDINGS_QUEUE_NAME": f"recordings-s3:{secrets.token_hex(4)}"}
    alice = bearer(backends.jwt_secret, "alice")
    cwd = s3_api.data_dir.parent
    with services.api_server(env, cwd=cwd) as (url, _), services.worker_process(env, cwd=cwd):
        api = Api(
            url=url, env=env, pid=0, storage="s3", data_dir=s3_api.data_dir, bucket=s3_api.bucket
        )
        rid = await uploaded_recording(
            http, api, alice, scenario="login-500", video="recording.mp4"
        )
        async with Subscription(
            url, PROGRESS, {"id": rid}, {"Authorization": alice["Authorization"]}
        ) as sub:
            await asyncio.sleep(0.3)
            assert (await http.post(f"{url}{BASE}/{rid}/analyze", headers=alice)).status_code == 200
            events = await collect(sub)
        assert events[-1]["status"] == "analyzed"
        frames = (await http.get(f"{url}{BASE}/{rid}/analysis", headers=alice)).json()["frames"]
        assert "X-Amz-Signature" in frames[0]["thumbnailUrl"]
        assert (await http.get(frames[0]["thumbnailUrl"])).content[:2] == b"\xff\xd8"
        keys = [
            o["Key"]
            for o in s3_client(backends.s3_endpoint)
            .list_objects_v2(Bucket=s3_api.bucket, Prefix=f"app/recordings/{rid}/")
            .get("Contents", [])
        ]
        assert sum(k.endswith(".jpg") for k in keys) == len(frames)
        assert (await http.delete(f"{url}{BASE}/{rid}", headers=alice)).status_code == 204
        listing = s3_client(backends.s3_endpoint).list_objects_v2(
            Bucket=s3_api.bucket, Prefix=f"app/recordings/{rid}/"
        )
        assert listing.get("KeyCount", 0) == 0


async def test_websocket_origins_can_be_restricted(local_api: Api, backends, db, http):
    env = {**local_api.env, "RECORDINGS_ALLOWED_WS_ORIGINS": '["https://dashboard.example"]'}
    alice = bearer(backends.jwt_secret, "alice")
    with services.api_server(env, cwd=local_api.data_dir.parent) as (url, _):
        created = await create(http, url, headers=alice)
        ws_url = url.replace("http://", "ws://") + "/graphql"
        import websockets

        async with websockets.connect(
            ws_url, subprotocols=["graphql-transport-ws"], origin="https://dashboard.example"
        ) as ws:  # type: ignore[arg-type]
            await ws.send(json.dumps({"type": "connection_init", "payload": alice}))
            assert json.loads(await asyncio.wait_for(ws.recv(), 10))["type"] == "connection_ack"
        with pytest.raises(websockets.InvalidStatus) as refused:
            await websockets.connect(
                ws_url, subprotocols=["graphql-transport-ws"], origin="https://evil.example"
            )  # type: ignore[arg-type]
        assert refused.value.response.status_code == 403
        assert created["recordingId"]


async def test_websocket_messages_are_not_compressed(local_api: Api, backends, db, http):
    """Browsers offer permessage-deflate; small progress events fanned out to many subscribers
    are cheaper uncompressed, so the server declines it."""
    import websockets

    ws_url = local_api.url.replace("http://", "ws://") + "/graphql"
    async with websockets.connect(
        ws_url, subprotocols=["graphql-transport-ws"], compression="deflate"
    ) as ws:
        assert ws.response.headers.get("Sec-WebSocket-Extensions") is None
        assert ws.subprotocol == "graphql-transport-ws"

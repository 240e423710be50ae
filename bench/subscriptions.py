"""Subscription benchmark: N concurrent ``analysisProgress`` subscribers on one API process.

A publisher emits progress events for one recording on Redis (as workers do); every subscriber
receives them through the API's GraphQL websocket. Prints publish→receive latency p50/p99 over
all deliveries (target p99 < 50 ms) and the API process's RSS.

PostgreSQL and Redis come from RECORDINGS_TEST_DATABASE_URL / RECORDINGS_TEST_REDIS_URL or are
started embedded.

    python bench/subscriptions.py [--subscribers 1000] [--events 40] [--rate 10] [--recordings 1]

With ``--recordings 1`` every event fans out to all subscribers (the worst case for one process);
with ``--recordings N`` the subscribers spread over N recordings, as dashboards watching different
analyses do, and each round publishes one event per recording.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx
import psutil
import redis.asyncio as aioredis
import websockets

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.analysis.progress import AnalysisProgress, progress_channel  # noqa: E402
from tests.support import services  # noqa: E402
from tests.support.factories import BASE, bearer, create_body  # noqa: E402
from tests.support.graphql import PROGRESS  # noqa: E402


async def subscriber(url: str, token: str, rid: str, ready: asyncio.Event, counter: list[int],
                     latencies: list[float], total: int) -> None:
    async with websockets.connect(url, subprotocols=["graphql-transport-ws"], max_queue=None,
                                  open_timeout=120, ping_interval=None) as ws:
        await ws.send(json.dumps({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}}))
        assert json.loads(await ws.recv())["type"] == "connection_ack"
        await ws.send(json.dumps({"id": "1", "type": "subscribe",
                                  "payload": {"query": PROGRESS, "variables": {"id": rid}}}))
        first = json.loads(await ws.recv())  # the current state
        assert first["type"] == "next", first
        counter[0] += 1
        if counter[0] == total:
            ready.set()
        async for raw in ws:
            message = json.loads(raw)
            if message["type"] == "complete":
                return
            event = message["payload"]["data"]["analysisProgress"]
            latencies.append(time.time() - float(event["message"]))


async def run(url: str, pid: int, redis_url: str, secret: str, subscribers: int, events: int, rate: float,
              recordings: int) -> None:
    headers = bearer(secret, "bench")
    async with httpx.AsyncClient() as http:
        rids = [(await http.post(url + BASE, json=create_body(), headers=headers)).json()["recordingId"]
                for _ in range(recordings)]
    token = headers["Authorization"].split()[1]
    ws_url = url.replace("http://", "ws://") + "/graphql"
    server = psutil.Process(pid)
    rss_before = server.memory_info().rss
    ready, counter, latencies = asyncio.Event(), [0], []
    started = time.perf_counter()
    tasks = []
    for i in range(subscribers):
        rid = rids[i % recordings]
        tasks.append(asyncio.create_task(subscriber(ws_url, token, rid, ready, counter, latencies, subscribers)))
        if i % 50 == 49:
            await asyncio.sleep(0.25)  # connect in waves, as real dashboards do
    await asyncio.wait_for(ready.wait(), 300)
    connect_s = time.perf_counter() - started
    rss_connected = server.memory_info().rss
    client = aioredis.from_url(redis_url)
    server_cpu, own_cpu = sum(server.cpu_times()[:2]), sum(psutil.Process().cpu_times()[:2])
    publish_started = time.perf_counter()
    job = f"job-{secrets.token_hex(8)}"
    # ``events`` rounds; each round publishes one event to every recording, spread over 1/rate s.
    for i in range(events):
        final = i == events - 1
        for rid in rids:
            event = AnalysisProgress(recording_id=rid, job_id=job, status="analyzed" if final else "analyzing",
                                     stage="ocr", progress=1.0 if final else (i + 1) / events,
                                     message=repr(time.time()))
            await client.publish(progress_channel(rid), event.to_json())
            await asyncio.sleep(1 / rate / recordings)
    await asyncio.wait_for(asyncio.gather(*tasks), 300)
    delivery_s = time.perf_counter() - publish_started
    server_cpu = sum(server.cpu_times()[:2]) - server_cpu
    own_cpu = sum(psutil.Process().cpu_times()[:2]) - own_cpu
    await client.aclose()
    latencies.sort()
    ms = [x * 1000 for x in latencies]
    p99 = ms[int(len(ms) * 0.99) - 1]
    print(f"subscribers                 {subscribers} on {recordings} recording(s) (connected in {connect_s:.1f} s)")
    print(f"events published            {events * recordings}, {rate:.0f} rounds/s; "
          f"deliveries {len(ms)} of {events * subscribers}")
    print(f"latency p50                 {statistics.median(ms):.1f} ms")
    print(f"latency p99                 {p99:.1f} ms   (target < 50 ms)")
    print(f"latency max                 {ms[-1]:.1f} ms")
    print(f"CPU while delivering        server {server_cpu:.1f} s, subscribers' client {own_cpu:.1f} s "
          f"over {delivery_s:.1f} s wall ({len(ms) / server_cpu:.0f} deliveries per server CPU second)")
    print(f"server RSS                  {rss_before / 2**20:.0f} MiB idle, {rss_connected / 2**20:.0f} MiB with "
          f"{subscribers} subscribers ({(rss_connected - rss_before) / subscribers / 1024:.0f} KiB each)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--events", type=int, default=40)
    parser.add_argument("--rate", type=float, default=10.0,
                        help="rounds per second (a round: one event to every recording)")
    parser.add_argument("--recordings", type=int, default=1, help="recordings the subscribers spread over")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        with (
            services.postgres_server(work) as pg_server,
            services.redis_server(work) as redis_url,
            services.fresh_database(pg_server) as database_url,
        ):
            secret = secrets.token_urlsafe(24)
            env = {"RECORDINGS_DATABASE_URL": database_url, "RECORDINGS_REDIS_URL": redis_url,
                   "RECORDINGS_JWT_SECRET": secret, "RECORDINGS_DATA_DIR": str(work / "var"),
                   "RECORDINGS_QUEUE_NAME": f"bench:{secrets.token_hex(4)}"}
            with services.api_server(env, cwd=work) as (url, proc):
                asyncio.run(run(url, proc.pid, redis_url, secret, args.subscribers, args.events, args.rate,
                                args.recordings))

if __name__ == "__main__":
    main()

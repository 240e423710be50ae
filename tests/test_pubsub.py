"""The pub/sub fan-out brings its subscribers up to date after a lost connection or a silence."""

from __future__ import annotations

import asyncio
import tempfile
from pathlib import Path

import redis.asyncio as aioredis

from app.pubsub import Broker
from tests.conftest import Backends
from tests.support import services


async def test_a_quiet_channel_is_re_read(backends: Backends):
    calls: list[tuple[str, float | None]] = []

    async def resync(channel: str, since: float | None) -> list[bytes]:
        calls.append((channel, since))
        return [b'{"state": "current"}']

    broker = Broker(aioredis.from_url(backends.redis_url), resync=resync, idle_resync_seconds=0.5)
    await broker.start()
    try:
        async with broker.subscribe("analysis.progress:quiet") as queue:
            assert await asyncio.wait_for(queue.get(), 5) == b'{"state": "current"}'
    finally:
        await broker.close()
    assert calls[0] == ("analysis.progress:quiet", None)


async def test_after_a_lost_connection_every_channel_is_re_read_and_live_again(backends: Backends):
    workdir = Path(tempfile.mkdtemp(dir=backends.workdir, prefix="broker-"))
    with services.own_redis(workdir) as server:
        calls: list[tuple[str, float | None]] = []

        async def resync(channel: str, since: float | None) -> list[bytes]:
            calls.append((channel, since))
            return [f"missed on {channel}".encode()]

        broker = Broker(aioredis.from_url(server.url), resync=resync, idle_resync_seconds=3600)
        await broker.start()
        publisher = aioredis.from_url(server.url)
        try:
            async with broker.subscribe("a") as first, broker.subscribe("b") as second:
                await publisher.publish("a", b"before")
                assert await asyncio.wait_for(first.get(), 5) == b"before"
                server.stop()
                await asyncio.sleep(1)
                server.start()
                assert await asyncio.wait_for(first.get(), 20) == b"missed on a"
                assert await asyncio.wait_for(second.get(), 20) == b"missed on b"
                assert {c for c, _ in calls} == {"a", "b"} and all(
                    since is not None for _, since in calls
                )
                await publisher.publish("b", b"after")  # subscribed again in Redis
                assert await asyncio.wait_for(second.get(), 5) == b"after"
        finally:
            await publisher.aclose()
            await broker.close()

"""Fan-out of Redis pub/sub to local subscribers: one Redis connection per API process.

A thousand GraphQL subscribers watching progress share one pub/sub connection; each gets its
own bounded queue. Channels are subscribed in Redis while at least one local subscriber wants them.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import AsyncIterator

import redis.asyncio as aioredis
import structlog

log = structlog.get_logger(__name__)

QUEUE_SIZE = 256


class Broker:
    def __init__(self, client: aioredis.Redis) -> None:
        self._client = client
        self._pubsub = client.pubsub(ignore_subscribe_messages=True)
        self._queues: dict[str, set[asyncio.Queue[bytes]]] = defaultdict(set)
        self._lock = asyncio.Lock()
        self._reader: asyncio.Task[None] | None = None

    async def start(self) -> None:
        self._reader = asyncio.create_task(self._read(), name="pubsub-reader")

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        await self._pubsub.aclose()

    async def _read(self) -> None:
        while True:
            try:
                if not self._queues:
                    await asyncio.sleep(0.05)
                    continue
                message = await self._pubsub.get_message(timeout=1.0)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # connection lost: redis-py reconnects on the next call
                log.warning("pubsub.read_failed", error=str(exc))
                await asyncio.sleep(0.5)
                await self._resubscribe()
                continue
            if message is None or message.get("type") != "message":
                continue
            channel = message["channel"].decode() if isinstance(message["channel"], bytes) else message["channel"]
            for queue in list(self._queues.get(channel, ())):
                if queue.full():
                    with contextlib.suppress(asyncio.QueueEmpty):
                        queue.get_nowait()  # a slow consumer loses the oldest event, not the newest
                queue.put_nowait(message["data"])

    async def _resubscribe(self) -> None:
        async with self._lock:
            channels = list(self._queues)
            if channels:
                with contextlib.suppress(Exception):
                    await self._pubsub.subscribe(*channels)

    @contextlib.asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[asyncio.Queue[bytes]]:
        """A queue that receives every message published on ``channel`` from now on."""
        queue: asyncio.Queue[bytes] = asyncio.Queue(QUEUE_SIZE)
        async with self._lock:
            first = not self._queues.get(channel)
            self._queues[channel].add(queue)
            if first:
                await self._pubsub.subscribe(channel)
        try:
            yield queue
        finally:
            async with self._lock:
                subscribers = self._queues.get(channel)
                if subscribers is not None:
                    subscribers.discard(queue)
                    if not subscribers:
                        del self._queues[channel]
                        with contextlib.suppress(Exception):
                            await self._pubsub.unsubscribe(channel)

"""Fan-out of Redis pub/sub to local subscribers: one Redis connection per API process.

Infrastructure, not analysis: what a channel means, and how to re-read its state, is the
caller's (``resync``).

A thousand GraphQL subscribers watching progress share one pub/sub connection; each gets its
own bounded queue. Channels are subscribed in Redis while at least one local subscriber wants them.

Pub/sub delivers only to whoever is subscribed at that moment: what is published while the
connection is down, or before it has subscribed again, is gone. So after every reconnection the
broker asks ``resync`` for the current state of each channel it serves and hands that to the
channel's subscribers, as if it had been published; subscribers therefore always learn the
latest state and the end of an analysis. Channels that have been silent for a while are
resynced too, which covers an event its publisher could not send.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence

import redis.asyncio as aioredis
import structlog

log = structlog.get_logger(__name__)

QUEUE_SIZE = 256
IDLE_RESYNC_SECONDS = 30.0
RECONNECT_DELAYS_S = (0.2, 0.5, 1.0, 2.0, 5.0)

Resync = Callable[[str, float | None], Awaitable[Sequence[bytes]]]
"""``resync(channel, since)``: the messages that bring the channel's subscribers up to date.
``since`` is when the connection was lost (a ``time.time()``), or None for an idle channel."""


async def _no_resync(channel: str, since: float | None) -> Sequence[bytes]:
    return ()


class Broker:
    def __init__(
        self,
        client: aioredis.Redis,
        *,
        resync: Resync = _no_resync,
        idle_resync_seconds: float = IDLE_RESYNC_SECONDS,
    ) -> None:
        self._client = client
        self._pubsub = client.pubsub(ignore_subscribe_messages=True)
        self._queues: dict[str, set[asyncio.Queue[bytes]]] = defaultdict(set)
        self._last_message: dict[str, float] = {}
        self._lock = asyncio.Lock()
        self._reader: asyncio.Task[None] | None = None
        self._resync = resync
        self._idle_resync = idle_resync_seconds

    async def start(self) -> None:
        self._reader = asyncio.create_task(self._read(), name="pubsub-reader")

    async def close(self) -> None:
        if self._reader is not None:
            self._reader.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reader
        with contextlib.suppress(Exception):
            await self._pubsub.aclose()  # type: ignore[no-untyped-call]  # unannotated in redis-py 5
        with contextlib.suppress(Exception):
            await self._client.aclose()

    def _deliver(self, channel: str, data: bytes) -> None:
        self._last_message[channel] = time.monotonic()
        for queue in list(self._queues.get(channel, ())):
            if queue.full():
                with contextlib.suppress(asyncio.QueueEmpty):
                    queue.get_nowait()  # a slow consumer loses the oldest event, not the newest
            queue.put_nowait(data)

    async def _read(self) -> None:
        last_idle_check = time.monotonic()
        while True:
            try:
                if not self._queues or not self._pubsub.subscribed:
                    await asyncio.sleep(0.05)  # nothing to read (or a first SUBSCRIBE on its way)
                    continue
                message = await self._pubsub.get_message(timeout=1.0)
            except asyncio.CancelledError:
                raise
            except Exception as exc:  # the connection is lost
                await self._reconnect(exc)
                continue
            if message is not None and message.get("type") == "message":
                channel = message["channel"]
                self._deliver(
                    channel.decode() if isinstance(channel, bytes) else channel, message["data"]
                )
            if time.monotonic() - last_idle_check >= 1.0:
                last_idle_check = time.monotonic()
                await self._resync_idle()

    async def _reconnect(self, exc: Exception) -> None:
        """Wait for Redis, subscribe again to every channel, then resync them all."""
        lost_at = time.time()
        log.warning(
            "pubsub.connection_lost",
            error=str(exc) or type(exc).__name__,
            channels=len(self._queues),
        )
        attempt = 0
        while True:
            await asyncio.sleep(RECONNECT_DELAYS_S[min(attempt, len(RECONNECT_DELAYS_S) - 1)])
            attempt += 1
            try:
                async with self._lock:
                    channels = list(self._queues)
                    if channels:
                        await self._pubsub.subscribe(*channels)
                    await self._pubsub.ping()
                break
            except asyncio.CancelledError:
                raise
            except Exception:
                continue
        log.info(
            "pubsub.reconnected",
            down_seconds=round(time.time() - lost_at, 1),
            channels=len(channels),
        )
        for channel in channels:
            await self._resync_channel(channel, lost_at)

    async def _resync_idle(self) -> None:
        now = time.monotonic()
        for channel in list(self._queues):
            last = self._last_message.get(channel)
            if last is None:
                self._last_message[channel] = now
            elif now - last >= self._idle_resync:
                self._last_message[channel] = now
                await self._resync_channel(channel, None)

    async def _resync_channel(self, channel: str, since: float | None) -> None:
        if not self._queues.get(channel):
            return
        try:
            messages = await self._resync(channel, since)
        except Exception as exc:  # the database may be down too: the next idle check tries again
            log.warning("pubsub.resync_failed", channel=channel, error=str(exc))
            return
        for data in messages:
            self._deliver(channel, data)

    @contextlib.asynccontextmanager
    async def subscribe(self, channel: str) -> AsyncIterator[asyncio.Queue[bytes]]:
        """A queue that receives every message published on ``channel`` from now on."""
        queue: asyncio.Queue[bytes] = asyncio.Queue(QUEUE_SIZE)
        async with self._lock:
            first = not self._queues.get(channel)
            self._queues[channel].add(queue)
            if first:
                self._last_message[channel] = time.monotonic()
                try:
                    await self._pubsub.subscribe(channel)
                except BaseException:
                    self._queues[channel].discard(queue)
                    if not self._queues[channel]:
                        del self._queues[channel]
                    raise
        try:
            yield queue
        finally:
            async with self._lock:
                subscribers = self._queues.get(channel)
                if subscribers is not None:
                    subscribers.discard(queue)
                    if not subscribers:
                        del self._queues[channel]
                        self._last_message.pop(channel, None)
                        with contextlib.suppress(Exception):
                            await self._pubsub.unsubscribe(channel)

"""arq's worker, made to ride out a Redis outage instead of exiting.

arq's poll loop lets a ``ConnectionError`` end the worker, and its ``close()`` raises again on
the way out; a job that ends while Redis is down loses its result bookkeeping. Here every step
that talks to Redis waits for it with a capped backoff instead, logging once when Redis goes
and once when it is back:

- the first connection at start-up is retried until Redis answers;
- a poll that fails is retried (redis-py reconnects on the next command);
- finishing a job (recording its result, removing it from the queue) is retried until it
  succeeds, so a job that ended during the outage is never run again;
- closing tolerates a Redis that is gone.

A running job is not interrupted: the analysis goes on in its process, and its own Redis
calls (progress events, the lease) are best effort.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from typing import Any

import structlog
from arq.connections import create_pool, log_redis_info
from arq.utils import poll
from arq.worker import Worker
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

log = structlog.get_logger(__name__)

REDIS_DOWN = (RedisConnectionError, RedisTimeoutError, ConnectionError, OSError)
BACKOFF_START_S = 0.5
BACKOFF_MAX_S = 5.0


class Backoff:
    """Capped exponential delays, reset by a success; logs an outage's start and end once each."""

    def __init__(
        self, what: str, *, start: float = BACKOFF_START_S, cap: float = BACKOFF_MAX_S
    ) -> None:
        self._what = what
        self._start = start
        self._cap = cap
        self._delay = start
        self._down_since: float | None = None

    @property
    def down(self) -> bool:
        return self._down_since is not None

    async def failed(self, exc: BaseException) -> None:
        if self._down_since is None:
            self._down_since = time.monotonic()
            log.warning(
                f"{self._what}.unavailable",
                error=str(exc) or type(exc).__name__,
                action="retrying with backoff",
            )
        await asyncio.sleep(self._delay)
        self._delay = min(self._cap, self._delay * 2)

    def succeeded(self) -> None:
        if self._down_since is not None:
            log.info(
                f"{self._what}.recovered",
                down_seconds=round(time.monotonic() - self._down_since, 1),
            )
        self._down_since = None
        self._delay = self._start


class ResilientWorker(Worker):
    """A :class:`arq.worker.Worker` that keeps running through Redis outages."""

    def __init__(self, *args: Any, lease_seconds: float | None = None, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._redis_backoff = Backoff("worker.redis")
        if lease_seconds is not None:
            # arq marks a job in progress for the longest job timeout + 10 s, so a job whose
            # worker was killed waits that long to run again. The lease is short instead, and a
            # running job renews it (see workers.jobs): a dead worker's job runs again soon,
            # a long analysis is never cut off.
            self.in_progress_timeout_s = lease_seconds

    async def _redis(self, step: Any, *args: Any) -> Any:
        """Run a Redis step until it succeeds, waiting out an outage."""
        while True:
            try:
                result = await step(*args)
            except REDIS_DOWN as exc:
                await self._redis_backoff.failed(exc)
                continue
            self._redis_backoff.succeeded()
            return result

    async def main(self) -> None:
        if self._pool is None:
            self._pool = await self._redis(
                lambda: create_pool(
                    self.redis_settings,
                    job_deserializer=self.job_deserializer,
                    job_serializer=self.job_serializer,
                    default_queue_name=self.queue_name,
                    expires_extra_ms=self.expires_extra_ms,
                    retry=0,
                )
            )
        log.info("worker.started", functions=sorted(self.functions), queue=self.queue_name)
        await self._redis(log_redis_info, self.pool, lambda *a: None)
        self.ctx["redis"] = self.pool
        if self.on_startup:
            await self.on_startup(self.ctx)

        async for _ in poll(self.poll_delay_s):
            try:
                await self._poll_iteration()
                if self.burst and await self._burst_done():
                    return
            except REDIS_DOWN as exc:
                await self._redis_backoff.failed(exc)
                continue
            self._redis_backoff.succeeded()

    async def _burst_done(self) -> bool:
        if (
            0 <= self.max_burst_jobs <= self._jobs_started()
            or await self.pool.zcard(self.queue_name) == 0
        ):
            await asyncio.gather(*self.tasks.values())
            return True
        return False

    async def finish_job(self, *args: Any, **kwargs: Any) -> None:
        await self._redis(lambda: Worker.finish_job(self, *args, **kwargs))

    async def finish_failed_job(self, *args: Any, **kwargs: Any) -> None:
        await self._redis(lambda: Worker.finish_failed_job(self, *args, **kwargs))

    async def close(self) -> None:
        if not self._handle_signals:
            self.handle_sig(signal.SIGINT)  # arq logs it as the reason
        if not self._pool:
            return
        await asyncio.gather(*self.tasks.values(), return_exceptions=True)
        with contextlib.suppress(*REDIS_DOWN):
            await self.pool.delete(self.health_check_key)
        if self.on_shutdown:
            await self.on_shutdown(self.ctx)
        with contextlib.suppress(*REDIS_DOWN):
            await self.pool.close(close_connection_pool=True)
        self._pool = None

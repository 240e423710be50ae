"""Subscriptions over graphql-transport-ws, fed by Redis pub/sub through the process's broker."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator
from functools import lru_cache

import strawberry

from app.analysis.events import AnalysisProgress, progress_channel, user_channel
from app.errors import DomainError
from schema.broadcast import deliver
from schema.types import AnalysisProgressEvent, Ctx


@lru_cache(maxsize=256)
def _decoded(raw: bytes) -> tuple[AnalysisProgress, AnalysisProgressEvent]:
    """One decoded event per published message: every subscriber gets the same instance, so
    its execution and encoding are shared (``schema.broadcast``)."""
    event = AnalysisProgress.from_json(raw)
    return event, AnalysisProgressEvent.of(event)


@strawberry.type
class Subscription:
    @strawberry.subscription(
        description="First the current state, then every event; completes after the final one."
    )
    async def analysis_progress(
        self, info: Ctx, recording_id: strawberry.ID
    ) -> AsyncGenerator[AnalysisProgressEvent, None]:
        ctx = info.context
        try:
            recording = await ctx.services.recordings.get(ctx.caller, str(recording_id))
        except DomainError as exc:
            raise PermissionError(exc.message) from None
        # Subscribe before reading the current state, so nothing published in between is lost.
        async with ctx.broker.subscribe(progress_channel(str(recording.id))) as queue:
            current = await ctx.services.analysis.progress_for(recording)
            yield AnalysisProgressEvent.of(current)
            if current.final and current.job_id:
                return
            job_id, last, previous = current.job_id, current.progress, current
            while True:
                event, shared = _decoded(await queue.get())
                if event == previous:
                    continue  # the state re-read after a reconnection, already delivered
                if event.job_id != job_id:  # a new analysis started: follow it from its start
                    job_id, last = event.job_id, 0.0
                if not event.final and event.progress < last:
                    continue  # an older event overtaken by a newer one: never go backwards
                last, previous = event.progress, event
                if not await deliver(shared):
                    yield shared
                if event.final:
                    # Let every other subscriber woken by this event send it before this one
                    # tears down (unsubscribing, completing): teardown costs as much as a send.
                    await asyncio.sleep(0)
                    return

    @strawberry.subscription(description="Status changes of the signed-in user's recordings.")
    async def recording_updates(self, info: Ctx) -> AsyncGenerator[AnalysisProgressEvent, None]:
        ctx = info.context
        if ctx.caller.subject is None:
            raise PermissionError("sign in to follow your recordings")
        async with ctx.broker.subscribe(user_channel(ctx.caller.subject)) as queue:
            while True:
                shared = _decoded(await queue.get())[1]
                if not await deliver(shared):
                    yield shared

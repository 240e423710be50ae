"""Analysis progress events: published on Redis pub/sub, latest state kept in Redis.

Channels (dotted names shared by channels, jobs and logs):
- ``analysis.progress:<recording id>``: every event of one recording's analysis;
- ``recording.updates:<user subject>``: status changes of one user's recordings.
The latest event per recording is also stored under ``analysis.state:<recording id>`` so a late
subscriber or a polling client sees where things stand.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from dataclasses import asdict, dataclass
from typing import Any

import redis
import redis.asyncio as aioredis
import structlog

from app.pipeline.progress import OverallProgress, RemainingTime

log = structlog.get_logger(__name__)

STATE_TTL_SECONDS = 7 * 24 * 3600


def progress_channel(recording_id: str) -> str:
    return f"analysis.progress:{recording_id}"


def user_channel(subject: str) -> str:
    return f"recording.updates:{subject}"


def state_key(recording_id: str) -> str:
    return f"analysis.state:{recording_id}"


@dataclass(frozen=True, kw_only=True, slots=True)
class AnalysisProgress:
    """One event: where an analysis stands. ``status`` is the recording's status."""

    recording_id: str
    job_id: str
    status: str  # analyzing | analyzed | failed
    stage: str | None
    progress: float  # 0..1 over the whole analysis
    message: str | None = None
    eta_seconds: float | None = None  # about how long the rest takes; None while unknown

    @property
    def final(self) -> bool:
        return self.status in ("analyzed", "failed")

    # The events of the lifecycle, each built here only.
    @classmethod
    def queued(cls, recording_id: str, job_id: str) -> AnalysisProgress:
        return cls(
            recording_id=recording_id,
            job_id=job_id,
            status="analyzing",
            stage="queued",
            progress=0.0,
            message="waiting for a worker",
        )

    @classmethod
    def started(cls, recording_id: str, job_id: str) -> AnalysisProgress:
        return cls(
            recording_id=recording_id,
            job_id=job_id,
            status="analyzing",
            stage="probe",
            progress=0.0,
            message="started",
        )

    @classmethod
    def running(
        cls,
        recording_id: str,
        job_id: str,
        *,
        stage: str,
        progress: float,
        message: str | None,
        eta_seconds: float | None = None,
    ) -> AnalysisProgress:
        return cls(
            recording_id=recording_id,
            job_id=job_id,
            status="analyzing",
            stage=stage,
            progress=round(progress, 4),
            message=message,
            eta_seconds=None if eta_seconds is None else round(eta_seconds, 1),
        )

    @classmethod
    def analyzed(cls, recording_id: str, job_id: str) -> AnalysisProgress:
        return cls(
            recording_id=recording_id,
            job_id=job_id,
            status="analyzed",
            stage="summarize",
            progress=1.0,
            message="analysis complete",
        )

    @classmethod
    def failed(cls, recording_id: str, job_id: str, reason: str) -> AnalysisProgress:
        return cls(
            recording_id=recording_id,
            job_id=job_id,
            status="failed",
            stage=None,
            progress=1.0,
            message=reason,
        )

    def to_json(self) -> str:
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, raw: str | bytes) -> AnalysisProgress:
        data: dict[str, Any] = json.loads(raw)
        return cls(**data)


async def publish(
    client: aioredis.Redis, event: AnalysisProgress, *, owner: str | None = None
) -> None:
    payload = event.to_json()
    async with client.pipeline(transaction=False) as pipe:
        pipe.set(state_key(event.recording_id), payload, ex=STATE_TTL_SECONDS)
        pipe.publish(progress_channel(event.recording_id), payload)
        if owner is not None:
            pipe.publish(user_channel(owner), payload)
        await pipe.execute()


FINAL_PUBLISH_DELAYS_S = (0.5, 1.0, 2.0, 4.0, 8.0, 10.0)


async def publish_quietly(
    client: aioredis.Redis, event: AnalysisProgress, *, owner: str | None = None
) -> bool:
    """:func:`publish`, never raising: a final event is retried for half a minute while Redis
    is down, a progress event is not (the next one supersedes it). False when it never went
    out; subscribers then learn the state when their fan-out re-reads it after reconnecting.
    """
    delays = FINAL_PUBLISH_DELAYS_S if event.final else ()
    for delay in (*delays, None):
        try:
            await publish(client, event, owner=owner)
            return True
        except (redis.RedisError, OSError) as exc:
            if delay is None:
                log.warning(
                    "analysis.event_not_published",
                    recording_id=event.recording_id,
                    job_id=event.job_id,
                    status=event.status,
                    error=str(exc),
                )
                return False
            await asyncio.sleep(delay)
    return False


@dataclass(frozen=True, kw_only=True, slots=True)
class ProgressTarget:
    """Where one analysis's progress goes: enough to publish it from the engine's process."""

    redis_url: str
    recording_id: str
    job_id: str
    owner: str | None


class ProgressPublisher:
    """The engine's progress callback in its process: per-stage fractions become overall
    progress events, a few per second (but always a stage's first and last word), best effort."""

    def __init__(self, target: ProgressTarget, *, interval_s: float = 0.25) -> None:
        self._target = target
        self._client = redis.Redis.from_url(target.redis_url)
        self._overall = OverallProgress()
        self._remaining = RemainingTime()
        self._interval = interval_s
        self._last_sent = 0.0
        self._stages_seen: set[str] = set()

    def __call__(self, stage: str, fraction: float, message: str) -> None:
        value = self._overall.update(stage, fraction)
        eta = self._remaining.update(value)
        now = time.monotonic()
        milestone = stage not in self._stages_seen or fraction >= 1.0
        self._stages_seen.add(stage)
        if not milestone and now - self._last_sent < self._interval:
            return
        self._last_sent = now
        event = AnalysisProgress.running(
            self._target.recording_id,
            self._target.job_id,
            stage=stage,
            progress=value,
            message=message,
            eta_seconds=eta,
        )
        # Progress is best effort; the result is what matters.
        with contextlib.suppress(redis.RedisError):
            publish_sync(self._client, event, owner=self._target.owner)

    def close(self) -> None:
        self._client.close()


def publish_sync(client: redis.Redis, event: AnalysisProgress, *, owner: str | None = None) -> None:
    """The same as :func:`publish`, for the engine's process (no event loop there)."""
    payload = event.to_json()
    pipe = client.pipeline(transaction=False)
    pipe.set(state_key(event.recording_id), payload, ex=STATE_TTL_SECONDS)
    pipe.publish(progress_channel(event.recording_id), payload)
    if owner is not None:
        pipe.publish(user_channel(owner), payload)
    pipe.execute()


async def latest(client: aioredis.Redis, recording_id: str) -> AnalysisProgress | None:
    raw = await client.get(state_key(recording_id))
    return AnalysisProgress.from_json(raw) if raw else None

"""The analysis queue: arq jobs in Redis, one per analysis, whose job id is the analysis id.

Enqueueing the same analysis twice runs it once. An analysis the database says is active but
that arq no longer holds (Redis lost its data, arq gave up on it, or it ended without saving)
is *stuck*: :meth:`AnalysisQueue.requeue` makes it run again.
"""

from __future__ import annotations

from arq.connections import ArqRedis
from arq.constants import in_progress_key_prefix, job_key_prefix, result_key_prefix

ANALYZE_JOB = "analyze_recording"
"""The arq function name of an analysis run (``workers.jobs.analyze_recording``)."""


def lease_key(analysis_id: str) -> str:
    """The key that says a worker holds the analysis's job (arq's "in progress" key)."""
    return in_progress_key_prefix + analysis_id


class AnalysisQueue:
    """What the API and the workers do with the queue."""

    def __init__(self, redis: ArqRedis, *, queue_name: str) -> None:
        self._redis = redis
        self._queue_name = queue_name

    async def enqueue(self, analysis_id: str) -> None:
        await self._redis.enqueue_job(
            ANALYZE_JOB, analysis_id, _job_id=analysis_id, _queue_name=self._queue_name
        )

    async def is_held(self, analysis_id: str) -> bool:
        """Whether arq still has the job: queued, waiting to be retried, or running somewhere."""
        return bool(await self._redis.exists(job_key_prefix + analysis_id, lease_key(analysis_id)))

    async def requeue(self, analysis_id: str) -> bool:
        """Enqueue a stuck analysis again; False if arq holds it after all (nothing to do).

        arq refuses a job id whose result it still keeps, so an old result goes first.
        """
        if await self.is_held(analysis_id):
            return False
        await self._redis.delete(result_key_prefix + analysis_id)
        job = await self._redis.enqueue_job(
            ANALYZE_JOB, analysis_id, _job_id=analysis_id, _queue_name=self._queue_name
        )
        return job is not None

    async def close(self) -> None:
        await self._redis.aclose(close_connection_pool=True)

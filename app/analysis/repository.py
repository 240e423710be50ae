"""Every query of the analysis domain."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from tortoise.transactions import in_transaction

from app.analysis.models import (
    ACTIVE_STATUSES,
    Analysis,
    AnalysisFrame,
    AnalysisSection,
    AnalysisStatus,
    Finding,
    TranscriptSegment,
)
from app.pipeline.documents import (
    AnalysisDocument,
    ResultCitation,
    ResultEvidence,
    ResultFinding,
    ResultFrame,
    ResultProbe,
    ResultSection,
    ResultSummary,
    ResultTranscriptSegment,
)
from app.recordings.models import Recording, RecordingStatus


def new_job_id() -> str:
    return f"job-{uuid.uuid4().hex}"


async def get(analysis_id: str) -> Analysis | None:
    return await Analysis.get_or_none(id=analysis_id)


async def active_for(recording_id: uuid.UUID) -> Analysis | None:
    return (
        await Analysis.filter(recording_id=recording_id, status__in=ACTIVE_STATUSES)
        .order_by("-created_at")
        .first()
    )


async def latest_for(recording_id: uuid.UUID) -> Analysis | None:
    return await Analysis.filter(recording_id=recording_id).order_by("-created_at").first()


@dataclass(frozen=True, kw_only=True, slots=True)
class Started:
    """What :func:`start` did: the analysis, whether it is new, and the status it replaced."""

    analysis: Analysis
    created: bool
    previous_status: str
    previous_reason: str | None


async def start(recording_id: uuid.UUID) -> Started:
    """The running analysis of a recording, or a new queued one.

    Serialised on the recording's row, so two requests at once get the same analysis.
    """
    async with in_transaction():
        recording = await Recording.filter(id=recording_id).select_for_update().first()
        if recording is None:
            raise LookupError(recording_id)
        active = await active_for(recording_id)
        if active is not None:
            return Started(
                analysis=active,
                created=False,
                previous_status=recording.status,
                previous_reason=recording.status_reason,
            )
        analysis = await Analysis.create(id=new_job_id(), recording_id=recording_id)
        started = Started(
            analysis=analysis,
            created=True,
            previous_status=recording.status,
            previous_reason=recording.status_reason,
        )
        recording.status = RecordingStatus.ANALYZING.value
        recording.status_reason = None
        await recording.save(update_fields=["status", "status_reason", "updated_at"])
        return started


async def undo_start(started: Started) -> None:
    """Take back a new analysis that could not be queued: the recording is as it was."""
    async with in_transaction():
        recording = (
            await Recording.filter(id=started.analysis.recording_id).select_for_update().first()
        )
        deleted = await Analysis.filter(
            id=started.analysis.id, status=AnalysisStatus.QUEUED.value
        ).delete()
        if (
            recording is not None
            and deleted
            and recording.status == RecordingStatus.ANALYZING.value
        ):
            recording.status = started.previous_status
            recording.status_reason = started.previous_reason
            await recording.save(update_fields=["status", "status_reason", "updated_at"])


async def mark_running(analysis_id: str) -> Analysis | None:
    """Claim a queued (or interrupted) analysis for this attempt; None when there is nothing
    to run."""
    async with in_transaction():
        analysis = await Analysis.filter(id=analysis_id).select_for_update().first()
        if analysis is None or analysis.status not in ACTIVE_STATUSES:
            return None
        analysis.status = AnalysisStatus.RUNNING.value
        analysis.attempts += 1
        analysis.started_at = datetime.now(UTC)
        await analysis.save(update_fields=["status", "attempts", "started_at"])
        return analysis


async def mark_failed(analysis_id: str, reason: str) -> bool:
    """End an analysis as failed; the recording keeps any earlier result. False if already ended."""
    async with in_transaction():
        analysis = await Analysis.filter(id=analysis_id).select_for_update().first()
        if analysis is None or analysis.status not in ACTIVE_STATUSES:
            return False
        analysis.status = AnalysisStatus.FAILED.value
        analysis.error = reason
        analysis.finished_at = datetime.now(UTC)
        await analysis.save(update_fields=["status", "error", "finished_at"])
        await Recording.filter(id=analysis.recording_id).update(
            status=RecordingStatus.FAILED.value, status_reason=reason
        )
        return True


@dataclass(frozen=True, kw_only=True, slots=True)
class Saved:
    saved: bool
    replaced_thumbnails: list[str]


async def save_result(
    analysis_id: str,
    result: AnalysisDocument,
    thumbnail_keys: Sequence[str | None],
    *,
    engine_versions: dict[str, str],
) -> Saved:
    """Store a finished analysis and make it the recording's current one, in one transaction.

    Returns ``saved=False`` (and writes nothing) when the recording is gone or this analysis
    already ended — a job run twice leaves exactly one result.
    """
    async with in_transaction():
        analysis = await Analysis.filter(id=analysis_id).select_for_update().first()
        if analysis is None or analysis.status not in ACTIVE_STATUSES:
            return Saved(saved=False, replaced_thumbnails=[])
        recording = await Recording.filter(id=analysis.recording_id).select_for_update().first()
        if recording is None:
            return Saved(saved=False, replaced_thumbnails=[])
        previous_id = recording.current_analysis_id
        await AnalysisSection.bulk_create(
            [
                AnalysisSection(
                    analysis_id=analysis_id,
                    position=i,
                    title=s.title,
                    timestamp=s.timestamp,
                    end_timestamp=s.end_timestamp,
                    description=s.description,
                    citations=[c.json_dict() for c in s.citations],
                )
                for i, s in enumerate(result.sections)
            ]
        )
        await AnalysisFrame.bulk_create(
            [
                AnalysisFrame(
                    analysis_id=analysis_id,
                    position=i,
                    timestamp=f.timestamp,
                    description=f.description,
                    text=f.text,
                    thumbnail_key=thumbnail_keys[i] if i < len(thumbnail_keys) else None,
                )
                for i, f in enumerate(result.frames)
            ]
        )
        await TranscriptSegment.bulk_create(
            [
                TranscriptSegment(
                    analysis_id=analysis_id, position=i, start=t.start, end=t.end, text=t.text
                )
                for i, t in enumerate(result.transcript)
            ]
        )
        await Finding.bulk_create(
            [
                Finding(analysis_id=analysis_id, position=i, data=f.json_dict())
                for i, f in enumerate(result.findings)
            ]
        )
        analysis.status = AnalysisStatus.ANALYZED.value
        analysis.stage = "summarize"
        analysis.progress = 1.0
        analysis.message = "analysis complete"
        analysis.finished_at = datetime.now(UTC)
        analysis.summary = result.summary.summary
        analysis.key_findings = list(result.summary.key_findings)
        analysis.evidence = [e.json_dict() for e in result.evidence]
        analysis.timings = dict(result.timings)
        analysis.probe = result.recording.json_dict()
        analysis.engine_versions = engine_versions
        await analysis.save()
        recording.current_analysis_id = analysis_id
        recording.status = RecordingStatus.ANALYZED.value
        recording.status_reason = None
        await recording.save(
            update_fields=["current_analysis_id", "status", "status_reason", "updated_at"]
        )
        replaced: list[str] = []
        if previous_id and previous_id != analysis_id:
            # Tortoise types values_list as tuples whether or not ``flat`` is set.
            keys: list[str | None] = await AnalysisFrame.filter(  # type: ignore[assignment]
                analysis_id=previous_id
            ).values_list("thumbnail_key", flat=True)
            replaced = [key for key in keys if key]
            await Analysis.filter(id=previous_id).delete()
        return Saved(saved=True, replaced_thumbnails=replaced)


# What was saved, read back as the typed result (keyed by analysis id, in the saved order).


@dataclass(frozen=True, kw_only=True, slots=True)
class StoredFrame:
    """A described keyframe and where its thumbnail is stored (None: no thumbnail)."""

    frame: ResultFrame
    thumbnail_key: str | None


def _grouped(rows: Sequence[Any], convert: Any) -> dict[str, list[Any]]:
    grouped: dict[str, list[Any]] = defaultdict(list)
    for row in rows:
        grouped[row.analysis_id].append(convert(row))
    return grouped


async def sections_of(analysis_ids: Sequence[str]) -> dict[str, list[ResultSection]]:
    rows = await AnalysisSection.filter(analysis_id__in=list(analysis_ids)).order_by(
        "analysis_id", "position"
    )
    return _grouped(
        rows,
        lambda r: ResultSection(
            title=r.title,
            timestamp=r.timestamp,
            end_timestamp=r.end_timestamp,
            description=r.description,
            citations=[ResultCitation.model_validate(c) for c in r.citations],
        ),
    )


async def frames_of(analysis_ids: Sequence[str]) -> dict[str, list[StoredFrame]]:
    rows = await AnalysisFrame.filter(analysis_id__in=list(analysis_ids)).order_by(
        "analysis_id", "position"
    )
    return _grouped(
        rows,
        lambda r: StoredFrame(
            frame=ResultFrame(timestamp=r.timestamp, description=r.description, text=r.text),
            thumbnail_key=r.thumbnail_key,
        ),
    )


async def transcript_of(analysis_ids: Sequence[str]) -> dict[str, list[ResultTranscriptSegment]]:
    rows = await TranscriptSegment.filter(analysis_id__in=list(analysis_ids)).order_by(
        "analysis_id", "position"
    )
    return _grouped(rows, lambda r: ResultTranscriptSegment(start=r.start, end=r.end, text=r.text))


async def findings_of(analysis_ids: Sequence[str]) -> dict[str, list[ResultFinding]]:
    rows = await Finding.filter(analysis_id__in=list(analysis_ids)).order_by(
        "analysis_id", "position"
    )
    return _grouped(rows, lambda r: ResultFinding.model_validate(r.data))


def summary_of(analysis: Analysis) -> ResultSummary | None:
    """The saved summary of a finished analysis (None before it has finished)."""
    if analysis.summary is None:
        return None
    return ResultSummary(summary=analysis.summary, key_findings=list(analysis.key_findings or []))


def probe_of(analysis: Analysis) -> ResultProbe | None:
    return ResultProbe.model_validate(analysis.probe) if analysis.probe else None


def evidence_of(analysis: Analysis) -> list[ResultEvidence]:
    return [ResultEvidence.model_validate(e) for e in analysis.evidence or []]


async def evidence_by_analysis(
    analysis_ids: Sequence[str],
) -> dict[str, dict[str, ResultEvidence]]:
    """Each analysis's evidence by its id (one query)."""
    rows = await Analysis.filter(id__in=list(analysis_ids)).values_list("id", "evidence")
    return {
        str(analysis_id): {
            item.id: item for item in (ResultEvidence.model_validate(e) for e in evidence or [])
        }
        for analysis_id, evidence in rows
    }


async def analyses_by_id(analysis_ids: Sequence[str]) -> list[Analysis]:
    return await Analysis.filter(id__in=list(analysis_ids))


async def latest_for_recordings(recording_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, Analysis]:
    """The newest analysis of each recording (one query)."""
    rows = await Analysis.filter(recording_id__in=list(recording_ids)).order_by(
        "recording_id", "-created_at"
    )
    latest: dict[uuid.UUID, Analysis] = {}
    for row in rows:
        latest.setdefault(row.recording_id, row)
    return latest


async def active_started_before(moment: datetime, *, limit: int = 500) -> list[Analysis]:
    """Queued or running analyses that began (or were queued) before ``moment``."""
    return await Analysis.filter(status__in=ACTIVE_STATUSES, created_at__lt=moment).limit(limit)

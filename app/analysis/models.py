"""Tables of the analysis domain: one row per analysis run, and what a finished run produced."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model

from app.recordings.models import Recording


class AnalysisStatus(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    ANALYZED = "analyzed"
    FAILED = "failed"


ACTIVE_STATUSES = (AnalysisStatus.QUEUED.value, AnalysisStatus.RUNNING.value)


class Analysis(Model):
    """One run of the engine over a recording (``job-…``): its progress and, once done, results."""

    id = fields.CharField(primary_key=True, max_length=40)
    recording: fields.ForeignKeyRelation[Recording] = fields.ForeignKeyField(
        "models.Recording", related_name="analyses", on_delete=fields.CASCADE
    )
    status = fields.CharField(max_length=16, default=AnalysisStatus.QUEUED.value)
    stage = fields.CharField(max_length=32, null=True)
    progress = fields.FloatField(default=0.0)
    message: str | None = fields.TextField(null=True)
    error: str | None = fields.TextField(null=True)
    attempts = fields.IntField(default=0)
    engine_versions: dict[str, str] | None = fields.JSONField(null=True)  # package -> version
    timings: dict[str, float] | None = fields.JSONField(null=True)  # stage -> seconds
    probe: dict[str, Any] | None = fields.JSONField(null=True)  # a ResultProbe's JSON
    summary: str | None = fields.TextField(null=True)
    key_findings: list[str] | None = fields.JSONField(null=True)
    evidence: list[dict[str, Any]] | None = fields.JSONField(null=True)  # ResultEvidence JSON
    created_at = fields.DatetimeField(auto_now_add=True)
    started_at = fields.DatetimeField(null=True)
    finished_at = fields.DatetimeField(null=True)

    recording_id: uuid.UUID

    class Meta:
        table = "analyses"
        # The table's comment as migration 0002 recorded it (Tortoise would otherwise take the
        # docstring's first line, and a reworded docstring would then need a migration).
        table_description = (
            "One run of the engine over a recording (``job-…``), with its progress and, "
            "once done, results."
        )
        indexes = (Index(fields=("recording_id", "created_at"), name="analyses_recording_idx"),)


class AnalysisSection(Model):
    id = fields.BigIntField(primary_key=True)
    analysis: fields.ForeignKeyRelation[Analysis] = fields.ForeignKeyField(
        "models.Analysis", related_name="sections", on_delete=fields.CASCADE
    )
    position = fields.IntField()
    title = fields.TextField()
    timestamp = fields.FloatField()
    end_timestamp = fields.FloatField()
    description = fields.TextField()
    citations: list[dict[str, Any]] = fields.JSONField()  # ResultCitation JSON

    analysis_id: str

    class Meta:
        table = "analysis_sections"
        indexes = (Index(fields=("analysis_id", "position"), name="analysis_sections_idx"),)


class AnalysisFrame(Model):
    id = fields.BigIntField(primary_key=True)
    analysis: fields.ForeignKeyRelation[Analysis] = fields.ForeignKeyField(
        "models.Analysis", related_name="frames", on_delete=fields.CASCADE
    )
    position = fields.IntField()
    timestamp = fields.FloatField()
    description = fields.TextField()
    text = fields.TextField()
    thumbnail_key = fields.CharField(max_length=512, null=True)

    analysis_id: str

    class Meta:
        table = "analysis_frames"
        indexes = (Index(fields=("analysis_id", "position"), name="analysis_frames_idx"),)


class TranscriptSegment(Model):
    id = fields.BigIntField(primary_key=True)
    analysis: fields.ForeignKeyRelation[Analysis] = fields.ForeignKeyField(
        "models.Analysis", related_name="transcript", on_delete=fields.CASCADE
    )
    position = fields.IntField()
    start = fields.FloatField()
    end = fields.FloatField()
    text = fields.TextField()

    analysis_id: str

    class Meta:
        table = "analysis_transcript"
        indexes = (Index(fields=("analysis_id", "position"), name="analysis_transcript_idx"),)


class Finding(Model):
    id = fields.BigIntField(primary_key=True)
    analysis: fields.ForeignKeyRelation[Analysis] = fields.ForeignKeyField(
        "models.Analysis", related_name="findings", on_delete=fields.CASCADE
    )
    position = fields.IntField()
    data: dict[str, Any] = fields.JSONField()  # the engine's structured finding, as it produced it

    analysis_id: str

    class Meta:
        table = "analysis_findings"
        indexes = (Index(fields=("analysis_id", "position"), name="analysis_findings_idx"),)

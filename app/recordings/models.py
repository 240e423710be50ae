"""Tables of the recordings domain: users, recordings and their stored video objects."""

from __future__ import annotations

import uuid
from enum import StrEnum
from typing import Any

from tortoise import fields
from tortoise.indexes import Index
from tortoise.models import Model


class RecordingStatus(StrEnum):
    PENDING = "pending"
    ANALYZING = "analyzing"
    ANALYZED = "analyzed"
    FAILED = "failed"


class UploadStatus(StrEnum):
    PENDING = "pending"
    UPLOADED = "uploaded"
    FAILED = "failed"


class ArtifactState(StrEnum):
    PRESIGNED = "presigned"  # a direct upload was offered; the object may or may not exist yet
    STORED = "stored"  # bytes are in storage and verified


class User(Model):
    """Someone who signed in; identified by the token's subject."""

    id = fields.BigIntField(primary_key=True)
    subject = fields.CharField(max_length=255, unique=True)
    created_at = fields.DatetimeField(auto_now_add=True)

    class Meta:
        table = "users"


class Recording(Model):
    """One browser session recording: what the recorder captured plus the state of its video."""

    id = fields.UUIDField(primary_key=True, default=uuid.uuid4)
    owner: fields.ForeignKeyNullableRelation[User] = fields.ForeignKeyField(
        "models.User", related_name="recordings", null=True, on_delete=fields.CASCADE
    )
    status = fields.CharField(max_length=16, default=RecordingStatus.PENDING.value)
    status_reason: str | None = fields.TextField(null=True)
    video_upload_status = fields.CharField(max_length=16, default=UploadStatus.PENDING.value)
    video_upload_error: str | None = fields.TextField(null=True)
    metadata: dict[str, Any] = fields.JSONField()
    video_content_type = fields.CharField(max_length=64)
    session_id = fields.CharField(max_length=255, null=True)
    duration = fields.FloatField(null=True)
    created_at = fields.DatetimeField(auto_now_add=True)
    updated_at = fields.DatetimeField(auto_now=True)
    claimed_at = fields.DatetimeField(null=True)
    # The analysis whose results are served; swapped atomically when a new one commits.
    current_analysis_id = fields.CharField(max_length=40, null=True)

    owner_id: int | None

    @property
    def owner_subject(self) -> str | None:
        """The owner's token subject; None while unclaimed (the owner must have been fetched)."""
        return self.owner.subject if self.owner is not None else None

    class Meta:
        table = "recordings"
        # The list query: one owner's recordings, newest first, keyset-paginated on
        # (created_at, id). Unclaimed ones are swept by age.
        indexes = (
            Index(fields=("owner_id", "created_at", "id"), name="recordings_owner_created_idx"),
            Index(fields=("created_at",), name="recordings_created_idx"),
        )


class RawJSON(str):
    """JSON text already valid and compact: stored as it is, not decoded and encoded again."""


class CaptureJSONField(fields.JSONField[Any]):
    """A JSON column that takes :class:`RawJSON` as it is.

    A capture of tens of megabytes would otherwise be decoded (Tortoise checks a string it is
    given) and encoded again on the event loop; the text comes checked from the parser.
    """

    def to_db_value(self, value: Any, instance: type[Model] | Model) -> str | None:
        if isinstance(value, RawJSON):
            return str(value)
        return super().to_db_value(value, instance)

    def to_python_value(self, value: Any) -> Any:
        if isinstance(value, RawJSON):
            return value  # a model built to be saved holds the text; read back, it is decoded
        return super().to_python_value(value)


class RecordingCapture(Model):
    """What the recorder captured beside the video: actions, console and network logs, DOM
    element snapshots.

    Apart from the recording's row, which every list, check and update reads: a capture may be
    tens of megabytes, and only the worker, the detail route and a few GraphQL fields need it.
    """

    id = fields.BigIntField(primary_key=True)
    recording: fields.OneToOneRelation[Recording] = fields.OneToOneField(
        "models.Recording", related_name="capture", on_delete=fields.CASCADE
    )
    actions = CaptureJSONField()
    browser_state = CaptureJSONField()
    elements = CaptureJSONField(null=True)

    recording_id: uuid.UUID

    class Meta:
        table = "recording_captures"


class VideoArtifact(Model):
    """A video object in storage that belongs to a recording."""

    id = fields.CharField(primary_key=True, max_length=40)  # "obj-<hex>"
    recording: fields.ForeignKeyRelation[Recording] = fields.ForeignKeyField(
        "models.Recording", related_name="artifacts", on_delete=fields.CASCADE
    )
    object_key = fields.CharField(max_length=512, unique=True)
    content_type = fields.CharField(max_length=64)
    size = fields.BigIntField(null=True)
    state = fields.CharField(max_length=16)
    expires_at = fields.DatetimeField(null=True)  # end of the presigned upload window
    created_at = fields.DatetimeField(auto_now_add=True)

    recording_id: uuid.UUID

    class Meta:
        table = "video_artifacts"
        indexes = (Index(fields=("recording_id", "created_at"), name="artifacts_recording_idx"),)


class ResumableUpload(Model):
    """A video arriving in pieces (tus): how far it has come and where its bytes wait.

    ``offset`` advances only once the bytes up to it are stored; ``parts`` are the storage's
    finished pieces (S3 multipart parts), ``backend_id`` its handle (the multipart upload id).
    ``busy_until`` is a lease: one PATCH at a time appends.
    """

    id = fields.CharField(max_length=64, primary_key=True)
    recording: fields.ForeignKeyRelation[Recording] = fields.ForeignKeyField(
        "models.Recording", related_name="resumable_uploads", on_delete=fields.CASCADE
    )
    length = fields.BigIntField()
    offset = fields.BigIntField(default=0)
    content_type = fields.CharField(max_length=255)
    artifact_id = fields.CharField(max_length=64)
    object_key = fields.CharField(max_length=512)
    backend_id = fields.CharField(max_length=1024, null=True)
    parts: list[dict[str, Any]] = fields.JSONField(default=list)
    busy_until = fields.DatetimeField(null=True)
    expires_at = fields.DatetimeField()
    created_at = fields.DatetimeField(auto_now_add=True)

    recording_id: uuid.UUID

    class Meta:
        table = "resumable_uploads"
        indexes = (Index(fields=("expires_at",), name="resumable_uploads_expires_idx"),)

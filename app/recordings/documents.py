"""The REST documents of the recordings routes (names and fields as the contract has them)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar, Literal

from pydantic import Field

from app.documents import Document
from app.recordings.models import Recording
from app.recordings.service import Created, StoredVideo

Status = Literal["pending", "analyzing", "analyzed", "failed"]
UploadStatus = Literal["pending", "uploaded", "failed"]


def iso(value: datetime | None) -> str | None:
    if value is None:
        return None
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


class RecordingSummary(Document):
    """One recording in a list."""

    id: str = Field(json_schema_extra={"format": "uuid"})
    status: Status
    created_at: str = Field(json_schema_extra={"format": "date-time"})
    duration: float | None
    video_upload_status: UploadStatus  # additive

    @classmethod
    def of(cls, recording: Recording) -> RecordingSummary:
        return cls(
            id=str(recording.id),
            status=recording.status,
            created_at=iso(recording.created_at) or "",
            duration=recording.duration,
            video_upload_status=recording.video_upload_status,
        )


class RecordingPage(Document):
    """``GET /``: the caller's recordings, newest first; ``nextCursor`` (additive) fetches more."""

    recordings: list[RecordingSummary]
    next_cursor: str | None


class RecordingDetail(Document):
    """``GET /:id``: one recording; everything after ``metadata`` is additive."""

    id: str = Field(json_schema_extra={"format": "uuid"})
    status: Status
    session_id: str | None
    created_at: str = Field(json_schema_extra={"format": "date-time"})
    duration: float | None
    metadata: dict[str, Any]
    status_reason: str | None
    video_upload_status: UploadStatus
    video_upload_error: str | None
    video_content_type: str
    user_id: str | None
    claimed_at: str | None = Field(json_schema_extra={"format": "date-time"})
    # The recorder's capture, passed on as stored (see app.recordings.routes.get_recording).
    actions: list[dict[str, Any]] = Field(default_factory=list)
    browser_state: dict[str, Any] = Field(default_factory=dict)
    elements: list[dict[str, Any]] | None = None

    CAPTURE: ClassVar[frozenset[str]] = frozenset({"actions", "browser_state", "elements"})

    @classmethod
    def of(cls, recording: Recording) -> RecordingDetail:
        """The document without its capture, which the route adds as the stored text."""
        return cls(
            id=str(recording.id),
            status=recording.status,
            session_id=recording.session_id,
            created_at=iso(recording.created_at) or "",
            duration=recording.duration,
            metadata=recording.metadata,
            status_reason=recording.status_reason,
            video_upload_status=recording.video_upload_status,
            video_upload_error=recording.video_upload_error,
            video_content_type=recording.video_content_type,
            user_id=recording.owner_subject,
            claimed_at=iso(recording.claimed_at),
        )


class RecordingCreated(Document):
    """``POST /``: the new recording; the presigned fields appear only where storage presigns."""

    success: bool = True
    recording_id: str = Field(json_schema_extra={"format": "uuid"})
    video_upload_status: UploadStatus
    status: Status
    upload_token: str
    upload_url: str | None = None
    presigned_video_object_id: str | None = None
    presigned_video_object_key: str | None = None
    presigned_video_content_type: str | None = None
    presigned_ttl_seconds: int | None = None

    @classmethod
    def of(cls, created: Created) -> RecordingCreated:
        recording, presigned = created.recording, created.presigned
        return cls(
            recording_id=str(recording.id),
            video_upload_status=recording.video_upload_status,
            status=recording.status,
            upload_token=created.upload_token,
            upload_url=presigned.url if presigned else None,
            presigned_video_object_id=created.artifact_id if presigned else None,
            presigned_video_object_key=created.object_key if presigned else None,
            presigned_video_content_type=presigned.content_type if presigned else None,
            presigned_ttl_seconds=presigned.ttl_seconds if presigned else None,
        )


class VideoStored(Document):
    """``PUT /:id/video``: the video is stored."""

    success: bool = True
    recording_id: str
    video_artifact_id: str
    video_url: str

    @classmethod
    def of(cls, stored: StoredVideo) -> VideoStored:
        return cls(
            recording_id=str(stored.recording.id),
            video_artifact_id=stored.artifact_id,
            video_url=stored.video_url,
        )


class VideoUrl(Document):
    """``GET /:id/video``: a short-lived URL the video downloads from (Range requests work)."""

    video_url: str


class Claimed(Document):
    """``POST /:id/claim``: the recording is the caller's."""

    success: bool = True
    id: str
    user_id: str

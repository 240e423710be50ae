"""Every query of the recordings domain."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Any

from tortoise import connections
from tortoise.exceptions import IntegrityError
from tortoise.expressions import Q
from tortoise.transactions import in_transaction

from app.recordings.models import (
    ArtifactState,
    RawJSON,
    Recording,
    RecordingCapture,
    UploadStatus,
    User,
    VideoArtifact,
)


async def get_or_create_user(subject: str) -> User:
    """The user of a token subject, created on first sight (safe under concurrent first sights)."""
    user = await User.get_or_none(subject=subject)
    if user is not None:
        return user
    try:
        async with in_transaction():
            return await User.create(subject=subject)
    except IntegrityError:
        return await User.get(subject=subject)


async def get_recording(recording_id: uuid.UUID) -> Recording | None:
    return await Recording.filter(id=recording_id).prefetch_related("owner").first()


async def create_recording(
    fields: dict[str, Any], *, actions: RawJSON, browser_state: RawJSON, elements: RawJSON | None
) -> Recording:
    """A recording with its capture (given as JSON text, stored as it is)."""
    async with in_transaction():
        recording = await Recording.create(**fields)
        await RecordingCapture.create(
            recording_id=recording.id,
            actions=actions,
            browser_state=browser_state,
            elements=elements,
        )
    return recording


async def capture_of(recording_id: uuid.UUID) -> RecordingCapture | None:
    """The recording's capture, decoded (for the worker and GraphQL's capture fields)."""
    return await RecordingCapture.get_or_none(recording_id=recording_id)


async def captures_of(recording_ids: list[uuid.UUID]) -> dict[uuid.UUID, RecordingCapture]:
    rows = await RecordingCapture.filter(recording_id__in=recording_ids)
    return {row.recording_id: row for row in rows}


async def capture_text(recording_id: uuid.UUID) -> tuple[str, str, str | None] | None:
    """The recording's capture as the JSON text PostgreSQL holds, undecoded: (actions,
    browser state, elements). For answers that pass it on as it is."""
    rows = await connections.get("default").execute_query_dict(
        "SELECT actions::text AS actions, browser_state::text AS browser_state, "
        "elements::text AS elements FROM recording_captures WHERE recording_id = $1",
        [recording_id],
    )
    if not rows:
        return None
    row = rows[0]
    return row["actions"], row["browser_state"], row["elements"]


async def add_artifact(
    *,
    artifact_id: str,
    recording_id: uuid.UUID,
    object_key: str,
    content_type: str,
    state: ArtifactState,
    size: int | None = None,
    expires_at: datetime | None = None,
) -> VideoArtifact:
    return await VideoArtifact.create(
        id=artifact_id,
        recording_id=recording_id,
        object_key=object_key,
        content_type=content_type,
        state=state.value,
        size=size,
        expires_at=expires_at,
    )


async def artifacts_of(recording_id: uuid.UUID) -> list[VideoArtifact]:
    return await VideoArtifact.filter(recording_id=recording_id).order_by("-created_at")


async def stored_artifact(recording_id: uuid.UUID) -> VideoArtifact | None:
    return (
        await VideoArtifact.filter(recording_id=recording_id, state=ArtifactState.STORED.value)
        .order_by("-created_at")
        .first()
    )


async def pending_presigned_artifact(recording_id: uuid.UUID) -> VideoArtifact | None:
    return (
        await VideoArtifact.filter(recording_id=recording_id, state=ArtifactState.PRESIGNED.value)
        .order_by("-created_at")
        .first()
    )


async def commit_upload(
    recording_id: uuid.UUID,
    *,
    artifact_id: str,
    object_key: str,
    size: int,
    content_type: str,
) -> list[VideoArtifact]:
    """Make the stored object the recording's video; returns the artifacts it replaces.

    Conditional on the video not being uploaded already, under a row lock, so of two racing
    uploads exactly one wins; the other gets :class:`UploadRaceLost`.
    """
    async with in_transaction():
        recording = await Recording.filter(id=recording_id).select_for_update().first()
        if recording is None or recording.video_upload_status == UploadStatus.UPLOADED.value:
            raise UploadRaceLost
        replaced = await VideoArtifact.filter(recording_id=recording_id).exclude(id=artifact_id)
        await VideoArtifact.filter(recording_id=recording_id).exclude(id=artifact_id).delete()
        await VideoArtifact.update_or_create(
            id=artifact_id,
            defaults={
                "recording_id": recording_id,
                "object_key": object_key,
                "content_type": content_type,
                "size": size,
                "state": ArtifactState.STORED.value,
                "expires_at": None,
            },
        )
        recording.video_upload_status = UploadStatus.UPLOADED.value
        recording.video_upload_error = None
        await recording.save(
            update_fields=["video_upload_status", "video_upload_error", "updated_at"]
        )
        return replaced


class UploadRaceLost(Exception):
    """Another upload completed first, or the recording is gone."""


async def mark_upload_failed(
    recording_id: uuid.UUID, reason: str, *, artifact_id: str | None = None
) -> None:
    """Record why the upload failed (a retry is allowed); drops the artifact that failed."""
    async with in_transaction():
        if artifact_id is not None:
            await VideoArtifact.filter(id=artifact_id).delete()
        await Recording.filter(
            id=recording_id,
            video_upload_status__in=[UploadStatus.PENDING.value, UploadStatus.FAILED.value],
        ).update(video_upload_status=UploadStatus.FAILED.value, video_upload_error=reason)


async def list_for_owner(
    owner_id: int,
    *,
    limit: int,
    after: tuple[datetime, uuid.UUID] | None,
    status: str | None = None,
) -> list[Recording]:
    """One owner's recordings, newest first, keyset-paginated after ``(created_at, id)``."""
    query = Recording.filter(owner_id=owner_id)
    if status is not None:
        query = query.filter(status=status)
    if after is not None:
        created_at, last_id = after
        query = query.filter(
            Q(created_at__lt=created_at) | Q(created_at=created_at, id__lt=last_id)
        )
    return await query.order_by("-created_at", "-id").limit(limit).prefetch_related("owner")


async def count_for_owner(owner_id: int, *, status: str | None = None) -> int:
    """How many recordings one owner has (of one status)."""
    query = Recording.filter(owner_id=owner_id)
    if status is not None:
        query = query.filter(status=status)
    return await query.count()


async def updated_since(subject: str, moment: datetime, *, limit: int) -> list[Recording]:
    """A user's recordings changed at or after ``moment``, most recent first."""
    return (
        await Recording.filter(owner__subject=subject, updated_at__gte=moment)
        .order_by("-updated_at")
        .limit(limit)
        .prefetch_related("owner")
    )


async def claim(recording_id: uuid.UUID, owner_id: int, claimed_at: datetime) -> bool:
    """Set the owner if there is none; True when this call set it (False if it was already set)."""
    updated = await Recording.filter(id=recording_id, owner_id__isnull=True).update(
        owner_id=owner_id, claimed_at=claimed_at
    )
    return updated == 1


async def delete_recording(recording_id: uuid.UUID) -> int:
    async with in_transaction():
        await VideoArtifact.filter(recording_id=recording_id).delete()
        return await Recording.filter(id=recording_id).delete()


async def unclaimed_before(moment: datetime, *, limit: int = 500) -> list[uuid.UUID]:
    unclaimed = Recording.filter(owner_id__isnull=True, created_at__lt=moment).limit(limit)
    # Tortoise types values_list as tuples whether or not ``flat`` is set.
    return await unclaimed.values_list("id", flat=True)  # type: ignore[return-value]

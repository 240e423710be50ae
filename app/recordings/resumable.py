"""Resumable video uploads (the tus 1.0 protocol's model), transport-neutral.

An upload is created with its length, appended to at its current offset by any number of
requests — each may be cut off, and what arrived is kept — and, once its last byte is stored,
becomes the recording's video exactly as a single PUT would (the same checks, the same commit).
Its state lives in PostgreSQL (``resumable_uploads``), its bytes in storage
(``app.storage.resumable``), so any API process may serve any request of it. One append runs at
a time (a lease on the row); unfinished uploads expire and are aborted by the worker's sweep.
"""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import structlog
from tortoise.expressions import Q

from app.auth import Caller
from app.config import Settings
from app.dependencies import outages
from app.errors import Conflict, InvalidInput, NotFound, PayloadTooLarge, Unavailable
from app.recordings.models import Recording, ResumableUpload, UploadStatus
from app.recordings.schemas import normalise_content_type
from app.recordings.service import (
    STORAGE_UNAVAILABLE,
    RecordingService,
    StoredVideo,
    new_object_id,
)
from app.storage.base import Storage, StorageError
from app.storage.keys import video_key
from app.storage.resumable import Cut, Progress, resumable

log = structlog.get_logger(__name__)

# How long one append may hold an upload before another request may take it over (a request
# that died without a word); renewed at the end of each append.
LEASE = timedelta(minutes=10)


@dataclass(frozen=True, kw_only=True, slots=True)
class UploadState:
    """Where a resumable upload stands; ``video`` once it is complete."""

    id: str
    recording_id: str
    length: int
    offset: int
    expires_at: datetime
    video: StoredVideo | None = None

    @property
    def complete(self) -> bool:
        return self.offset >= self.length


def _state(row: ResumableUpload, video: StoredVideo | None = None) -> UploadState:
    return UploadState(
        id=row.id,
        recording_id=str(row.recording_id),
        length=row.length,
        offset=row.offset,
        expires_at=row.expires_at,
        video=video,
    )


class ResumableUploads:
    def __init__(
        self, *, settings: Settings, storage: Storage, recordings: RecordingService
    ) -> None:
        self._settings = settings
        self._storage = storage
        self._recordings = recordings

    @property
    def ttl(self) -> timedelta:
        return timedelta(seconds=self._settings.resumable_upload_ttl_seconds)

    async def _row(self, caller: Caller, recording_id: str, upload_id: str) -> ResumableUpload:
        recording = await self._recordings.for_upload(caller, recording_id)
        row = await ResumableUpload.get_or_none(id=upload_id, recording_id=recording.id)
        if row is None or row.expires_at <= datetime.now(UTC):
            raise NotFound("upload not found (it may have expired)", code="upload_not_found")
        return row

    async def create(
        self, caller: Caller, recording_id: str, *, length: int, content_type: str | None
    ) -> UploadState:
        recording = await self._recordings.for_upload(caller, recording_id)
        stored_type = normalise_content_type(content_type or recording.video_content_type)
        self._recordings.check_video(
            stored_type, length, size_field="Upload-Length", empty_field="Upload-Length"
        )
        if stored_type == "application/octet-stream":
            stored_type = recording.video_content_type
        if recording.video_upload_status == UploadStatus.UPLOADED.value:
            raise Conflict(
                "a video is already uploaded for this recording", code="already_uploaded"
            )
        artifact_id = new_object_id()
        key = video_key(recording.id, artifact_id, stored_type)
        try:
            backend_id = await resumable(self._storage).begin(key, stored_type)
        except StorageError as exc:
            outages.failed(exc, recording_id=str(recording.id), operation="upload")
            raise Unavailable(STORAGE_UNAVAILABLE) from None
        row = await ResumableUpload.create(
            id=f"up-{secrets.token_hex(12)}",
            recording_id=recording.id,
            length=length,
            content_type=stored_type,
            artifact_id=artifact_id,
            object_key=key,
            backend_id=backend_id,
            expires_at=datetime.now(UTC) + self.ttl,
        )
        log.info("upload.created", recording_id=str(recording.id), upload=row.id, length=length)
        return _state(row)

    async def state(self, caller: Caller, recording_id: str, upload_id: str) -> UploadState:
        return _state(await self._row(caller, recording_id, upload_id))

    async def append(
        self,
        caller: Caller,
        recording_id: str,
        upload_id: str,
        *,
        offset: int,
        content_length: int | None,
        body: AsyncIterator[bytes],
    ) -> UploadState:
        """Store a request's bytes at ``offset``: what arrives is kept even if it is cut off."""
        row = await self._row(caller, recording_id, upload_id)
        if offset != row.offset:
            raise Conflict(
                f"the upload is at byte {row.offset}, not {offset}", code="offset_mismatch"
            )
        if content_length is not None and offset + content_length > row.length:
            raise PayloadTooLarge(
                f"{content_length} bytes at {offset} go past the upload's length {row.length}",
                field="Content-Length",
            )
        now = datetime.now(UTC)
        taken = await ResumableUpload.filter(
            Q(busy_until__isnull=True) | Q(busy_until__lt=now), id=row.id, offset=offset
        ).update(busy_until=now + LEASE)
        if not taken:
            raise Conflict("another request is appending to this upload", code="upload_busy")
        key = row.object_key
        try:
            progress = await resumable(self._storage).append(
                key,
                Progress(offset=row.offset, backend_id=row.backend_id, parts=list(row.parts)),
                _bounded(body, row.length - offset),
                last=row.length,
            )
        except BaseException as exc:
            await ResumableUpload.filter(id=row.id).update(busy_until=None)
            if isinstance(exc, StorageError):
                outages.failed(exc, recording_id=recording_id, operation="upload")
                raise Unavailable(STORAGE_UNAVAILABLE) from None
            raise
        await ResumableUpload.filter(id=row.id).update(
            offset=progress.offset, parts=progress.parts, busy_until=None
        )
        row.offset, row.parts = progress.offset, progress.parts
        if progress.offset < row.length:
            return _state(row)
        return _state(row, await self._complete(row, progress))

    async def _complete(self, row: ResumableUpload, progress: Progress) -> StoredVideo:
        try:
            await resumable(self._storage).finish(row.object_key, progress, row.content_type)
        except StorageError as exc:
            outages.failed(exc, recording_id=str(row.recording_id), operation="upload")
            raise Unavailable(STORAGE_UNAVAILABLE) from None
        recording = await Recording.get(id=row.recording_id).prefetch_related("owner")
        video = await self._recordings.commit_video(
            recording,
            artifact_id=row.artifact_id,
            key=row.object_key,
            size=row.length,
            content_type=row.content_type,
        )
        await ResumableUpload.filter(id=row.id).delete()
        return video

    async def terminate(self, caller: Caller, recording_id: str, upload_id: str) -> None:
        row = await self._row(caller, recording_id, upload_id)
        await self._abort(row)

    async def _abort(self, row: ResumableUpload) -> None:
        await resumable(self._storage).abort(
            row.object_key,
            Progress(offset=row.offset, backend_id=row.backend_id, parts=list(row.parts)),
        )
        await ResumableUpload.filter(id=row.id).delete()
        log.info("upload.aborted", recording_id=str(row.recording_id), upload=row.id)

    async def sweep_expired(self, now: datetime | None = None) -> int:
        """Abort the uploads whose time ran out; returns how many."""
        moment = now or datetime.now(UTC)
        swept = 0
        for row in await ResumableUpload.filter(expires_at__lte=moment):
            try:
                await self._abort(row)
                swept += 1
            except StorageError as exc:
                log.warning("upload.abort_failed", upload=row.id, error=str(exc))
        return swept


async def _bounded(body: AsyncIterator[bytes], room: int) -> AsyncIterator[bytes]:
    """The body, refused once it goes past the upload's length; its early end (the client went
    away) is a :class:`Cut`, so that what arrived is kept."""
    from starlette.requests import ClientDisconnect

    received = 0
    try:
        async for chunk in body:
            received += len(chunk)
            if received > room:
                raise InvalidInput(
                    f"the body goes past the upload's length ({room} bytes were left)",
                    field="body",
                )
            yield chunk
    except ClientDisconnect:
        raise Cut from None

"""The rules of the recordings domain, shared by every transport (REST, GraphQL, jobs).

Who may do what:
- the owner (signed in, ``owner.subject == caller.subject``) may do everything;
- an upload token of a recording may upload its video, and read it while it is unclaimed;
- anyone may create; only a signed-in user may list, claim or delete.
A recording the caller may not see is "not found", exactly like a missing one.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime

import structlog
from starlette.requests import ClientDisconnect
from tortoise.transactions import in_transaction

from app.auth import Authenticator, Caller
from app.config import Settings
from app.dependencies import outages
from app.errors import (
    Conflict,
    InvalidInput,
    LengthRequired,
    NotFound,
    PayloadTooLarge,
    Unauthenticated,
    Unavailable,
    UnsupportedMediaType,
)
from app.recordings import repository
from app.recordings.intake import PreparedCreate
from app.recordings.models import (
    ArtifactState,
    Recording,
    RecordingStatus,
    ResumableUpload,
    UploadStatus,
)
from app.recordings.schemas import normalise_content_type
from app.storage import PresignedUpload, Storage, StorageError
from app.storage.keys import recording_prefix, video_key
from app.storage.resumable import Progress, resumable

log = structlog.get_logger(__name__)

STORAGE_UNAVAILABLE = "storage is unavailable; retry shortly"
MAX_PAGE_SIZE = 100
DEFAULT_PAGE_SIZE = 20


def new_object_id() -> str:
    return f"obj-{uuid.uuid4().hex}"


def parse_recording_id(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except (ValueError, TypeError):
        raise NotFound("recording not found") from None


@dataclass(frozen=True, kw_only=True, slots=True)
class Page:
    """One page of a user's recordings, newest first."""

    recordings: list[Recording]
    next_cursor: str | None


@dataclass(frozen=True, kw_only=True, slots=True)
class Created:
    """A new recording, the token that lets its creator upload and read it, and — where storage
    can presign — where to PUT the video directly."""

    recording: Recording
    upload_token: str
    presigned: PresignedUpload | None
    artifact_id: str
    object_key: str


@dataclass(frozen=True, kw_only=True, slots=True)
class StoredVideo:
    """A video uploaded through the service."""

    recording: Recording
    artifact_id: str
    video_url: str


class RecordingService:
    """Create, upload, read, claim and delete recordings."""

    def __init__(self, *, settings: Settings, storage: Storage, auth: Authenticator) -> None:
        self._settings = settings
        self._storage = storage
        self._auth = auth

    # ---- access -------------------------------------------------------------------------

    @staticmethod
    def _is_owner(caller: Caller, recording: Recording) -> bool:
        owner = recording.owner
        return caller.subject is not None and owner is not None and owner.subject == caller.subject

    async def _load(self, caller: Caller, recording_id: str, *, mode: str) -> Recording:
        """Load a recording the caller may access in ``mode`` ("read", "upload", "own")."""
        if mode == "own" and not caller.signed_in:
            raise Unauthenticated("sign in to do this")
        if not caller.signed_in and caller.upload_recording_id is None:
            raise Unauthenticated("sign in, or present the recording's upload token")
        rid = parse_recording_id(recording_id)
        recording = await repository.get_recording(rid)
        if recording is None:
            raise NotFound("recording not found")
        if self._is_owner(caller, recording):
            return recording
        token_matches = caller.upload_recording_id == rid
        if mode == "upload" and token_matches:
            return recording
        if mode == "read" and token_matches and recording.owner is None:
            return recording
        raise NotFound("recording not found")

    # ---- create -------------------------------------------------------------------------

    async def create(self, caller: Caller, prepared: PreparedCreate) -> Created:
        owner = await repository.get_or_create_user(caller.subject) if caller.subject else None
        recording_id = uuid.uuid4()
        content_type = prepared.video_content_type
        presigned = None
        artifact_id = new_object_id()
        key = video_key(recording_id, artifact_id, content_type)
        if self._storage.can_presign:
            try:
                presigned = await self._storage.presign_upload(key, content_type)
            except StorageError as exc:
                # The server route still works; the client falls back to it.
                log.warning("recording.presign_failed", error=str(exc))
        now = datetime.now(UTC)
        async with in_transaction():
            recording = await repository.create_recording(
                {
                    "id": recording_id,
                    "owner": owner,
                    "metadata": prepared.metadata,
                    "video_content_type": content_type,
                    "session_id": prepared.session_id,
                    "duration": prepared.duration,
                    "claimed_at": now if owner else None,
                },
                actions=prepared.actions,
                browser_state=prepared.browser_state,
                elements=prepared.elements,
            )
            if presigned is not None:
                await repository.add_artifact(
                    artifact_id=artifact_id,
                    recording_id=recording_id,
                    object_key=key,
                    content_type=content_type,
                    state=ArtifactState.PRESIGNED,
                    expires_at=presigned.expires_at,
                )
        log.info("recording.created", recording_id=str(recording.id), anonymous=owner is None)
        return Created(
            recording=recording,
            upload_token=self._auth.issue_upload_token(recording.id),
            presigned=presigned,
            artifact_id=artifact_id,
            object_key=key,
        )

    # ---- upload -------------------------------------------------------------------------

    async def upload_video(
        self,
        caller: Caller,
        recording_id: str,
        *,
        content_type: str | None,
        content_length: str | None,
        body: AsyncIterator[bytes],
    ) -> StoredVideo:
        """Stream a request body into storage (server-mediated upload)."""
        recording = await self._load(caller, recording_id, mode="upload")
        if content_length is None:
            raise LengthRequired("Content-Length is required", field="Content-Length")
        try:
            size = int(content_length)
            if size < 0:
                raise ValueError
        except ValueError:
            raise InvalidInput(
                "Content-Length must be a whole number", field="Content-Length"
            ) from None
        base_type = normalise_content_type(content_type or "")
        self.check_video(content_type, size, size_field="Content-Length", empty_field="body")
        if recording.video_upload_status == UploadStatus.UPLOADED.value:
            raise Conflict(
                "a video is already uploaded for this recording", code="already_uploaded"
            )

        stored_type = (
            recording.video_content_type if base_type == "application/octet-stream" else base_type
        )
        artifact_id = new_object_id()
        key = video_key(recording.id, artifact_id, stored_type)
        try:
            written = await self._storage.put_stream(key, stored_type, _exactly(body, size), size)
        except InvalidInput as exc:
            await repository.mark_upload_failed(recording.id, exc.message)
            raise
        except StorageError as exc:
            # The detail names the endpoint, bucket, key and upload: for the logs only.
            outages.failed(exc, recording_id=str(recording.id), operation="upload")
            await repository.mark_upload_failed(recording.id, "storage failed during the upload")
            raise Unavailable(STORAGE_UNAVAILABLE) from None
        return await self.commit_video(
            recording, artifact_id=artifact_id, key=key, size=written, content_type=stored_type
        )

    async def for_upload(self, caller: Caller, recording_id: str) -> Recording:
        """The recording the caller may upload a video to (its owner, or its upload token)."""
        return await self._load(caller, recording_id, mode="upload")

    async def commit_video(
        self, recording: Recording, *, artifact_id: str, key: str, size: int, content_type: str
    ) -> StoredVideo:
        """Make a stored object the recording's video (one upload wins a race; the loser's
        object is deleted); the video it replaced is deleted."""
        try:
            replaced = await repository.commit_upload(
                recording.id,
                artifact_id=artifact_id,
                object_key=key,
                size=size,
                content_type=content_type,
            )
        except repository.UploadRaceLost:
            await self._storage.delete(key)
            raise Conflict(
                "a video is already uploaded for this recording", code="already_uploaded"
            ) from None
        except BaseException:
            await self._storage.delete(key)
            raise
        for old in replaced:
            await self._delete_object_quietly(old.object_key)
        log.info("recording.video_uploaded", recording_id=str(recording.id), bytes=size)
        recording.video_upload_status = UploadStatus.UPLOADED.value
        recording.video_upload_error = None
        return StoredVideo(
            recording=recording,
            artifact_id=artifact_id,
            video_url=await self._storage.download_url(key),
        )

    def check_video(
        self, content_type: str | None, size: int, *, size_field: str, empty_field: str
    ) -> None:
        """Refuse a video that is not one, too large, or empty (the same rules for every way in)."""
        base_type = normalise_content_type(content_type or "")
        if not (base_type.startswith("video/") or base_type == "application/octet-stream"):
            raise UnsupportedMediaType(
                "Content-Type must be video/* or application/octet-stream", field="Content-Type"
            )
        if size > self._settings.max_upload_bytes:
            raise PayloadTooLarge(
                f"the video is {size} bytes; the limit is {self._settings.max_upload_bytes}",
                field=size_field,
            )
        if size == 0:
            raise InvalidInput("the video is empty", field=empty_field)

    async def verify_direct_upload(self, recording: Recording) -> Recording:
        """Learn whether a presigned upload happened, without trusting the client; the recording
        as it stands after that.

        The object must exist, be non-empty and carry the signed Content-Type; then the
        recording is ``uploaded``. A wrong object makes it ``failed`` with the reason (and is
        removed, so that a retry starts clean). No object yet changes nothing. It asks storage
        and may write the recording: callers that show or act on the upload's state call it,
        a plain :meth:`get` does not.
        """
        await self._verify_direct_upload(recording)
        return recording

    async def _verify_direct_upload(self, recording: Recording) -> None:
        if (
            not self._storage.can_presign
            or recording.video_upload_status != UploadStatus.PENDING.value
        ):
            return
        artifact = await repository.pending_presigned_artifact(recording.id)
        if artifact is None:
            return
        try:
            info = await self._storage.head(artifact.object_key)
        except StorageError as exc:
            log.warning(
                "recording.verify_unavailable", recording_id=str(recording.id), error=str(exc)
            )
            return
        if info is None:
            return
        reason = None
        if info.size <= 0:
            reason = "the uploaded video is empty"
        elif info.size > self._settings.max_upload_bytes:
            reason = (
                f"the uploaded video is {info.size} bytes; "
                f"the limit is {self._settings.max_upload_bytes}"
            )
        elif normalise_content_type(info.content_type or "") != artifact.content_type:
            reason = (
                f"the video was uploaded as {info.content_type or 'no Content-Type'}, "
                f"but {artifact.content_type} was signed"
            )
        if reason is not None:
            await self._delete_object_quietly(artifact.object_key)
            await repository.mark_upload_failed(recording.id, reason, artifact_id=artifact.id)
            recording.video_upload_status = UploadStatus.FAILED.value
            recording.video_upload_error = reason
            log.info(
                "recording.direct_upload_rejected", recording_id=str(recording.id), reason=reason
            )
            return
        with contextlib.suppress(repository.UploadRaceLost):
            await repository.commit_upload(
                recording.id,
                artifact_id=artifact.id,
                object_key=artifact.object_key,
                size=info.size,
                content_type=artifact.content_type,
            )
        refreshed = await repository.get_recording(recording.id)
        if refreshed is not None:
            recording.video_upload_status = refreshed.video_upload_status
            recording.video_upload_error = refreshed.video_upload_error

    # ---- read ---------------------------------------------------------------------------

    async def get(self, caller: Caller, recording_id: str) -> Recording:
        """A recording the caller may read (404 otherwise); reads only."""
        return await self._load(caller, recording_id, mode="read")

    async def video_url(self, caller: Caller, recording_id: str) -> str:
        recording = await self.verify_direct_upload(await self.get(caller, recording_id))
        artifact = await repository.stored_artifact(recording.id)
        if artifact is None:
            raise Conflict(
                "the recording has no uploaded video", code="video_not_uploaded", field="video"
            )
        return await self._storage.download_url(
            artifact.object_key, filename=artifact.object_key.rsplit("/", 1)[-1]
        )

    async def capture_text(self, recording: Recording) -> tuple[str, str, str | None]:
        """The recording's capture as stored JSON text: actions, browser state, elements."""
        found = await repository.capture_text(recording.id)
        return found if found is not None else ("[]", "{}", None)

    async def stored_video_url(self, recording: Recording) -> str | None:
        """A download URL for the recording's video, or None before one is uploaded."""
        artifact = await repository.stored_artifact(recording.id)
        return await self._storage.download_url(artifact.object_key) if artifact else None

    async def list(
        self,
        caller: Caller,
        *,
        limit: str | int | None,
        cursor: str | None,
        status: str | None = None,
    ) -> Page:
        if not caller.signed_in or caller.subject is None:
            raise Unauthenticated("sign in to list recordings")
        page_size = _page_size(limit)
        after = _decode_cursor(cursor) if cursor else None
        if status is not None and status not in {s.value for s in RecordingStatus}:
            raise InvalidInput(f"unknown status {status!r}", field="status")
        user = await repository.get_or_create_user(caller.subject)
        rows = await repository.list_for_owner(
            user.id, limit=page_size + 1, after=after, status=status
        )
        next_cursor = encode_cursor(rows[page_size - 1]) if len(rows) > page_size else None
        return Page(recordings=rows[:page_size], next_cursor=next_cursor)

    async def count(self, caller: Caller, *, status: str | None = None) -> int:
        """How many recordings the signed-in caller has (of one status): a listing's total."""
        if not caller.signed_in or caller.subject is None:
            raise Unauthenticated("sign in to list recordings")
        if status is not None and status not in {s.value for s in RecordingStatus}:
            raise InvalidInput(f"unknown status {status!r}", field="status")
        user = await repository.get_or_create_user(caller.subject)
        return await repository.count_for_owner(user.id, status=status)

    # ---- claim and delete ---------------------------------------------------------------

    async def claim(self, caller: Caller, recording_id: str) -> Recording:
        """Make the signed-in caller the owner of an unclaimed recording; the claimed recording."""
        if caller.subject is None:
            raise Unauthenticated("sign in to claim a recording")
        rid = parse_recording_id(recording_id)
        recording = await repository.get_recording(rid)
        if recording is None:
            raise NotFound("recording not found")
        user = await repository.get_or_create_user(caller.subject)
        if recording.owner_id is None and await repository.claim(rid, user.id, datetime.now(UTC)):
            log.info("recording.claimed", recording_id=str(rid))
        else:
            recording = await repository.get_recording(rid)
            if recording is None:
                raise NotFound("recording not found")
            if recording.owner_id != user.id:
                # Another user's recording is not found, here as everywhere: the answer must not
                # tell that it exists.
                raise NotFound("recording not found")
        claimed = await repository.get_recording(rid)
        if claimed is None:
            raise NotFound("recording not found")
        return claimed

    async def delete(self, caller: Caller, recording_id: str) -> None:
        recording = await self._load(caller, recording_id, mode="own")
        await self.purge(recording.id)

    async def purge(self, recording_id: uuid.UUID) -> None:
        """Delete a recording with its video and every derived artifact (no access check)."""
        # Objects first: if deleting them fails, the rows stay and the delete can be retried.
        try:
            for upload in await ResumableUpload.filter(recording_id=recording_id):
                await resumable(self._storage).abort(
                    upload.object_key,
                    Progress(offset=upload.offset, backend_id=upload.backend_id, parts=[]),
                )
            for artifact in await repository.artifacts_of(recording_id):
                await self._storage.delete(artifact.object_key)
            await self._storage.delete_prefix(recording_prefix(recording_id))
        except StorageError as exc:
            outages.failed(exc, recording_id=str(recording_id), operation="delete")
            raise Unavailable(STORAGE_UNAVAILABLE) from None
        await repository.delete_recording(recording_id)
        log.info("recording.deleted", recording_id=str(recording_id))

    async def sweep_unclaimed(self, older_than: datetime) -> int:
        """Delete unclaimed recordings created before ``older_than``; returns how many."""
        swept = 0
        for recording_id in await repository.unclaimed_before(older_than):
            await self.purge(recording_id)
            swept += 1
        return swept

    async def _delete_object_quietly(self, key: str) -> None:
        try:
            await self._storage.delete(key)
        except StorageError as exc:
            log.warning("storage.delete_failed", key=key, error=str(exc))


async def _exactly(body: AsyncIterator[bytes], size: int) -> AsyncIterator[bytes]:
    """Pass the body on, failing as soon as it is longer or, at its end, shorter than announced."""
    received = 0
    try:
        async for chunk in body:
            received += len(chunk)
            if received > size:
                raise InvalidInput(
                    f"the body is longer than its Content-Length ({size} bytes)",
                    field="Content-Length",
                )
            if chunk:
                yield chunk
    except ClientDisconnect:
        raise InvalidInput(
            f"the client disconnected after {received} of {size} bytes", field="body"
        ) from None
    if received < size:
        raise InvalidInput(
            f"the body ended after {received} of {size} bytes announced by Content-Length",
            field="body",
        )


def _page_size(limit: str | int | None) -> int:
    if limit is None or limit == "":
        return DEFAULT_PAGE_SIZE
    try:
        value = int(limit)
    except (TypeError, ValueError):
        raise InvalidInput("limit must be a whole number", field="limit") from None
    if not 1 <= value <= MAX_PAGE_SIZE:
        raise InvalidInput(f"limit must be between 1 and {MAX_PAGE_SIZE}", field="limit")
    return value


def encode_cursor(recording: Recording) -> str:
    raw = json.dumps([recording.created_at.isoformat(), str(recording.id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created_at, rid = json.loads(raw)
        parsed = datetime.fromisoformat(created_at)
        if parsed.tzinfo is None:
            raise ValueError
        return parsed, uuid.UUID(rid)
    except (ValueError, TypeError, binascii.Error, UnicodeDecodeError):
        raise InvalidInput("cursor is not one this service issued", field="cursor") from None

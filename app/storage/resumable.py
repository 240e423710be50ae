"""Objects written in pieces across requests (tus uploads), for each storage backend.

A resumable write is begun once, appended to by any number of requests — each of which may be
cut off at any byte — and finished or aborted. What a request stored is kept even when it is cut
off, so the next one resumes there. Every piece is streamed: memory stays within one part.

- Local storage appends to a staging file beside the data, then moves it into place.
- S3 uses one multipart upload. Parts must be at least 5 MiB (but the last), while a request
  may bring any number of bytes: what does not fill a part waits in a small object of its own
  (``<key>.tail``), prepended to the next request's bytes.

The caller keeps the state between requests (the multipart upload id and the finished parts)
and lets one append run at a time per upload.
"""

from __future__ import annotations

import contextlib
import json
import os
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any, Protocol

import anyio
import anyio.to_thread

from app.storage.base import Storage, StorageError
from app.storage.local import LocalStorage, _sidecar
from app.storage.s3 import S3Storage


@dataclass(kw_only=True)
class Progress:
    """Where a resumable write stands: bytes stored, and the backend's own bookkeeping."""

    offset: int
    backend_id: str | None
    parts: list[dict[str, Any]] = field(default_factory=list)


class Cut(Exception):
    """The request's body ended early (the client went away); what arrived is stored."""


class ResumableStorage(Protocol):
    async def begin(self, key: str, content_type: str) -> str | None:
        """Start a write of ``key``; the backend's handle, if it has one."""
        ...

    async def append(
        self, key: str, state: Progress, chunks: AsyncIterator[bytes], *, last: int
    ) -> Progress:
        """Store what ``chunks`` yields after ``state.offset``, up to byte ``last`` (the
        object's length). Returns the new state, also when ``chunks`` raised :class:`Cut`."""
        ...

    async def finish(self, key: str, state: Progress, content_type: str) -> None:
        """Make the complete object visible under ``key``."""
        ...

    async def abort(self, key: str, state: Progress) -> None:
        """Drop everything stored for an unfinished write (idempotent)."""
        ...


def resumable(storage: Storage) -> ResumableStorage:
    if isinstance(storage, LocalStorage):
        return LocalResumable(storage)
    if isinstance(storage, S3Storage):
        return S3Resumable(storage)
    raise StorageError(f"no resumable writes for {type(storage).__name__}")


class LocalResumable:
    def __init__(self, storage: LocalStorage) -> None:
        self._storage = storage

    def _staging(self, key: str) -> Any:
        # Beside the object it becomes (under the recording's prefix, so deleting the
        # recording deletes it too): one per upload, since each upload has its own key.
        return self._storage.path_for(f"{key}.part")

    async def begin(self, key: str, content_type: str) -> str | None:
        path = self._staging(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
        return None

    async def append(
        self, key: str, state: Progress, chunks: AsyncIterator[bytes], *, last: int
    ) -> Progress:
        path = self._staging(key)
        if not path.exists():
            raise StorageError(f"no staging file for {key!r}")
        written = 0
        async with await anyio.open_file(path, "r+b") as out:
            # Bytes past the recorded offset are from a request whose end was never recorded.
            await out.truncate(state.offset)
            await out.seek(state.offset)
            try:
                async for chunk in chunks:
                    await out.write(chunk)
                    written += len(chunk)
            except Cut:
                pass
            finally:
                await out.flush()
                await anyio.to_thread.run_sync(os.fsync, out.wrapped.fileno())
        return Progress(offset=state.offset + written, backend_id=None)

    async def finish(self, key: str, state: Progress, content_type: str) -> None:
        path = self._storage.path_for(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        _sidecar(path).write_text(json.dumps({"contentType": content_type}))
        os.replace(self._staging(key), path)

    async def abort(self, key: str, state: Progress) -> None:
        self._staging(key).unlink(missing_ok=True)


class S3Resumable:
    def __init__(self, storage: S3Storage) -> None:
        self._storage = storage

    async def _call(self, method: str, **kwargs: Any) -> Any:
        return await self._storage._call(method, Bucket=self._storage._bucket, **kwargs)

    async def begin(self, key: str, content_type: str) -> str | None:
        created = await self._call("create_multipart_upload", Key=key, ContentType=content_type)
        return str(created["UploadId"])

    async def _tail(self, key: str) -> bytes:
        try:
            found = await self._call("get_object", Key=f"{key}.tail")
        except StorageError as exc:
            if "NoSuchKey" in str(exc) or "Not Found" in str(exc) or "404" in str(exc):
                return b""
            raise
        body = found["Body"]
        data: bytes = await anyio.to_thread.run_sync(body.read)
        return data

    async def append(
        self, key: str, state: Progress, chunks: AsyncIterator[bytes], *, last: int
    ) -> Progress:
        part_size = self._storage._part_size
        parts = list(state.parts)
        stored = sum(int(p["Size"]) for p in parts)
        buffer = bytearray(await self._tail(key)) if state.offset > stored else bytearray()
        if stored + len(buffer) != state.offset:
            raise StorageError(f"the stored pieces of {key!r} do not add up to its offset")
        received = 0

        async def send(data: bytes) -> None:
            number = len(parts) + 1
            result = await self._call(
                "upload_part", Key=key, UploadId=state.backend_id, PartNumber=number, Body=data
            )
            parts.append({"PartNumber": number, "ETag": result["ETag"], "Size": len(data)})

        try:
            async for chunk in chunks:
                buffer += chunk
                received += len(chunk)
                while len(buffer) >= part_size:
                    await send(bytes(buffer[:part_size]))
                    del buffer[:part_size]
        except Cut:
            pass
        offset = state.offset + received
        if offset >= last:
            if buffer or not parts:
                await send(bytes(buffer))
            with contextlib.suppress(StorageError):
                await self._call("delete_object", Key=f"{key}.tail")
        else:
            # Stored before the offset is recorded: a retry from the old offset overwrites it.
            await self._call("put_object", Key=f"{key}.tail", Body=bytes(buffer))
        return Progress(offset=offset, backend_id=state.backend_id, parts=parts)

    async def finish(self, key: str, state: Progress, content_type: str) -> None:
        await self._call(
            "complete_multipart_upload",
            Key=key,
            UploadId=state.backend_id,
            MultipartUpload={
                "Parts": [{"PartNumber": p["PartNumber"], "ETag": p["ETag"]} for p in state.parts]
            },
        )

    async def abort(self, key: str, state: Progress) -> None:
        with contextlib.suppress(StorageError):
            await self._call("delete_object", Key=f"{key}.tail")
        if state.backend_id:
            with contextlib.suppress(StorageError):
                await self._call("abort_multipart_upload", Key=key, UploadId=state.backend_id)

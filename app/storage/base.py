"""The storage interface every backend implements, and the values it passes around."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


@dataclass(frozen=True, kw_only=True, slots=True)
class PresignedUpload:
    url: str
    content_type: str
    expires_at: datetime
    ttl_seconds: int


@dataclass(frozen=True, kw_only=True, slots=True)
class ObjectInfo:
    size: int
    content_type: str | None


class StorageError(Exception):
    """Storage could not do what was asked (network, permissions, missing bucket)."""


class Storage(Protocol):
    """Where video bytes live. Keys are relative paths such as ``app/recordings/<id>/x.webm``."""

    @property
    def can_presign(self) -> bool:
        """Whether clients can upload directly (without the service in the path)."""
        ...

    async def presign_upload(self, key: str, content_type: str) -> PresignedUpload:
        """A URL a client can PUT the object to, with Content-Type exactly ``content_type``."""
        ...

    async def put_stream(
        self, key: str, content_type: str, chunks: AsyncIterator[bytes], size: int
    ) -> int:
        """Store what ``chunks`` yields under ``key``; returns the byte count.

        Never holds the whole body in memory. If ``chunks`` raises, or anything fails, nothing
        is left stored under ``key`` and the exception propagates.
        """
        ...

    async def put_bytes(self, key: str, content_type: str, data: bytes) -> None:
        """Store a small object (thumbnails)."""
        ...

    async def delete_prefix(self, prefix: str) -> None:
        """Remove every object whose key starts with ``prefix`` (a folder, ending in ``/``)."""
        ...

    async def head(self, key: str) -> ObjectInfo | None:
        """Size and type of a stored object, or None when there is none."""
        ...

    async def download_url(self, key: str, *, filename: str | None = None) -> str:
        """A short-lived URL from which the object can be downloaded."""
        ...

    async def download_to(self, key: str, path: str) -> None:
        """Copy the object into a local file (for workers)."""
        ...

    async def delete(self, key: str) -> None:
        """Remove the object; a missing object is not an error."""
        ...

    async def close(self) -> None: ...

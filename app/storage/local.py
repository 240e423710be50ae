"""Files in a data directory, downloaded through signed, expiring URLs the service serves itself."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import shutil
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from urllib.parse import quote, urlencode

import anyio
import anyio.to_thread

from app.storage.base import ObjectInfo, PresignedUpload, StorageError

DOWNLOAD_PATH = "/api/storage/"


class LocalStorage:
    """Objects as files below ``root``; one JSON sidecar per object keeps its Content-Type."""

    def __init__(
        self, root: Path, *, public_base_url: str, secret: bytes, ttl_seconds: int
    ) -> None:
        self._root = root.resolve()
        self._base = public_base_url.rstrip("/")
        self._secret = secret
        self._ttl = ttl_seconds
        self._root.mkdir(parents=True, exist_ok=True)

    @property
    def can_presign(self) -> bool:
        return False

    def path_for(self, key: str) -> Path:
        """The file of ``key``; refuses keys that would leave the data directory."""
        path = (self._root / key).resolve()
        if not path.is_relative_to(self._root) or path == self._root:
            raise StorageError(f"invalid object key {key!r}")
        return path

    async def presign_upload(self, key: str, content_type: str) -> PresignedUpload:
        raise StorageError("local storage cannot presign uploads")

    async def put_stream(
        self, key: str, content_type: str, chunks: AsyncIterator[bytes], size: int
    ) -> int:
        path = self.path_for(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        partial = path.with_name(f".{path.name}.{uuid.uuid4().hex}.part")
        total = 0
        try:
            async with await anyio.open_file(partial, "wb") as out:
                async for chunk in chunks:
                    await out.write(chunk)
                    total += len(chunk)
            _sidecar(path).write_text(json.dumps({"contentType": content_type}))
            os.replace(partial, path)  # atomic: readers see the whole file or none
            return total
        except BaseException:
            partial.unlink(missing_ok=True)
            raise

    async def put_bytes(self, key: str, content_type: str, data: bytes) -> None:
        async def one() -> AsyncIterator[bytes]:
            yield data

        await self.put_stream(key, content_type, one(), len(data))

    async def delete_prefix(self, prefix: str) -> None:
        folder = self.path_for(prefix.rstrip("/"))
        await anyio.to_thread.run_sync(lambda: shutil.rmtree(folder, ignore_errors=True))

    async def head(self, key: str) -> ObjectInfo | None:
        path = self.path_for(key)
        try:
            size = path.stat().st_size
        except FileNotFoundError:
            return None
        try:
            content_type = json.loads(_sidecar(path).read_text())["contentType"]
        except (OSError, ValueError, KeyError):
            content_type = None
        return ObjectInfo(size=size, content_type=content_type)

    def sign(self, key: str, expires: int) -> str:
        return hmac.new(self._secret, f"{key}\n{expires}".encode(), hashlib.sha256).hexdigest()

    def verify(self, key: str, expires: str, signature: str) -> bool:
        """Whether a download URL's signature is genuine and not expired."""
        try:
            deadline = int(expires)
        except ValueError:
            return False
        if deadline < time.time():
            return False
        return hmac.compare_digest(self.sign(key, deadline), signature)

    async def download_url(self, key: str, *, filename: str | None = None) -> str:
        expires = int(time.time()) + self._ttl
        query = urlencode({"expires": expires, "signature": self.sign(key, expires)})
        return f"{self._base}{DOWNLOAD_PATH}{quote(key)}?{query}"

    async def download_to(self, key: str, path: str) -> None:
        source = self.path_for(key)
        if not source.exists():
            raise StorageError(f"no object {key!r}")
        await anyio.to_thread.run_sync(shutil.copyfile, source, path)

    async def delete(self, key: str) -> None:
        path = self.path_for(key)
        path.unlink(missing_ok=True)
        _sidecar(path).unlink(missing_ok=True)
        # Folders that held only this object go too, up to (not including) the data directory.
        folder = path.parent
        while folder != self._root and folder.is_relative_to(self._root):
            try:
                folder.rmdir()  # only succeeds when empty
            except OSError:
                break
            folder = folder.parent

    async def close(self) -> None:
        return None


def _sidecar(path: Path) -> Path:
    return path.with_name(f".{path.name}.json")

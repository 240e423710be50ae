"""S3-compatible storage (AWS S3, MinIO, R2) through boto3.

boto3 is blocking, so every call runs in a worker thread. Server-mediated uploads stream the
request body into a multipart upload, one part uploading while the next is being received.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import anyio.to_thread
import boto3
from botocore.client import Config
from botocore.exceptions import BotoCoreError, ClientError

from app.config import Settings
from app.storage.base import ObjectInfo, PresignedUpload, StorageError


def _client(settings: Settings, endpoint_url: str | None) -> Any:
    return boto3.client(
        "s3",
        endpoint_url=endpoint_url,
        region_name=settings.s3_region,
        aws_access_key_id=settings.s3_access_key_id,
        aws_secret_access_key=(
            settings.s3_secret_access_key.get_secret_value()
            if settings.s3_secret_access_key
            else None
        ),
        config=Config(
            signature_version="s3v4",
            s3={"addressing_style": settings.s3_addressing_style},
            retries={"max_attempts": 3, "mode": "standard"},
            max_pool_connections=32,
        ),
    )


class S3Storage:
    """Objects in one S3 bucket."""

    def __init__(self, settings: Settings) -> None:
        self._bucket = settings.s3_bucket
        self._ttl = settings.presign_ttl_seconds
        self._part_size = settings.s3_part_size
        self._client = _client(settings, settings.s3_endpoint_url)
        # Presigned URLs are used by clients, who may reach storage at another address.
        public = settings.s3_public_endpoint_url
        self._presigner = _client(settings, public) if public else self._client

    @property
    def can_presign(self) -> bool:
        return True

    async def set_cors(self, rules: dict[str, Any]) -> None:
        """Replace the bucket's CORS configuration."""
        await self._call("put_bucket_cors", Bucket=self._bucket, CORSConfiguration=rules)

    async def _call(self, method: str, **kwargs: Any) -> Any:
        try:
            return await anyio.to_thread.run_sync(lambda: getattr(self._client, method)(**kwargs))
        except (ClientError, BotoCoreError) as exc:
            raise StorageError(f"s3 {method} failed: {exc}") from exc

    async def presign_upload(self, key: str, content_type: str) -> PresignedUpload:
        # With SigV4 the Content-Type goes into SignedHeaders: a PUT with another type fails.
        url = self._presigner.generate_presigned_url(
            "put_object",
            Params={"Bucket": self._bucket, "Key": key, "ContentType": content_type},
            ExpiresIn=self._ttl,
            HttpMethod="PUT",
        )
        return PresignedUpload(
            url=url,
            content_type=content_type,
            expires_at=datetime.now(UTC) + timedelta(seconds=self._ttl),
            ttl_seconds=self._ttl,
        )

    async def put_stream(
        self, key: str, content_type: str, chunks: AsyncIterator[bytes], size: int
    ) -> int:
        if size <= self._part_size:
            body = bytearray()
            async for chunk in chunks:
                body += chunk
            await self._call(
                "put_object",
                Bucket=self._bucket,
                Key=key,
                Body=bytes(body),
                ContentType=content_type,
            )
            return len(body)

        created = await self._call(
            "create_multipart_upload", Bucket=self._bucket, Key=key, ContentType=content_type
        )
        upload_id = created["UploadId"]
        parts: list[dict[str, Any]] = []
        in_flight: asyncio.Task[None] | None = None
        total = 0

        async def send(number: int, data: bytes) -> None:
            result = await self._call(
                "upload_part",
                Bucket=self._bucket,
                Key=key,
                UploadId=upload_id,
                PartNumber=number,
                Body=data,
            )
            parts.append({"PartNumber": number, "ETag": result["ETag"]})

        try:
            buffer = bytearray()
            number = 0
            async for chunk in chunks:
                buffer += chunk
                total += len(chunk)
                if len(buffer) >= self._part_size:
                    # At most one part uploads while the next is received: bounded memory,
                    # and the network in both directions stays busy.
                    if in_flight is not None:
                        await in_flight
                    number += 1
                    in_flight = asyncio.create_task(send(number, bytes(buffer)))
                    buffer.clear()
            if in_flight is not None:
                await in_flight
                in_flight = None
            if buffer or number == 0:
                number += 1
                await send(number, bytes(buffer))
            parts.sort(key=lambda p: p["PartNumber"])
            await self._call(
                "complete_multipart_upload",
                Bucket=self._bucket,
                Key=key,
                UploadId=upload_id,
                MultipartUpload={"Parts": parts},
            )
            return total
        except BaseException:
            if in_flight is not None:
                in_flight.cancel()
                await asyncio.gather(in_flight, return_exceptions=True)
            # Shielded: the request may be cancelled (client gone) and the abort must still run.
            await asyncio.shield(self._abort(key, upload_id))
            raise

    async def _abort(self, key: str, upload_id: str) -> None:
        # Best effort: the bucket's lifecycle rule for incomplete uploads is the backstop.
        with contextlib.suppress(StorageError):
            await self._call(
                "abort_multipart_upload", Bucket=self._bucket, Key=key, UploadId=upload_id
            )

    async def put_bytes(self, key: str, content_type: str, data: bytes) -> None:
        await self._call(
            "put_object", Bucket=self._bucket, Key=key, Body=data, ContentType=content_type
        )

    async def delete_prefix(self, prefix: str) -> None:
        def delete_all() -> None:
            paginator = self._client.get_paginator("list_objects_v2")
            for page in paginator.paginate(Bucket=self._bucket, Prefix=prefix):
                keys = [{"Key": obj["Key"]} for obj in page.get("Contents", [])]
                if keys:
                    self._client.delete_objects(
                        Bucket=self._bucket, Delete={"Objects": keys, "Quiet": True}
                    )

        try:
            await anyio.to_thread.run_sync(delete_all)
        except (ClientError, BotoCoreError) as exc:
            raise StorageError(f"s3 delete of {prefix!r} failed: {exc}") from exc

    async def head(self, key: str) -> ObjectInfo | None:
        try:
            result = await anyio.to_thread.run_sync(
                lambda: self._client.head_object(Bucket=self._bucket, Key=key)
            )
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") in {"404", "NoSuchKey", "NotFound"}:
                return None
            raise StorageError(f"s3 head_object failed: {exc}") from exc
        except BotoCoreError as exc:
            raise StorageError(f"s3 head_object failed: {exc}") from exc
        return ObjectInfo(size=int(result["ContentLength"]), content_type=result.get("ContentType"))

    async def download_url(self, key: str, *, filename: str | None = None) -> str:
        params: dict[str, Any] = {"Bucket": self._bucket, "Key": key}
        if filename:
            params["ResponseContentDisposition"] = f'attachment; filename="{filename}"'
        url: str = self._presigner.generate_presigned_url(
            "get_object", Params=params, ExpiresIn=self._ttl
        )
        return url

    async def download_to(self, key: str, path: str) -> None:
        await self._call("download_file", Bucket=self._bucket, Key=key, Filename=path)

    async def delete(self, key: str) -> None:
        await self._call("delete_object", Bucket=self._bucket, Key=key)

    async def close(self) -> None:
        self._client.close()

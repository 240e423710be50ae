"""A large upload streams through the server: its memory does not grow with the body."""

from __future__ import annotations

import asyncio
import hashlib

import psutil

from tests.conftest import Api, s3_client
from tests.support.factories import BASE, bearer, create

MiB = 1024 * 1024
SIZE = 300 * MiB


async def body(digest):  # type: ignore[no-untyped-def]
    block = bytes(range(256)) * 4096  # 1 MiB, varied so nothing compresses it away
    for i in range(SIZE // MiB):
        chunk = block[i % 256 :] + block[: i % 256]
        digest.update(chunk)
        yield chunk


async def test_300_mib_upload_keeps_server_memory_flat(api: Api, http, db, backends):
    alice = bearer(backends.jwt_secret, "alice")
    created = await create(http, api.url, headers=alice)
    server = psutil.Process(api.pid)
    baseline = server.memory_info().rss
    peak = baseline
    done = asyncio.Event()

    async def sample() -> None:
        nonlocal peak
        while not done.is_set():
            peak = max(peak, server.memory_info().rss)
            await asyncio.sleep(0.02)

    sampler = asyncio.create_task(sample())
    digest = hashlib.sha256()
    r = await http.put(
        f"{api.url}{BASE}/{created['recordingId']}/video",
        content=body(digest),
        headers={**alice, "Content-Type": "video/webm", "Content-Length": str(SIZE)},
        timeout=300,
    )
    done.set()
    await sampler
    assert r.status_code == 200, r.text
    growth = (peak - baseline) / MiB
    assert growth < 100, f"server RSS grew by {growth:.0f} MiB for a {SIZE // MiB} MiB body"
    key = await db.fetchval("SELECT object_key FROM video_artifacts")
    assert await db.fetchval("SELECT size FROM video_artifacts") == SIZE
    if api.storage == "local":
        stored = hashlib.sha256()
        with open(api.data_dir / "objects" / key, "rb") as f:
            while chunk := f.read(8 * MiB):
                stored.update(chunk)
        assert stored.digest() == digest.digest()
    else:
        head = s3_client(backends.s3_endpoint).head_object(Bucket=api.bucket, Key=key)
        assert head["ContentLength"] == SIZE
        assert head["ContentType"] == "video/webm"
        assert "-" in head["ETag"]  # a multipart upload, in parts

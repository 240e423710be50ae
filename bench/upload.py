"""Upload benchmark: 1 GiB through ``PUT /:id/video`` into S3 against a plain boto3 ``put_object``.

Then the same size as a tus upload (``/:id/uploads``) in 64 MiB PATCHes whose connection is cut
twice part-way (at about a third and two thirds), each time resumed from the offset HEAD reports.

Starts its own S3 server (moto) and API process; PostgreSQL and Redis come from
RECORDINGS_TEST_DATABASE_URL / RECORDINGS_TEST_REDIS_URL or are started embedded.
Prints both throughputs, their ratio (target ≥ 0.5) and the server's peak RSS growth
(target < 64 MiB).

    python bench/upload.py [--mib 1024]
"""

from __future__ import annotations

import argparse
import secrets
import socket
import sys
import tempfile
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.conftest import s3_client
from tests.support import services
from tests.support.factories import BASE, bearer, create_body

MiB = 1024 * 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--mib", type=int, default=1024, help="upload size in MiB")
    args = parser.parse_args()
    size = args.mib * MiB
    block = secrets.token_bytes(MiB)

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        with (
            services.postgres_server(work) as pg_server,
            services.redis_server(work) as redis_url,
            services.s3_server() as endpoint,
            services.fresh_database(pg_server) as database_url,
        ):
            client = s3_client(endpoint)
            client.create_bucket(Bucket="bench")
            secret = secrets.token_urlsafe(24)
            env = {
                "RECORDINGS_DATABASE_URL": database_url,
                "RECORDINGS_REDIS_URL": redis_url,
                "RECORDINGS_JWT_SECRET": secret,
                "RECORDINGS_STORAGE": "s3",
                "RECORDINGS_S3_ENDPOINT_URL": endpoint,
                "RECORDINGS_S3_BUCKET": "bench",
                "RECORDINGS_S3_ACCESS_KEY_ID": "test",
                "RECORDINGS_S3_SECRET_ACCESS_KEY": "test",
                "RECORDINGS_MAX_UPLOAD_BYTES": str(4 * 1024 * MiB),
                "RECORDINGS_DATA_DIR": str(work / "var"),
            }
            with services.api_server(env, cwd=work) as (url, proc):
                run(url, proc.pid, client, secret, block, size)


def run(url: str, pid: int, client, secret: str, block: bytes, size: int) -> None:  # type: ignore[no-untyped-def]
    # Direct: the same bytes, in memory, with one boto3 put_object.
    payload = block * (size // MiB)
    start = time.perf_counter()
    client.put_object(Bucket="bench", Key="direct.webm", Body=payload, ContentType="video/webm")
    direct_s = time.perf_counter() - start
    del payload
    client.delete_object(Bucket="bench", Key="direct.webm")

    headers = bearer(secret, "bench")
    rid = httpx.post(url + BASE, json=create_body(), headers=headers).json()["recordingId"]
    server = psutil.Process(pid)
    baseline = server.memory_info().rss
    peak = baseline
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, server.memory_info().rss)
            time.sleep(0.01)

    sampler = threading.Thread(target=sample)
    sampler.start()

    def body():  # type: ignore[no-untyped-def]
        for _ in range(size // MiB):
            yield block

    start = time.perf_counter()
    r = httpx.put(
        f"{url}{BASE}/{rid}/video",
        content=body(),
        timeout=600,
        headers={**headers, "Content-Type": "video/webm", "Content-Length": str(size)},
    )
    through_s = time.perf_counter() - start
    stop.set()
    sampler.join()
    r.raise_for_status()

    tus_s, tus_peak, cuts = tus_upload(url, server, headers, block, size)

    mib = size / MiB
    direct_tp, through_tp = mib / direct_s, mib / through_s
    tus_tp = mib / tus_s
    print(f"upload size                 {mib:.0f} MiB")
    print(f"boto3 put_object            {direct_s:6.2f} s  {direct_tp:7.1f} MiB/s")
    print(f"PUT /:id/video (streamed)   {through_s:6.2f} s  {through_tp:7.1f} MiB/s")
    print(f"ratio (through / direct)    {through_tp / direct_tp:.2f}   (target >= 0.5)")
    print(f"server peak RSS growth      {(peak - baseline) / MiB:.1f} MiB  (target < 64 MiB)")
    print(f"tus, cut {cuts}x and resumed   {tus_s:6.2f} s  {tus_tp:7.1f} MiB/s")
    print(f"ratio (tus / direct)        {tus_tp / direct_tp:.2f}   (target >= 0.5)")
    print(f"server peak RSS growth      {(tus_peak - baseline) / MiB:.1f} MiB  (tus)")


def _cut(url: str, path: str, headers: dict[str, str], offset: int, block: bytes, n: int) -> None:
    """A PATCH announcing ``n`` MiB that stops after half of them, the connection dropped."""
    parts = urlsplit(url)
    head = [
        f"PATCH {path} HTTP/1.1",
        f"Host: {parts.netloc}",
        "Tus-Resumable: 1.0.0",
        "Content-Type: application/offset+octet-stream",
        f"Upload-Offset: {offset}",
        f"Content-Length: {n * MiB}",
        *(f"{k}: {v}" for k, v in headers.items()),
    ]
    with socket.create_connection((parts.hostname, parts.port)) as sock:
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode())
        for _ in range(n // 2):
            sock.sendall(block)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")


def tus_upload(url, server, headers, block, size):  # type: ignore[no-untyped-def]
    """A tus upload of ``size`` bytes, cut twice; (seconds, peak RSS, cuts)."""
    tus = {"Tus-Resumable": "1.0.0"}
    rid = httpx.post(url + BASE, json=create_body(), headers=headers).json()["recordingId"]
    peak = server.memory_info().rss
    stop = threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.is_set():
            peak = max(peak, server.memory_info().rss)
            time.sleep(0.01)

    sampler = threading.Thread(target=sample)
    sampler.start()
    start = time.perf_counter()
    made = httpx.post(
        f"{url}{BASE}/{rid}/uploads", headers={**headers, **tus, "Upload-Length": str(size)}
    )
    made.raise_for_status()
    location = made.headers["location"]
    chunk = 64  # MiB per PATCH
    cut_at = {size // 3 // MiB // chunk, 2 * size // 3 // MiB // chunk}
    offset, cuts, index = 0, 0, 0
    while offset < size:
        n = min(chunk, (size - offset) // MiB)
        if index in cut_at:
            cut_at.discard(index)
            _cut(url, urlsplit(location).path, headers, offset, block, n)
            cuts += 1
            while True:  # the server stores what came, then the offset moves
                time.sleep(0.05)
                now = int(httpx.head(location, headers={**headers, **tus}).headers["upload-offset"])
                if now > offset:
                    break
            offset = now
        else:
            lead = offset % MiB  # after a cut the offset is mid-block: finish that block first

            def body(lead: int = lead, n: int = n):  # type: ignore[no-untyped-def]
                if lead:
                    yield block[lead:]
                for _ in range(n - (1 if lead else 0)):
                    yield block

            length = n * MiB - lead
            r = httpx.patch(
                location,
                content=body(),
                timeout=600,
                headers={
                    **headers,
                    **tus,
                    "Upload-Offset": str(offset),
                    "Content-Type": "application/offset+octet-stream",
                    "Content-Length": str(length),
                },
            )
            if r.status_code == 409 and r.json()["error"]["code"] == "upload_busy":
                time.sleep(0.1)  # the cut request is still being stored
                continue
            r.raise_for_status()
            offset = int(r.headers["upload-offset"])
        index += 1
    elapsed = time.perf_counter() - start
    stop.set()
    sampler.join()
    detail = httpx.get(f"{url}{BASE}/{rid}", headers=headers).json()
    assert detail["videoUploadStatus"] == "uploaded", detail
    return elapsed, peak, cuts


if __name__ == "__main__":
    main()

"""Upload benchmark: 1 GiB through ``PUT /:id/video`` into S3 against a plain boto3 ``put_object``.

Starts its own S3 server (moto) and API process; PostgreSQL and Redis come from
RECORDINGS_TEST_DATABASE_URL / RECORDINGS_TEST_REDIS_URL or are started embedded.
Prints both throughputs, their ratio (target ≥ 0.5) and the server's peak RSS growth
(target < 64 MiB).

    python bench/upload.py [--mib 1024]
"""

from __future__ import annotations

import argparse
import secrets
import sys
import tempfile
import threading
import time
from pathlib import Path

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

    mib = size / MiB
    direct_tp, through_tp = mib / direct_s, mib / through_s
    print(f"upload size                 {mib:.0f} MiB")
    print(f"boto3 put_object            {direct_s:6.2f} s  {direct_tp:7.1f} MiB/s")
    print(f"PUT /:id/video (streamed)   {through_s:6.2f} s  {through_tp:7.1f} MiB/s")
    print(f"ratio (through / direct)    {through_tp / direct_tp:.2f}   (target >= 0.5)")
    print(f"server peak RSS growth      {(peak - baseline) / MiB:.1f} MiB  (target < 64 MiB)")


if __name__ == "__main__":
    main()

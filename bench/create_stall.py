"""What one large create body costs everyone else: other clients' latency while it is read.

Starts its own API process (PostgreSQL and Redis from RECORDINGS_TEST_DATABASE_URL /
RECORDINGS_TEST_REDIS_URL, or embedded). ``--senders`` clients send the largest create body
the limits allow (100,000 actions, ~30 MiB), over and over, while a probe client asks
``GET /healthz`` and ``GET /api/feedback/recordings`` every 20 ms. Prints the probe's latency
percentiles and the senders' time per body. Target: probe p99 < 100 ms.

    python bench/create_stall.py [--seconds 20] [--senders 1]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.support import services
from tests.support.factories import BASE, bearer, create_body


def largest_body() -> bytes:
    """As many actions as allowed, each as large as fits in the byte limit."""
    from app.recordings.schemas import MAX_ACTIONS

    body = create_body("login-500")
    body["actions"] = [
        {"type": "click", "timestamp": i, "selector": "#save", "text": "x" * 250}
        for i in range(MAX_ACTIONS)
    ]
    return json.dumps(body).encode()


async def run(url: str, secret: str, seconds: float, senders: int) -> None:
    payload = largest_body()
    headers = bearer(secret, "bench")
    latencies: list[float] = []
    sent: list[float] = []
    statuses: dict[int, int] = {}
    stop = asyncio.Event()

    async def sender() -> None:
        async with httpx.AsyncClient(timeout=120) as client:
            while not stop.is_set():
                start = time.perf_counter()
                r = await client.post(
                    url + BASE, content=payload, headers={"Content-Type": "application/json"}
                )
                sent.append(time.perf_counter() - start)
                statuses[r.status_code] = statuses.get(r.status_code, 0) + 1

    async def probe() -> None:
        async with httpx.AsyncClient(timeout=30) as client:
            while not stop.is_set():
                for path in ("/healthz", BASE + "?limit=5"):
                    start = time.perf_counter()
                    r = await client.get(url + path, headers=headers)
                    r.raise_for_status()
                    latencies.append((time.perf_counter() - start) * 1000)
                await asyncio.sleep(0.02)

    async with httpx.AsyncClient() as warm:  # the probe's baseline, and the reader's process warm
        await warm.get(url + "/healthz")
    await asyncio.sleep(2)
    tasks = [asyncio.create_task(probe())] + [asyncio.create_task(sender()) for _ in range(senders)]
    await asyncio.sleep(seconds)
    stop.set()
    await asyncio.gather(*tasks)
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p / 100 * len(latencies)))]

    print(
        f"body                 {len(payload) / 1024 / 1024:.1f} MiB, "
        f"{senders} sender(s), {seconds:.0f} s"
    )
    print(
        f"bodies read          {len(sent)}  statuses {statuses}  "
        f"median {statistics.median(sent):.2f} s each"
    )
    print(f"probe requests       {len(latencies)}")
    print(
        f"probe latency (ms)   p50 {pct(50):.1f}  p99 {pct(99):.1f}  max {latencies[-1]:.1f}   "
        "(target p99 < 100)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--senders", type=int, default=1)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        with (
            services.postgres_server(work) as pg_server,
            services.redis_server(work) as redis_url,
            services.fresh_database(pg_server) as database_url,
        ):
            secret = secrets.token_urlsafe(24)
            env = {
                "RECORDINGS_DATABASE_URL": database_url,
                "RECORDINGS_REDIS_URL": redis_url,
                "RECORDINGS_JWT_SECRET": secret,
                "RECORDINGS_DATA_DIR": str(work / "var"),
            }
            with services.api_server(env, cwd=work) as (url, _):
                asyncio.run(run(url, secret, args.seconds, args.senders))


if __name__ == "__main__":
    main()

"""Subscription benchmark: N concurrent ``analysisProgress`` subscribers on one API process.

A publisher emits progress events for one recording on Redis (as workers do); every subscriber
receives them through the API's GraphQL websocket. Prints publish→receive latency p50/p99 over
all deliveries (target p99 < 50 ms) and the API process's RSS.

PostgreSQL and Redis come from RECORDINGS_TEST_DATABASE_URL / RECORDINGS_TEST_REDIS_URL or are
started embedded.

    python bench/subscriptions.py [--subscribers 1000] [--events 40] [--rate 10] [--recordings 1]

With ``--recordings 1`` every event fans out to all subscribers (the worst case for one process);
with ``--recordings N`` the subscribers spread over N recordings, as dashboards watching different
analyses do, and each round publishes one event per recording.
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
import psutil
import redis.asyncio as aioredis
from websockets.client import ClientProtocol
from websockets.extensions.permessage_deflate import ClientPerMessageDeflateFactory
from websockets.frames import Frame, Opcode
from websockets.typing import Subprotocol
from websockets.uri import parse_uri

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from app.analysis.events import AnalysisProgress, progress_channel
from tests.support import services
from tests.support.factories import BASE, bearer, create_body
from tests.support.graphql import PROGRESS


class _Subscriber(asyncio.Protocol):
    """One graphql-transport-ws connection, parsed by websockets' sans-I/O protocol.

    The receive time of each message is taken when its bytes arrive, before any parsing, and the
    JSON is decoded after the run: the 1,000 subscribers share the benchmark's process (and the
    server's two cores), so the client must cost as little as possible per message or it, not
    the server, sets the latency.
    """

    def __init__(
        self, uri: str, token: str, rid: str, done: asyncio.Future[None], acked: asyncio.Event
    ) -> None:
        # Offers permessage-deflate, as browsers do.
        self.protocol = ClientProtocol(
            parse_uri(uri),
            subprotocols=[Subprotocol("graphql-transport-ws")],
            extensions=[ClientPerMessageDeflateFactory()],
        )
        self.token, self.rid, self.done, self.acked = token, rid, done, acked
        self.transport: asyncio.Transport | None = None
        self.received: list[tuple[float, bytes | str]] = []
        self.state = "handshake"

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        self.protocol.send_request(self.protocol.connect())
        self._flush()

    def _send(self, message: dict[str, object]) -> None:
        self.protocol.send_text(json.dumps(message).encode())
        self._flush()

    def _flush(self) -> None:
        for data in self.protocol.data_to_send():
            if data:
                self.transport.write(data)  # type: ignore[union-attr]

    def data_received(self, data: bytes) -> None:
        now = time.time()
        self.protocol.receive_data(data)
        for event in self.protocol.events_received():
            if self.state == "handshake":  # the HTTP 101 response
                self.state = "init"
                self._send(
                    {
                        "type": "connection_init",
                        "payload": {"Authorization": f"Bearer {self.token}"},
                    }
                )
                continue
            if not isinstance(event, Frame) or event.opcode is not Opcode.TEXT:
                continue
            if self.state == "init":
                assert json.loads(event.data)["type"] == "connection_ack", event.data
                self.state = "subscribed"
                self._send(
                    {
                        "id": "1",
                        "type": "subscribe",
                        "payload": {"query": PROGRESS, "variables": {"id": self.rid}},
                    }
                )
                continue
            if not self.received:
                self.acked.set()  # the current state arrived
            self.received.append((now, event.data))
            if (
                event.data.startswith(b'{"id":"1","type":"complete"')
                or b'"type":"complete"' in event.data
            ) and not self.done.done():
                self.done.set_result(None)
        self._flush()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.done.done():
            self.done.set_exception(ConnectionError(f"closed before completing: {exc}"))

    def latencies(self) -> list[tuple[str, float]]:
        """(event, publish→receive seconds) for every event after the current state."""
        out = []
        for received_at, raw in self.received[1:]:  # the first message is the current state
            message = json.loads(raw)
            if message["type"] == "next":
                sent = message["payload"]["data"]["analysisProgress"]["message"]
                out.append((sent, received_at - float(sent)))
        return out


async def run(
    url: str,
    pid: int,
    redis_url: str,
    secret: str,
    subscribers: int,
    events: int,
    rate: float,
    recordings: int,
) -> None:
    headers = bearer(secret, "bench")
    async with httpx.AsyncClient() as http:
        rids = [
            (await http.post(url + BASE, json=create_body(), headers=headers)).json()["recordingId"]
            for _ in range(recordings)
        ]
    token = headers["Authorization"].split()[1]
    ws_url = url.replace("http://", "ws://") + "/graphql"
    server = psutil.Process(pid)
    rss_before = server.memory_info().rss
    loop = asyncio.get_running_loop()
    host, port = url.removeprefix("http://").split(":")
    started = time.perf_counter()
    clients: list[_Subscriber] = []
    for i in range(subscribers):
        client = _Subscriber(
            ws_url, token, rids[i % recordings], loop.create_future(), asyncio.Event()
        )
        await loop.create_connection(lambda c=client: c, host, int(port))
        clients.append(client)
        if i % 50 == 49:
            await asyncio.sleep(0.25)  # connect in waves, as real dashboards do
    await asyncio.wait_for(asyncio.gather(*(c.acked.wait() for c in clients)), 300)
    connect_s = time.perf_counter() - started
    rss_connected = server.memory_info().rss
    publisher = aioredis.from_url(redis_url)
    server_cpu, own_cpu = sum(server.cpu_times()[:2]), sum(psutil.Process().cpu_times()[:2])
    publish_started = time.perf_counter()
    job = f"job-{secrets.token_hex(8)}"
    # ``events`` rounds; each round publishes one event to every recording, spread over 1/rate s.
    for i in range(events):
        final = i == events - 1
        for rid in rids:
            event = AnalysisProgress(
                recording_id=rid,
                job_id=job,
                status="analyzed" if final else "analyzing",
                stage="ocr",
                progress=1.0 if final else (i + 1) / events,
                message=repr(time.time()),
            )
            await publisher.publish(progress_channel(rid), event.to_json())
            await asyncio.sleep(1 / rate / recordings)
    await asyncio.wait_for(asyncio.gather(*(c.done for c in clients)), 300)
    delivery_s = time.perf_counter() - publish_started
    server_cpu = sum(server.cpu_times()[:2]) - server_cpu
    own_cpu = sum(psutil.Process().cpu_times()[:2]) - own_cpu
    await publisher.aclose()
    for c in clients:
        c.transport.close()  # type: ignore[union-attr]
    by_event: dict[str, list[float]] = {}
    for c in clients:
        for event, latency in c.latencies():
            by_event.setdefault(event, []).append(latency * 1000)
    ms = sorted(x for values in by_event.values() for x in values)
    p99 = ms[int(len(ms) * 0.99) - 1]
    print(
        f"subscribers                 {subscribers} on {recordings} recording(s) "
        f"(connected in {connect_s:.1f} s)"
    )
    print(
        f"events published            {events * recordings}, {rate:.0f} rounds/s; "
        f"deliveries {len(ms)} of {events * subscribers}"
    )
    print(f"latency p50                 {statistics.median(ms):.1f} ms")
    print(f"latency p99                 {p99:.1f} ms   (target < 50 ms)")
    print(f"latency max                 {ms[-1]:.1f} ms")
    worst = [max(by_event[event]) for event in sorted(by_event)]
    if len(worst) <= 60:
        print(f"per event: last delivery    {' '.join(f'{x:.0f}' for x in worst)} ms")
    else:
        print(
            f"per event: last delivery    median {statistics.median(worst):.1f} ms, "
            f"max {max(worst):.1f} ms"
        )
    print(
        f"CPU while delivering        server {server_cpu:.1f} s, "
        f"subscribers' client {own_cpu:.1f} s over {delivery_s:.1f} s wall "
        f"({len(ms) / max(server_cpu, 0.01):.0f} deliveries per server CPU second)"
    )
    print(
        f"server RSS                  {rss_before / 2**20:.0f} MiB idle, "
        f"{rss_connected / 2**20:.0f} MiB with {subscribers} subscribers "
        f"({(rss_connected - rss_before) / subscribers / 1024:.0f} KiB each)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--subscribers", type=int, default=1000)
    parser.add_argument("--events", type=int, default=40)
    parser.add_argument(
        "--rate",
        type=float,
        default=10.0,
        help="rounds per second (a round: one event to every recording)",
    )
    parser.add_argument(
        "--recordings", type=int, default=1, help="recordings the subscribers spread over"
    )
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
                "RECORDINGS_QUEUE_NAME": f"bench:{secrets.token_hex(4)}",
            }
            with services.api_server(env, cwd=work) as (url, proc):
                asyncio.run(
                    run(
                        url,
                        proc.pid,
                        redis_url,
                        secret,
                        args.subscribers,
                        args.events,
                        args.rate,
                        args.recordings,
                    )
                )


if __name__ == "__main__":
    main()

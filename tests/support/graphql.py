"""A small GraphQL client: queries over HTTP, subscriptions over graphql-transport-ws."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import websockets


async def gql(
    http: httpx.AsyncClient,
    url: str,
    query: str,
    variables: dict[str, Any] | None = None,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    r = await http.post(
        url + "/graphql", json={"query": query, "variables": variables or {}}, headers=headers or {}
    )
    assert r.status_code == 200, r.text
    return r.json()  # type: ignore[no-any-return]


class Subscription:
    """One graphql-transport-ws connection carrying one subscription."""

    def __init__(
        self, url: str, query: str, variables: dict[str, Any], payload: dict[str, Any]
    ) -> None:
        self._url = url.replace("http://", "ws://") + "/graphql"
        self._query = query
        self._variables = variables
        self._payload = payload
        self._ws: Any = None
        self.ack: dict[str, Any] | None = None

    async def __aenter__(self) -> Subscription:
        self._ws = await websockets.connect(self._url, subprotocols=["graphql-transport-ws"])
        await self._ws.send(json.dumps({"type": "connection_init", "payload": self._payload}))
        try:
            self.ack = json.loads(await asyncio.wait_for(self._ws.recv(), 10))
        except websockets.ConnectionClosed as exc:
            self.ack = {"type": "closed", "code": exc.rcvd.code if exc.rcvd else None}
            return self
        if self.ack.get("type") == "connection_ack":
            await self._ws.send(
                json.dumps(
                    {
                        "id": "1",
                        "type": "subscribe",
                        "payload": {"query": self._query, "variables": self._variables},
                    }
                )
            )
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self._ws.close()

    async def messages(self, timeout: float = 120) -> AsyncIterator[dict[str, Any]]:
        """Each message until ``complete`` or ``error`` (included)."""
        while True:
            message = json.loads(await asyncio.wait_for(self._ws.recv(), timeout))
            if message.get("type") == "ping":
                await self._ws.send(json.dumps({"type": "pong"}))
                continue
            yield message
            if message.get("type") in ("complete", "error"):
                return


PROGRESS = """subscription($id: ID!) { analysisProgress(recordingId: $id) {
  recordingId jobId status stage progress message etaSeconds } }"""


async def collect(sub: Subscription, timeout: float = 180) -> list[dict[str, Any]]:
    """Every progress event until the subscription completes."""
    events = []
    async for message in sub.messages(timeout=timeout):
        if message["type"] == "next":
            assert "errors" not in message["payload"], message
            events.append(message["payload"]["data"]["analysisProgress"])
        elif message["type"] == "error":
            raise AssertionError(message)
    return events


async def wait_for_stage(
    sub: Subscription, stages: set[str], timeout: float = 120
) -> dict[str, Any]:
    """Read progress events until one is in one of ``stages``; that event."""
    async for message in sub.messages(timeout=timeout):
        if message["type"] == "next":
            event = message["payload"]["data"]["analysisProgress"]
            if event["stage"] in stages:
                return event  # type: ignore[no-any-return]
    raise AssertionError("the analysis ended before reaching " + ", ".join(stages))

"""One execution and one encoding per shared event (schema.broadcast), on the real schema."""

from __future__ import annotations

import asyncio
import contextlib
import json
from types import SimpleNamespace
from typing import Any

from app.analysis.events import AnalysisProgress
from app.config import Settings
from schema import GraphQLApp, broadcast, build_schema
from schema.subscriptions import _decoded

NARROW = "subscription($id: ID!) { analysisProgress(recordingId: $id) { jobId progress } }"
WIDE = (
    "subscription($id: ID!) "
    "{ analysisProgress(recordingId: $id) { jobId status stage progress message } }"
)


def _event(progress: float, *, final: bool = False) -> bytes:
    return (
        AnalysisProgress(
            recording_id="r1",
            job_id="job-1",
            status="analyzed" if final else "analyzing",
            stage="ocr",
            progress=progress,
            message=f"at {progress}",
        )
        .to_json()
        .encode()
    )


class _Subscribers:
    """Contexts for the real subscription resolver: every subscriber reads one shared queue set."""

    def __init__(self) -> None:
        self.queues: list[asyncio.Queue[bytes]] = []

    def context(self) -> Any:
        @contextlib.asynccontextmanager
        async def subscribe(channel: str) -> Any:
            queue: asyncio.Queue[bytes] = asyncio.Queue()
            self.queues.append(queue)
            yield queue

        async def get(caller: object, rid: str) -> Any:
            return SimpleNamespace(id=rid)

        async def progress_for(recording: object) -> AnalysisProgress:
            return AnalysisProgress(
                recording_id="r1",
                job_id="job-1",
                status="analyzing",
                stage="decode",
                progress=0.0,
                message=None,
            )

        services = SimpleNamespace(
            recordings=SimpleNamespace(get=get), analysis=SimpleNamespace(progress_for=progress_for)
        )
        return SimpleNamespace(
            services=services, broker=SimpleNamespace(subscribe=subscribe), caller=None
        )

    def publish(self, raw: bytes) -> None:
        for queue in self.queues:
            queue.put_nowait(raw)  # the broker hands the same bytes object to every queue


async def _collect(schema: Any, query: str, context: Any, out: list[Any]) -> None:
    stream = await schema.subscribe(query, variable_values={"id": "r1"}, context_value=context)
    async for result in stream:
        out.append(result)


async def test_subscribers_with_one_document_share_one_result_and_others_get_their_own() -> None:
    schema = build_schema(Settings())
    subscribers = _Subscribers()
    narrow_a: list[Any] = []
    narrow_b: list[Any] = []
    wide: list[Any] = []
    tasks = [
        asyncio.create_task(_collect(schema, NARROW, subscribers.context(), narrow_a)),
        asyncio.create_task(_collect(schema, NARROW, subscribers.context(), narrow_b)),
        asyncio.create_task(_collect(schema, WIDE, subscribers.context(), wide)),
    ]
    while len(subscribers.queues) < 3 or min(len(narrow_a), len(narrow_b), len(wide)) < 1:
        await asyncio.sleep(0.01)
    subscribers.publish(_event(0.5))
    subscribers.publish(_event(1.0, final=True))
    await asyncio.wait_for(asyncio.gather(*tasks), 5)

    assert [r.data for r in narrow_a] == [
        {"analysisProgress": {"jobId": "job-1", "progress": 0.0}},
        {"analysisProgress": {"jobId": "job-1", "progress": 0.5}},
        {"analysisProgress": {"jobId": "job-1", "progress": 1.0}},
    ]
    assert [r.data for r in narrow_b] == [r.data for r in narrow_a]
    assert wide[1].data == {
        "analysisProgress": {
            "jobId": "job-1",
            "status": "analyzing",
            "stage": "ocr",
            "progress": 0.5,
            "message": "at 0.5",
        }
    }
    # Published events: one execution for both narrow subscribers (the same data object), the
    # wide one its own. The current state is read per subscriber and executed per subscriber.
    assert narrow_a[1].data is narrow_b[1].data and narrow_a[2].data is narrow_b[2].data
    assert wide[1].data is not narrow_a[1].data
    assert narrow_a[0].data is not narrow_b[0].data


async def test_variables_are_part_of_what_is_shared() -> None:
    schema = build_schema(Settings())
    event = _decoded(_event(0.25))[1]
    query = "subscription($id: ID!) { analysisProgress(recordingId: $id) { progress } }"
    subscribers = _Subscribers()
    results: dict[str, list[Any]] = {"r1": [], "r2": []}

    async def follow(rid: str) -> None:
        stream = await schema.subscribe(
            query, variable_values={"id": rid}, context_value=subscribers.context()
        )
        async for result in stream:
            results[rid].append(result)

    tasks = [asyncio.create_task(follow("r1")), asyncio.create_task(follow("r2"))]
    while len(subscribers.queues) < 2 or min(len(v) for v in results.values()) < 1:
        await asyncio.sleep(0.01)
    raw = _event(0.25)
    assert _decoded(raw)[1] is event  # the same message decodes to the same shared instance
    subscribers.publish(raw)
    subscribers.publish(_event(1.0, final=True))
    await asyncio.wait_for(asyncio.gather(*tasks), 5)
    assert (
        results["r1"][1].data == results["r2"][1].data == {"analysisProgress": {"progress": 0.25}}
    )
    assert results["r1"][1].data is not results["r2"][1].data  # other variables: executed again


def test_a_shared_next_message_is_encoded_once_with_each_operation_id_spliced_in() -> None:
    data = {
        "analysisProgress": {"jobId": "job-1", "progress": 0.5, "message": 'quote " and \u00e9'}
    }
    app = GraphQLApp(build_schema(Settings()), Settings())
    plain = app.encode_json({"id": "1", "type": "next", "payload": {"data": data}})
    assert (
        broadcast.encode_next({"id": "1", "type": "next", "payload": {"data": data}}) is None
    )  # not shared

    result = SimpleNamespace(data=data)
    broadcast._encoded[id(data)] = [data, None]
    broadcast._results[("test",)] = (object(), result)  # type: ignore[assignment]
    try:
        for op_id in ("1", 'op "2"'):
            message = {"id": op_id, "type": "next", "payload": {"data": data}}
            encoded = app.encode_json(message)
            assert json.loads(encoded) == message
        assert app.encode_json({"id": "1", "type": "next", "payload": {"data": data}}) == plain
        # Anything else — errors alongside, other message types — is encoded normally.
        with_errors = {
            "id": "1",
            "type": "next",
            "payload": {"data": data, "errors": [{"message": "x"}]},
        }
        assert json.loads(app.encode_json(with_errors)) == with_errors
        assert json.loads(app.encode_json({"id": "1", "type": "complete"})) == {
            "id": "1",
            "type": "complete",
        }
    finally:
        broadcast._encoded.pop(id(data), None)
        broadcast._results.pop(("test",), None)


def test_the_caches_stay_bounded() -> None:
    schema = build_schema(Settings())

    async def run() -> None:
        subscribers = _Subscribers()
        out: list[Any] = []
        task = asyncio.create_task(_collect(schema, NARROW, subscribers.context(), out))
        while not subscribers.queues or not out:
            await asyncio.sleep(0.01)
        for i in range(broadcast.CACHE_SIZE + 50):
            subscribers.publish(_event(i / 1000))
            await asyncio.sleep(0)
        subscribers.publish(_event(1.0, final=True))
        await asyncio.wait_for(task, 5)
        assert len(out) == broadcast.CACHE_SIZE + 52

    asyncio.run(run())
    assert len(broadcast._results) <= broadcast.CACHE_SIZE
    assert len(broadcast._encoded) <= broadcast.CACHE_SIZE


async def test_events_go_straight_to_a_websocket_operation_with_the_data_graphql_would_give() -> (
    None
):
    """Inside a websocket operation, shared events skip the result stream: what is sent must be
    exactly what executing the document would give (aliases, fragments, __typename included)."""
    query = """subscription($id: ID!) {
                 p: analysisProgress(recordingId: $id) { __typename ...F pct: progress }
               }
               fragment F on AnalysisProgressEvent { jobId status }"""
    schema = build_schema(Settings())
    subscribers = _Subscribers()
    sent: list[dict[str, Any]] = []

    class Operation:
        id = "op-7"

        async def send_operation_message(self, message: dict[str, Any]) -> None:
            sent.append(message)

    yielded: list[Any] = []

    async def in_operation() -> None:
        broadcast._operation.set(Operation())  # type: ignore[arg-type]  # what TransportWSHandler does
        await _collect(schema, query, subscribers.context(), yielded)

    task = asyncio.create_task(in_operation())
    while not subscribers.queues or not yielded:
        await asyncio.sleep(0.01)
    subscribers.publish(_event(0.5))
    subscribers.publish(_event(1.0, final=True))
    await asyncio.wait_for(task, 5)

    assert len(yielded) == 1  # only the current state went through the result stream
    assert [m["id"] for m in sent] == ["op-7", "op-7"] and all(m["type"] == "next" for m in sent)
    assert [m["payload"] for m in sent] == [
        {
            "data": {
                "p": {
                    "__typename": "AnalysisProgressEvent",
                    "jobId": "job-1",
                    "status": "analyzing",
                    "pct": 0.5,
                }
            }
        },
        {
            "data": {
                "p": {
                    "__typename": "AnalysisProgressEvent",
                    "jobId": "job-1",
                    "status": "analyzed",
                    "pct": 1.0,
                }
            }
        },
    ]


async def test_outside_a_websocket_operation_events_are_yielded() -> None:
    schema = build_schema(Settings())
    subscribers = _Subscribers()
    out: list[Any] = []
    task = asyncio.create_task(_collect(schema, NARROW, subscribers.context(), out))
    while not subscribers.queues or not out:
        await asyncio.sleep(0.01)
    subscribers.publish(_event(1.0, final=True))
    await asyncio.wait_for(task, 5)
    assert [r.data["analysisProgress"]["progress"] for r in out] == [0.0, 1.0]

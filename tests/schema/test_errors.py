"""What GraphQL tells a client when something goes wrong: its own mistakes and refusals in words,
internal failures masked — for queries and for subscription events alike (the real schema)."""

from __future__ import annotations

import asyncio
import contextlib
from types import SimpleNamespace
from typing import Any

import pytest
from graphql import GraphQLError

from app.analysis.events import AnalysisProgress
from app.config import Settings
from app.errors import Conflict
from schema import build_schema

SECRET = "connection to 10.0.0.7:5432 refused (password=hunter2)"


def _context(
    *, get: Any = None, progress_for: Any = None, queue: asyncio.Queue[bytes] | None = None
) -> Any:
    async def default_get(caller: object, rid: str) -> Any:
        return SimpleNamespace(id=rid)

    async def default_progress(recording: object) -> AnalysisProgress:
        return AnalysisProgress(
            recording_id="r1",
            job_id="job-1",
            status="analyzing",
            stage="ocr",
            progress=0.1,
            message=None,
        )

    @contextlib.asynccontextmanager
    async def subscribe(channel: str) -> Any:
        yield queue if queue is not None else asyncio.Queue()

    async def as_it_is(recording: object) -> object:
        return recording

    services = SimpleNamespace(
        recordings=SimpleNamespace(get=get or default_get, verify_direct_upload=as_it_is),
        analysis=SimpleNamespace(progress_for=progress_for or default_progress),
    )
    return SimpleNamespace(
        services=services, broker=SimpleNamespace(subscribe=subscribe), caller=None, loaders=None
    )


async def _raise(*args: Any) -> Any:
    raise RuntimeError(SECRET)


@pytest.mark.logs_errors  # strawberry logs the masked failure, as it should
async def test_an_internal_failure_in_a_query_is_masked() -> None:
    result = await build_schema(Settings()).execute(
        '{ recording(id: "r1") { id } }', context_value=_context(get=_raise)
    )
    assert result.errors and result.errors[0].message == "Unexpected error."
    assert SECRET not in str([e.formatted for e in result.errors])

    async def graphql_fault(*args: Any) -> Any:
        raise GraphQLError(SECRET)  # graphql-core's class, raised while executing: still a fault

    result = await build_schema(Settings()).execute(
        '{ recording(id: "r1") { id } }', context_value=_context(get=graphql_fault)
    )
    assert result.errors and result.errors[0].message == "Unexpected error."


async def test_a_refusal_and_a_query_mistake_are_told_as_they_are() -> None:
    async def conflict(*args: Any) -> Any:
        raise Conflict("the video is not uploaded yet", code="video_not_uploaded")

    schema = build_schema(Settings())
    refused = await schema.execute(
        '{ recording(id: "r1") { id } }', context_value=_context(get=conflict)
    )
    assert refused.errors and refused.errors[0].message == "the video is not uploaded yet"
    mistaken = await schema.execute('{ recording(id: "r1") { nope } }', context_value=_context())
    assert mistaken.errors and "nope" in mistaken.errors[0].message
    # A variable the scalar refuses: graphql-core's message names the variable and the value.
    too_big = await schema.execute(
        "query($n: Int) { recordings(first: $n) { edges { cursor } } }",
        variable_values={"n": 2**40},
        context_value=_context(),
    )
    assert too_big.errors and "$n" in too_big.errors[0].message
    assert "non 32-bit signed integer" in too_big.errors[0].message


@pytest.mark.logs_errors  # strawberry logs the masked failure, as it should
async def test_an_internal_failure_in_a_subscription_is_masked_and_a_refusal_is_not() -> None:
    schema = build_schema(Settings())
    query = 'subscription { analysisProgress(recordingId: "r1") { status } }'

    failing = await schema.subscribe(query, context_value=_context(progress_for=_raise))
    first = await anext(failing)  # type: ignore[arg-type]
    assert first.errors and first.errors[0].message == "Unexpected error."
    assert SECRET not in str([e.formatted for e in first.errors])

    async def not_yours(*args: Any) -> Any:
        raise PermissionError("not your recording")

    refused = await schema.subscribe(query, context_value=_context(get=not_yours))
    result = refused if not hasattr(refused, "__anext__") else await anext(refused)  # type: ignore[arg-type]
    assert result.errors and result.errors[0].message == "not your recording"


@pytest.mark.logs_errors  # strawberry logs the masked failure, as it should
async def test_an_internal_failure_in_a_later_subscription_event_is_masked() -> None:
    queue: asyncio.Queue[bytes] = asyncio.Queue()
    stream = await build_schema(Settings()).subscribe(
        'subscription { analysisProgress(recordingId: "r1") { status progress } }',
        context_value=_context(queue=queue),
    )
    first = await anext(stream)  # type: ignore[arg-type]
    assert first.data == {"analysisProgress": {"status": "analyzing", "progress": 0.1}}
    queue.put_nowait(b"{not json" + SECRET.encode())  # a corrupt event on the channel
    later = await asyncio.wait_for(anext(stream), 5)  # type: ignore[arg-type]
    assert later.errors and later.errors[0].message == "Unexpected error."
    assert SECRET not in str([e.formatted for e in later.errors])


@pytest.mark.logs_errors  # the query that runs meets a stand-in recording, not a row
async def test_queries_too_big_or_with_too_many_aliases_are_refused_before_they_run() -> None:
    settings = Settings(graphql_max_tokens=200)
    schema = build_schema(settings)
    calls: list[str] = []

    async def get(caller: object, rid: str) -> Any:
        calls.append(rid)
        return SimpleNamespace(id=rid)

    aliases = " ".join(f'a{i}: recording(id: "r{i}") {{ id }}' for i in range(16))
    result = await schema.execute(f"{{ {aliases} }}", context_value=_context(get=get))
    assert result.errors and "aliases" in result.errors[0].message.lower()
    padded = "{ " + " ".join(f'b{i}: recording(id: "r{i}") {{ id }}' for i in range(40)) + " }"
    result = await schema.execute(padded, context_value=_context(get=get))
    assert result.errors and "token" in result.errors[0].message.lower()
    assert calls == []  # nothing ran
    fine = await schema.execute(
        '{ a: recording(id: "r1") { id } }', context_value=_context(get=get)
    )
    assert calls == ["r1"] and not any(
        "alias" in e.message or "token" in e.message for e in fine.errors or []
    )

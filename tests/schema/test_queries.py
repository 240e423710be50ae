"""GraphQL in-process: DataLoaders keep the SQL bounded, and depth limits hold."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
from tortoise.backends.asyncpg.client import AsyncpgDBClient

from app.analysis.models import Analysis, AnalysisFrame, AnalysisSection, Finding
from app.auth import Caller
from app.config import Settings
from app.recordings.models import Recording, User
from app.services import Services, open_services
from schema import build_schema
from schema.context import Context

LIST = """{ recordings(first: 50) { totalCount edges { node { id status title url thumbnailUrl
  analysis { jobId status sections { title citations { type evidenceId evidence { id } } }
    findings { title evidence { id type screenText { text box { x width } } frame { timestamp } } }
    evidence { id } }
  summary { summary keyFindings } } } pageInfo { hasNextPage } } }"""


@pytest.fixture
async def orm(backends, db, tmp_path) -> AsyncIterator[Services]:
    settings = Settings(
        database_url=backends.database_url,
        redis_url=backends.redis_url,
        jwt_secret="x" * 32,
        graphql_max_depth=10,
        data_dir=tmp_path,
    )
    async with open_services(settings, api=False) as services:
        yield services


def make_context(services: Services, subject: str) -> Context:
    return Context(services=services, broker=None, caller=Caller(subject=subject))  # type: ignore[arg-type]


async def seed(subject: str, count: int) -> None:
    user = await User.create(subject=subject)
    base = datetime.now(UTC)
    for i in range(count):
        recording = await Recording.create(
            id=uuid.uuid4(),
            owner=user,
            metadata={"intent": "x"},
            video_content_type="video/webm",
            status="analyzed",
            created_at=base - timedelta(seconds=i),
        )
        job = f"job-{uuid.uuid4().hex}"
        evidence = [
            {"id": f"ev-{p}", "type": "action", "timestamp": p, "detail": "click", "data": {}}
            for p in range(3)
        ] + [
            {
                "id": "ev-ocr-0",
                "type": "ocr",
                "timestamp": 1.0,
                "detail": "screen shows 'Error'",
                "data": {"text": "Error", "box": {"x": 1, "y": 2, "w": 30, "h": 10}},
            }
        ]
        await Analysis.create(
            id=job,
            recording=recording,
            status="analyzed",
            summary="s",
            key_findings=["k"],
            evidence=evidence,
        )
        for p in range(2):
            await AnalysisFrame.create(
                analysis_id=job,
                position=p,
                timestamp=float(p),
                description="d",
                text="t",
                thumbnail_key=f"thumbs/{job}/{p}.jpg",
            )
        await Finding.create(
            analysis_id=job,
            position=0,
            data={
                "kind": "screen_error",
                "severity": "high",
                "timestamp": 1.0,
                "confidence": "medium",
                "evidenceIds": ["ev-ocr-0", "ev-0"],
                "title": "The screen showed 'Error'",
            },
        )
        recording.current_analysis_id = job
        await recording.save()
        for p in range(3):
            await AnalysisSection.create(
                analysis_id=job,
                position=p,
                title=f"t{p}",
                timestamp=p,
                end_timestamp=p + 1,
                description="d",
                citations=[
                    {
                        "type": "user_action",
                        "timestamp": p,
                        "evidenceId": f"ev-{p}",
                        "detail": "click",
                    }
                ],
            )


async def count_queries(monkeypatch, schema, query: str, context: Context) -> tuple[int, dict]:
    executed: list[str] = []
    original_query, original_dict = (
        AsyncpgDBClient.execute_query,
        AsyncpgDBClient.execute_query_dict,
    )

    async def execute_query(self, sql, values=None):  # type: ignore[no-untyped-def]
        executed.append(sql)
        return await original_query(self, sql, values)

    async def execute_query_dict(self, sql, values=None):  # type: ignore[no-untyped-def]
        executed.append(sql)
        return await original_dict(self, sql, values)

    monkeypatch.setattr(AsyncpgDBClient, "execute_query", execute_query)
    monkeypatch.setattr(AsyncpgDBClient, "execute_query_dict", execute_query_dict)
    result = await schema.execute(query, context_value=context)
    monkeypatch.undo()
    assert result.errors is None, result.errors
    return len(executed), result.data  # type: ignore[return-value]


async def test_listing_50_recordings_with_sections_is_a_bounded_number_of_queries(
    orm, monkeypatch, tmp_path
):
    schema = build_schema(orm.settings)
    await seed("few", 3)
    await seed("many", 50)
    few, _data_few = await count_queries(monkeypatch, schema, LIST, make_context(orm, "few"))
    many, data_many = await count_queries(monkeypatch, schema, LIST, make_context(orm, "many"))
    assert len(data_many["recordings"]["edges"]) == 50
    assert all(
        len(e["node"]["analysis"]["sections"]) == 3 for e in data_many["recordings"]["edges"]
    )
    assert all(
        e["node"]["summary"]["keyFindings"] == ["k"] for e in data_many["recordings"]["edges"]
    )
    assert data_many["recordings"]["totalCount"] == 50
    node = data_many["recordings"]["edges"][0]["node"]
    finding = node["analysis"]["findings"][0]
    assert [e["id"] for e in finding["evidence"]] == ["ev-ocr-0", "ev-0"]
    assert finding["evidence"][0]["screenText"] == {"text": "Error", "box": {"x": 1, "width": 30}}
    assert finding["evidence"][0]["frame"] == {"timestamp": 1.0}
    assert finding["evidence"][1]["type"] == "action" and finding["evidence"][1]["frame"] is None
    citations = node["analysis"]["sections"][2]["citations"]
    assert citations == [{"type": "user_action", "evidenceId": "ev-2", "evidence": {"id": "ev-2"}}]
    assert len(node["analysis"]["evidence"]) == 4
    assert node["thumbnailUrl"] is not None
    assert many == few, (few, many)  # the count does not grow with the number of recordings
    assert many <= 12


async def test_query_depth_is_limited(orm, tmp_path):
    schema = build_schema(orm.settings)
    deep = "{ recordings { edges { node { analysis { sections { citations { type } } } } } } }"
    deeper = (
        "{ recordings { pageInfo { hasNextPage } edges { node { analysis { sections { citations { "
        "type } } } } } } }"
    )
    too_deep = (
        "query { recordings { edges { node { analysis { sections { citations { type } } } } } } "
        "x: recordings { edges { node { analysis { sections { title } } } } } }"
    )
    ok = await schema.execute(deep, context_value=make_context(orm, "d"))
    assert ok.errors is None
    assert (await schema.execute(deeper, context_value=make_context(orm, "d"))).errors is None
    limited = build_schema(orm.settings.model_copy(update={"graphql_max_depth": 4}))
    result = await limited.execute(too_deep, context_value=make_context(orm, "d"))
    assert result.errors and "exceeds maximum operation depth" in result.errors[0].message

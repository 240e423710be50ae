"""DataLoaders, made fresh per request: one per concern, each a single query per batch."""

from __future__ import annotations

import uuid
from collections.abc import Sequence

from strawberry.dataloader import DataLoader

from app.analysis import repository
from app.analysis.models import Analysis
from app.analysis.repository import StoredFrame
from app.pipeline.documents import (
    ResultEvidence,
    ResultFinding,
    ResultSection,
    ResultTranscriptSegment,
)
from app.recordings import repository as recordings_repository
from app.recordings.models import RecordingCapture


async def _latest(keys: Sequence[uuid.UUID]) -> list[Analysis | None]:
    found = await repository.latest_for_recordings(keys)
    return [found.get(key) for key in keys]


async def _analyses(keys: Sequence[str]) -> list[Analysis | None]:
    found = {a.id: a for a in await repository.analyses_by_id(keys)}
    return [found.get(key) for key in keys]


async def _captures(keys: Sequence[uuid.UUID]) -> list[RecordingCapture | None]:
    found = await recordings_repository.captures_of(list(keys))
    return [found.get(key) for key in keys]


async def _sections(keys: Sequence[str]) -> list[list[ResultSection]]:
    found = await repository.sections_of(keys)
    return [found.get(key, []) for key in keys]


async def _frames(keys: Sequence[str]) -> list[list[StoredFrame]]:
    found = await repository.frames_of(keys)
    return [found.get(key, []) for key in keys]


async def _transcript(keys: Sequence[str]) -> list[list[ResultTranscriptSegment]]:
    found = await repository.transcript_of(keys)
    return [found.get(key, []) for key in keys]


async def _findings(keys: Sequence[str]) -> list[list[ResultFinding]]:
    found = await repository.findings_of(keys)
    return [found.get(key, []) for key in keys]


async def _evidence(keys: Sequence[str]) -> list[dict[str, ResultEvidence]]:
    found = await repository.evidence_by_analysis(keys)
    return [found.get(key, {}) for key in keys]


class Loaders:
    def __init__(self) -> None:
        self.capture: DataLoader[uuid.UUID, RecordingCapture | None] = DataLoader(_captures)
        self.latest_analysis: DataLoader[uuid.UUID, Analysis | None] = DataLoader(_latest)
        self.analysis: DataLoader[str, Analysis | None] = DataLoader(_analyses)
        self.sections: DataLoader[str, list[ResultSection]] = DataLoader(_sections)
        self.frames: DataLoader[str, list[StoredFrame]] = DataLoader(_frames)
        self.transcript: DataLoader[str, list[ResultTranscriptSegment]] = DataLoader(_transcript)
        self.findings: DataLoader[str, list[ResultFinding]] = DataLoader(_findings)
        # Each analysis's evidence by id, for the citations and findings that point at it.
        self.evidence: DataLoader[str, dict[str, ResultEvidence]] = DataLoader(_evidence)

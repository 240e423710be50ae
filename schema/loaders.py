"""DataLoaders, made fresh per request: one per concern, each a single query per batch."""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from typing import Any

from strawberry.dataloader import DataLoader

from app.analysis import repository
from app.analysis.models import Analysis, AnalysisFrame, AnalysisSection, Finding, TranscriptSegment
from app.recordings import repository as recordings_repository
from app.recordings.models import RecordingCapture


def _grouped(rows: Sequence[Any], keys: Sequence[str]) -> list[list[Any]]:
    groups: dict[str, list[Any]] = defaultdict(list)
    for row in rows:
        groups[row.analysis_id].append(row)
    return [groups.get(key, []) for key in keys]


async def _latest(keys: Sequence[uuid.UUID]) -> list[Analysis | None]:
    found = await repository.latest_for_recordings(keys)
    return [found.get(key) for key in keys]


async def _analyses(keys: Sequence[str]) -> list[Analysis | None]:
    found = {a.id: a for a in await repository.analyses_by_id(keys)}
    return [found.get(key) for key in keys]


async def _captures(keys: Sequence[uuid.UUID]) -> list[RecordingCapture | None]:
    found = await recordings_repository.captures_of(list(keys))
    return [found.get(key) for key in keys]


async def _sections(keys: Sequence[str]) -> list[list[AnalysisSection]]:
    return _grouped(await repository.sections_for(keys), keys)


async def _frames(keys: Sequence[str]) -> list[list[AnalysisFrame]]:
    return _grouped(await repository.frames_for(keys), keys)


async def _transcript(keys: Sequence[str]) -> list[list[TranscriptSegment]]:
    return _grouped(await repository.transcript_for(keys), keys)


async def _findings(keys: Sequence[str]) -> list[list[Finding]]:
    return _grouped(await repository.findings_for(keys), keys)


class Loaders:
    def __init__(self) -> None:
        self.capture: DataLoader[uuid.UUID, RecordingCapture | None] = DataLoader(_captures)
        self.latest_analysis: DataLoader[uuid.UUID, Analysis | None] = DataLoader(_latest)
        self.analysis: DataLoader[str, Analysis | None] = DataLoader(_analyses)
        self.sections: DataLoader[str, list[AnalysisSection]] = DataLoader(_sections)
        self.frames: DataLoader[str, list[AnalysisFrame]] = DataLoader(_frames)
        self.transcript: DataLoader[str, list[TranscriptSegment]] = DataLoader(_transcript)
        self.findings: DataLoader[str, list[Finding]] = DataLoader(_findings)

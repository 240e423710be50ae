"""GraphQL enums for every closed vocabulary the API answers with.

Each value's GraphQL name is the very string REST and the stored rows use (``analyzed``,
``console_error``): clients that read these fields as strings before they were enums read the
same words, and a typed client gets the closed set. They are made from the vocabularies where
they are defined (the models' status enums, the engine's stages, the typed result's literals),
so a value added there is added here.
"""

from __future__ import annotations

from enum import Enum
from typing import Any, TypeVar, get_args

import strawberry

from app.analysis.models import AnalysisStatus as AnalysisStatusValues
from app.pipeline import documents
from app.pipeline.progress import STAGES
from app.recordings.models import RecordingStatus as RecordingStatusValues
from app.recordings.models import UploadStatus as UploadStatusValues


def _enum(name: str, values: Any, description: str) -> Any:
    members = {str(v): str(v) for v in values}
    return strawberry.enum(Enum(name, members), description=description)  # type: ignore[call-overload]


RecordingStatus = _enum(
    "RecordingStatus", [s.value for s in RecordingStatusValues], "Where a recording stands."
)
UploadStatus = _enum(
    "UploadStatus", [s.value for s in UploadStatusValues], "Whether the video has arrived."
)
AnalysisStatus = _enum(
    "AnalysisStatus", [s.value for s in AnalysisStatusValues], "Where one analysis stands."
)
Stage = _enum(
    "Stage", ["queued", *STAGES], "The stage an analysis is in (queued: waiting for a worker)."
)
FindingKind = _enum(
    "FindingKind", get_args(documents.FindingKind), "What kind of problem a finding is."
)
Severity = _enum("Severity", get_args(documents.Severity), "How bad a finding is.")
Confidence = _enum(
    "Confidence", get_args(documents.Confidence), "How sure the analysis is of a finding."
)
CitationType = _enum(
    "CitationType", get_args(documents.CitationType), "What a section's citation points at."
)
EvidenceType = _enum(
    "EvidenceType", get_args(documents.EvidenceType), "Where a piece of evidence came from."
)

E = TypeVar("E", bound=Enum)


def of(enum: type[E], value: str) -> E:
    """The member for a stored value."""
    return enum(value)


def maybe(enum: type[E], value: str | None) -> E | None:
    return None if value is None else enum(value)

"""The shapes of what clients send: validated with pydantic, then stored exactly as sent."""

from __future__ import annotations

from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError, field_validator

from app.errors import InvalidInput

VIDEO_CONTENT_TYPES = ("video/webm", "video/mp4", "video/quicktime")
EXTENSIONS = {"video/webm": "webm", "video/mp4": "mp4", "video/quicktime": "mov"}

NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class _Open(BaseModel):
    """Recorders send more than we name; what they send is kept."""

    model_config = ConfigDict(extra="allow", strict=True)


class Metadata(_Open):
    version: StrictStr
    duration: NonNegative
    url: StrictStr
    title: StrictStr
    intent: StrictStr
    features: list[StrictStr]
    visitedUrls: list[StrictStr]
    startedAt: Annotated[int, Field(ge=0)] | None = None
    sessionId: Annotated[str, Field(max_length=255)] | None = None


class Action(_Open):
    type: Annotated[str, Field(min_length=1, max_length=64)]
    timestamp: NonNegative


class ConsoleLog(_Open):
    timestamp: NonNegative | None = None
    message: Any = None


class NetworkRequest(_Open):
    timestamp: NonNegative | None = None
    url: StrictStr | None = None


class BrowserState(_Open):
    consoleLogs: list[ConsoleLog] = []
    networkRequests: list[NetworkRequest] = []


class CreateRecording(BaseModel):
    """Body of ``POST /api/feedback/recordings``."""

    model_config = ConfigDict(extra="forbid", strict=True)

    metadata: Metadata
    actions: list[Action] = []
    browserState: BrowserState = BrowserState()
    elements: list[dict[str, Any]] | None = None
    videoContentType: StrictStr = "video/webm"
    sessionId: Annotated[str, Field(min_length=1, max_length=255)] | None = None

    @field_validator("videoContentType")
    @classmethod
    def _base_type(cls, value: str) -> str:
        base = normalise_content_type(value)
        if base not in VIDEO_CONTENT_TYPES:
            raise ValueError(f"must be one of {', '.join(VIDEO_CONTENT_TYPES)}")
        return base


def normalise_content_type(value: str) -> str:
    """``video/webm;codecs=vp9,opus`` → ``video/webm``."""
    return value.split(";", 1)[0].strip().lower()


def field_path(loc: tuple[int | str, ...]) -> str:
    """pydantic's error location as ``actions[3].timestamp``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += f".{part}" if out else str(part)
    return out


def _nul_paths(value: Any, path: tuple[int | str, ...] = ()) -> list[tuple[int | str, ...]]:
    """Where a NUL character (``\\u0000``) hides in a JSON value: PostgreSQL cannot store it."""
    if isinstance(value, str):
        return [path] if "\x00" in value else []
    if isinstance(value, dict):
        found = []
        for key, item in value.items():
            if "\x00" in key:
                found.append((*path, key))
            found += _nul_paths(item, (*path, key))
        return found
    if isinstance(value, list):
        return [p for i, item in enumerate(value) for p in _nul_paths(item, (*path, i))]
    return []


def validate_create(body: Any) -> CreateRecording:
    """Validate a create body; every bad field is named in one :class:`InvalidInput`."""
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON object", field="body")
    if nul := _nul_paths(body):
        details = [{"field": field_path(p) or "body", "message": "contains a NUL character (\\u0000)"}
                   for p in nul[:20]]
        raise InvalidInput(f"{details[0]['field']}: contains a NUL character (\\u0000), which cannot be stored",
                           field=details[0]["field"], details=details)
    try:
        return CreateRecording.model_validate(body)
    except ValidationError as exc:
        details = [
            {"field": field_path(err["loc"]), "message": err["msg"]}
            for err in exc.errors(include_url=False)
        ]
        first = details[0]
        summary = "; ".join(f"{d['field']}: {d['message']}" for d in details[:10])
        raise InvalidInput(summary, field=first["field"], details=details) from None

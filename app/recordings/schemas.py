"""The shapes of what clients send: validated with pydantic, then stored exactly as sent."""

from __future__ import annotations

import math
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError, field_validator

from app.errors import InvalidInput, PayloadTooLarge

VIDEO_CONTENT_TYPES = ("video/webm", "video/mp4", "video/quicktime")

NonNegative = Annotated[float, Field(ge=0, allow_inf_nan=False)]


class _Open(BaseModel):
    """Recorders send more than we name; what they send is kept."""

    model_config = ConfigDict(extra="allow", strict=True)


# What one create body may hold. A recorder's hour-long session stays far below each; past
# them a body costs the API more than one request should (see app.recordings.intake).
MAX_ACTIONS = 100_000
MAX_CONSOLE_LOGS = 100_000
MAX_NETWORK_REQUESTS = 100_000
MAX_ELEMENTS = 100_000
MAX_FEATURES = 1_000
MAX_VISITED_URLS = 10_000
MAX_VALUES = 2_000_000
"""JSON values (objects, arrays, strings, numbers, booleans, nulls) in a whole body."""
MAX_METADATA_VALUES = 10_000
"""JSON values in ``metadata``, which is stored with the recording's row and read with it."""


class Metadata(_Open):
    version: StrictStr
    duration: NonNegative
    url: StrictStr
    title: StrictStr
    intent: StrictStr
    features: Annotated[list[StrictStr], Field(max_length=MAX_FEATURES)]
    visitedUrls: Annotated[list[StrictStr], Field(max_length=MAX_VISITED_URLS)]
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
    consoleLogs: Annotated[list[ConsoleLog], Field(max_length=MAX_CONSOLE_LOGS)] = []
    networkRequests: Annotated[list[NetworkRequest], Field(max_length=MAX_NETWORK_REQUESTS)] = []


class CreateRecording(BaseModel):
    """Body of ``POST /api/feedback/recordings``.

    At most 2,000,000 JSON values in all (413 beyond), 10,000 of them in ``metadata`` (413).
    """

    model_config = ConfigDict(extra="forbid", strict=True)

    metadata: Metadata
    actions: Annotated[list[Action], Field(max_length=MAX_ACTIONS)] = []
    browserState: BrowserState = BrowserState()
    elements: Annotated[list[dict[str, Any]], Field(max_length=MAX_ELEMENTS)] | None = None
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
    """pydantic's error location as ``actions[3].timestamp``; a name that is no text (an
    unpaired surrogate) is written with its escape, so that the answer can be encoded."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            name = str(part).encode("utf-8", "backslashreplace").decode("utf-8")
            out += f".{name}" if out else name
    return out


MAX_DEPTH = 512
"""How deeply a body may nest arrays and objects. Python's parser stops near 1,000, at a depth
that depends on the stack it runs in: a body the API read at 990 might not be read back in a
worker. 512 leaves room, and is more than a serialised DOM tree needs."""


def _text_problem(text: str) -> str | None:
    if "\x00" in text:
        return "contains a NUL character (\\u0000), which cannot be stored"
    if not text.isascii():
        try:
            text.encode("utf-8")
        except UnicodeEncodeError:
            return "contains an unpaired surrogate (a \\ud800-\\udfff escape), which is not text"
    return None


def count_values(body: Any) -> int:
    """How many JSON values ``body`` holds, itself included (walked without recursion)."""
    count = 1
    stack: list[Any] = [body]
    while stack:
        value = stack.pop()
        items = value.values() if isinstance(value, dict) else value
        count += len(items)
        stack.extend(item for item in items if type(item) is dict or type(item) is list)
    return count


def _clean(body: Any) -> bool:
    """Whether nothing in ``body`` is unstorable: one quick pass that keeps no paths.

    Scalars are checked where they sit and only containers are stacked, so a 30 MiB body
    takes a fraction of what a walk recording every value's path does; that walk runs only to
    name what this pass found.
    """
    # Each container with the length of its path; the body sits in a list of its own.
    stack: list[tuple[dict[str, Any] | list[Any], int]] = [([body], -1)]
    while stack:
        value, depth = stack.pop()
        if isinstance(value, dict):
            if any("\x00" in key or (not key.isascii() and _text_problem(key)) for key in value):
                return False
            items: Any = value.values()
        else:
            items = value
        for item in items:
            kind = type(item)
            if kind is str:
                if "\x00" in item or (not item.isascii() and _text_problem(item)):
                    return False
            elif kind is dict or kind is list:
                if depth + 1 >= MAX_DEPTH:
                    return False
                stack.append((item, depth + 1))
            elif kind is float and not math.isfinite(item):
                return False
    return True


def unstorable(body: Any, limit: int = 20) -> list[dict[str, str]]:
    """What in a decoded JSON value PostgreSQL's ``jsonb`` cannot hold, each with its field.

    NUL characters, unpaired UTF-16 surrogates (``"\\ud800"`` decodes in Python but is no
    text), NaN and infinities (Python's ``json`` reads them; JSON has no such numbers) and
    nesting deeper than :data:`MAX_DEPTH`. Walked without recursion, whatever the depth.
    """
    if _clean(body):
        return []
    found: list[dict[str, str]] = []
    stack: list[tuple[Any, tuple[int | str, ...]]] = [(body, ())]
    while stack and len(found) < limit:
        value, path = stack.pop()
        problem: str | None = None
        if isinstance(value, str):
            problem = _text_problem(value)
        elif isinstance(value, float):
            problem = (
                None if math.isfinite(value) else "is NaN or infinite, which JSON does not allow"
            )
        elif isinstance(value, dict | list) and len(path) >= MAX_DEPTH:
            found.append(
                {"field": field_path(path[:2]), "message": f"nests deeper than {MAX_DEPTH} levels"}
            )
            continue
        elif isinstance(value, dict):
            for key, item in reversed(value.items()):
                if (key_problem := _text_problem(key)) is not None:
                    found.append(
                        {"field": field_path((*path, key)), "message": f"its name {key_problem}"}
                    )
                stack.append((item, (*path, key)))
        elif isinstance(value, list):
            stack.extend((item, (*path, i)) for i, item in reversed(list(enumerate(value))))
        if problem is not None:
            found.append({"field": field_path(path) or "body", "message": problem})
    return found[:limit]


def validate_create(body: Any) -> CreateRecording:
    """Validate a create body; every bad field is named in one :class:`InvalidInput`.

    A body over :data:`MAX_VALUES` values, or with a ``metadata`` over
    :data:`MAX_METADATA_VALUES`, is a :class:`PayloadTooLarge`.
    """
    if not isinstance(body, dict):
        raise InvalidInput("the body must be a JSON object", field="body")
    if (values := count_values(body)) > MAX_VALUES:
        raise PayloadTooLarge(
            f"the body holds {values} JSON values; the limit is {MAX_VALUES}", field="body"
        )
    metadata = body.get("metadata")
    if (
        isinstance(metadata, dict | list)
        and (values := count_values(metadata)) > MAX_METADATA_VALUES
    ):
        raise PayloadTooLarge(
            f"metadata holds {values} JSON values; the limit is {MAX_METADATA_VALUES}",
            field="metadata",
        )
    if details := unstorable(body):
        first = details[0]
        raise InvalidInput(
            f"{first['field']}: {first['message']}", field=first["field"], details=details
        )
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

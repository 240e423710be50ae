"""Typed inputs: what a recorder sends, as GraphQL input objects.

``CreateRecordingInput`` mirrors the REST create body field for field (its GraphQL names are the
body's camelCase keys). A typed input becomes that very body (:meth:`CreateRecordingInput.body`)
and goes through the same validation as REST, so the two refuse the same things with the same
field names. What recorders may extend stays open: every object takes ``extra`` (JSON merged into
it, for fields this schema does not name), and an element snapshot is JSON as a whole.
"""

from __future__ import annotations

from typing import Any

import strawberry
from strawberry.scalars import JSON

UNSET: Any = strawberry.UNSET


def _fields(obj: object, names: dict[str, str]) -> dict[str, Any]:
    """The set fields of an input object under their body names, then its ``extra``."""
    out: dict[str, Any] = {}
    extra = getattr(obj, "extra", None)
    if isinstance(extra, dict):
        out.update(extra)
    for attr, key in names.items():
        value = getattr(obj, attr)
        if value is not UNSET:
            out[key] = value
    return out


@strawberry.input(description="The recorder's facts about the session.")
class RecordingMetadataInput:
    version: str
    duration: float = strawberry.field(description="Seconds.")
    url: str
    title: str
    intent: str = strawberry.field(description="What the user was trying to do, in their words.")
    features: list[str] = strawberry.field(default_factory=list)
    visited_urls: list[str] = strawberry.field(default_factory=list)
    # A Float: milliseconds since the epoch do not fit GraphQL's 32-bit Int.
    started_at: float | None = strawberry.field(
        default=UNSET, description="When recording started, in milliseconds since the epoch."
    )
    session_id: str | None = UNSET
    extra: JSON | None = strawberry.field(default=None, description="More fields, kept as sent.")

    def body(self) -> dict[str, Any]:
        out = _fields(
            self,
            {
                "version": "version",
                "duration": "duration",
                "url": "url",
                "title": "title",
                "intent": "intent",
                "features": "features",
                "visited_urls": "visitedUrls",
                "started_at": "startedAt",
                "session_id": "sessionId",
            },
        )
        started = out.get("startedAt")
        if isinstance(started, float) and started.is_integer():
            out["startedAt"] = int(started)  # stored as a recorder sends it: an integer
        return out


@strawberry.input(description="One user action: a navigation, click, input, key press, scroll...")
class ActionInput:
    type: str
    timestamp: float = strawberry.field(description="Seconds from the start of the video.")
    url: str | None = UNSET
    title: str | None = UNSET
    selector: str | None = UNSET
    text: str | None = UNSET
    value: str | None = UNSET
    key: str | None = UNSET
    x: float | None = UNSET
    y: float | None = UNSET
    extra: JSON | None = strawberry.field(default=None, description="More fields, kept as sent.")

    def body(self) -> dict[str, Any]:
        names = ("type", "timestamp", "url", "title", "selector", "text", "value", "key", "x", "y")
        return _fields(self, {n: n for n in names})


@strawberry.input(description="One console message.")
class ConsoleLogInput:
    level: str | None = UNSET
    message: JSON | None = UNSET
    timestamp: float | None = UNSET
    url: str | None = UNSET
    line: int | None = UNSET
    column: int | None = UNSET
    extra: JSON | None = strawberry.field(default=None, description="More fields, kept as sent.")

    def body(self) -> dict[str, Any]:
        names = ("level", "message", "timestamp", "url", "line", "column")
        return _fields(self, {n: n for n in names})


@strawberry.input(description="One network request.")
class NetworkRequestInput:
    method: str | None = UNSET
    url: str | None = UNSET
    status: int | None = UNSET
    status_text: str | None = UNSET
    duration_ms: float | None = UNSET
    timestamp: float | None = UNSET
    resource_type: str | None = UNSET
    request_size: int | None = UNSET
    response_size: int | None = UNSET
    headers: JSON | None = UNSET
    extra: JSON | None = strawberry.field(default=None, description="More fields, kept as sent.")

    def body(self) -> dict[str, Any]:
        return _fields(
            self,
            {
                "method": "method",
                "url": "url",
                "status": "status",
                "status_text": "statusText",
                "duration_ms": "durationMs",
                "timestamp": "timestamp",
                "resource_type": "resourceType",
                "request_size": "requestSize",
                "response_size": "responseSize",
                "headers": "headers",
            },
        )


@strawberry.input(description="What the browser logged while recording.")
class BrowserStateInput:
    console_logs: list[ConsoleLogInput] = strawberry.field(default_factory=list)
    network_requests: list[NetworkRequestInput] = strawberry.field(default_factory=list)
    extra: JSON | None = strawberry.field(default=None, description="More fields, kept as sent.")

    def body(self) -> dict[str, Any]:
        out = _fields(self, {})
        out["consoleLogs"] = [c.body() for c in self.console_logs]
        out["networkRequests"] = [n.body() for n in self.network_requests]
        return out


@strawberry.input(description="A recording as a recorder submits it (the REST create body).")
class CreateRecordingInput:
    metadata: RecordingMetadataInput
    actions: list[ActionInput] = strawberry.field(default_factory=list)
    browser_state: BrowserStateInput | None = UNSET
    elements: list[JSON] | None = strawberry.field(
        default=UNSET,
        description="Element snapshots (selector, tagName, text, attributes, boundingBox).",
    )
    video_content_type: str | None = strawberry.field(
        default=UNSET, description="The type of the video to come (default video/webm)."
    )
    session_id: str | None = UNSET

    def body(self) -> dict[str, Any]:
        """The REST create body this input stands for."""
        out: dict[str, Any] = {
            "metadata": self.metadata.body(),
            "actions": [a.body() for a in self.actions],
        }
        if self.browser_state not in (UNSET, None):
            assert self.browser_state is not None
            out["browserState"] = self.browser_state.body()
        for attr, key in (
            ("elements", "elements"),
            ("video_content_type", "videoContentType"),
            ("session_id", "sessionId"),
        ):
            value = getattr(self, attr)
            if value is not UNSET:
                out[key] = value
        return out

"""Parse the recorder's JSON (``create.json``) into typed, time-normalised events.

The recorder is a browser extension we do not control, so every field is
treated as untrusted: a malformed event is skipped and counted, never fatal.
Event timestamps are milliseconds from the start of the recording, or epoch
milliseconds when they are at or after ``metadata.startedAt``; everything
this module returns is float seconds from the start of the video.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from app.pipeline.types import Box


@dataclass(frozen=True, kw_only=True, slots=True)
class UserAction:
    """One user action: navigate, click, input, scroll, keypress (or another type)."""

    index: int  # position in the recorder's ``actions`` list (stable evidence id)
    type: str
    time: float
    selector: str | None = None
    text: str | None = None  # the element's visible label as the recorder saw it
    x: float | None = None
    y: float | None = None
    url: str | None = None
    value: str | None = None
    title: str | None = None
    key: str | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class ConsoleEntry:
    index: int
    level: str  # lower-case: error, warn, info, log, debug, ...
    message: str
    time: float
    url: str | None = None
    line: int | None = None
    column: int | None = None

    @property
    def is_error(self) -> bool:
        """Errors and uncaught exceptions, whatever the recorder called the level."""
        return self.level in {"error", "exception", "fatal", "uncaught", "assert"}


@dataclass(frozen=True, kw_only=True, slots=True)
class NetworkEntry:
    index: int
    method: str
    url: str
    status: int  # 0 means the request never got a response (network error)
    time: float
    duration: float | None = None  # seconds
    resource_type: str | None = None
    status_text: str | None = None

    @property
    def failed(self) -> bool:
        """A network error (no status) or an HTTP error status."""
        return self.status == 0 or self.status >= 400

    @property
    def path(self) -> str:
        """The URL without scheme and host, for short human-readable labels."""
        parts = urlsplit(self.url)
        return parts.path or self.url


@dataclass(frozen=True, kw_only=True, slots=True)
class ElementSnapshot:
    selector: str
    tag: str
    text: str
    attributes: Mapping[str, str] = field(default_factory=dict)
    box: Box | None = None


@dataclass(frozen=True, kw_only=True, slots=True)
class PageVisit:
    url: str
    title: str
    start: float
    end: float


@dataclass(frozen=True, kw_only=True, slots=True)
class Capture:
    """Everything the recorder captured, typed and on the video's time axis."""

    version: str
    duration: float | None
    url: str | None
    title: str | None
    intent: str | None
    features: tuple[str, ...]
    visited_urls: tuple[str, ...]
    started_at: float | None  # epoch ms
    actions: tuple[UserAction, ...]
    console: tuple[ConsoleEntry, ...]
    network: tuple[NetworkEntry, ...]
    elements: tuple[ElementSnapshot, ...]
    pages: tuple[PageVisit, ...]
    skipped: int  # malformed events dropped while parsing
    viewport_width: float | None = None  # CSS px, when the recorder sent it
    pixel_ratio: float | None = None  # devicePixelRatio, when the recorder sent it
    by_selector: Mapping[str, ElementSnapshot] = field(default_factory=dict)  # first snapshot wins

    def page_at(self, t: float) -> PageVisit | None:
        """The page on screen at time ``t`` (the last visit that started at or before it)."""
        current = None
        for page in self.pages:
            if page.start <= t + 1e-6:
                current = page
        return current or (self.pages[0] if self.pages else None)

    def page_name(self, page: PageVisit | None) -> str:
        """A short human name for a page: its title without the site name, else its path.

        Titles usually read "Pricing — Acme"; the part shared by every title is
        the site's name, so a page titled only by it is named by its path
        ("home page" for "/").
        """
        if page is None:
            return "an unknown page"
        path = urlsplit(page.url).path or "/"
        parts = _title_parts(page.title) if page.title else []
        site = self.site_name()
        if parts and parts[0] != site:
            return parts[0]
        if path == "/":
            return "the home page"
        own = [part for part in parts if part != site]
        return own[0] if own else path

    def site_name(self) -> str | None:
        """The part every page title shares ("Acme Cloud" in "Pricing — Acme Cloud"), if any."""
        titled = [_title_parts(p.title) for p in self.pages if p.title]
        if len(titled) < 2:
            return None
        common = set(titled[0]).intersection(*map(set, titled[1:]))
        return next(iter(common)) if len(common) == 1 else None

    def css_to_video(self, video_width: int) -> float:
        """Factor from the page's CSS pixels (clicks, element boxes) to video pixels.

        From the viewport width when the recorder sent it, else the device
        pixel ratio, else 1 (a tab capture at 100 % zoom).
        """
        if self.viewport_width:
            return video_width / self.viewport_width
        return self.pixel_ratio or 1.0

    def element(self, selector: str | None) -> ElementSnapshot | None:
        """The DOM snapshot captured for ``selector``, if the recorder sent one."""
        return self.by_selector.get(selector) if selector else None

    def vocabulary(self, limit: int = 60) -> tuple[str, ...]:
        """Words and short phrases likely to be spoken: titles, labels, URL path words.

        Transcription runs concurrently with OCR, so its hints can only come
        from what the recorder captured.
        """
        phrases: list[str] = []
        for page in self.pages:
            phrases.extend(_title_parts(page.title))
        if self.title:
            phrases.extend(_title_parts(self.title))
        for action in self.actions:
            if action.text:
                phrases.append(action.text)
        for element in self.elements:
            if element.text:
                phrases.append(element.text)
        for url in (*self.visited_urls, *(p.url for p in self.pages)):
            for word in re.split(r"[/\-_.?=&]+", urlsplit(url).path):
                if len(word) > 2 and word.isalpha():
                    phrases.append(word)
        seen: set[str] = set()
        out: list[str] = []
        for phrase in phrases:
            phrase = " ".join(phrase.split())
            key = phrase.lower()
            # Long strings (FAQ questions, paragraphs) are poor hints.
            if not phrase or key in seen or len(phrase) > 40:
                continue
            seen.add(key)
            out.append(phrase)
            if len(out) >= limit:
                break
        return tuple(out)


def _strip(url: str) -> str:
    """A URL without its fragment: "#section" jumps are not page changes."""
    return url.split("#", 1)[0]


def _title_parts(title: str) -> list[str]:
    return [part.strip() for part in re.split(r"\s+[—–|\-·:]\s+", title) if part.strip()]


def _number(value: Any) -> float | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value) if math.isfinite(value) else None
    if isinstance(value, str):
        try:
            parsed = float(value.strip())
        except ValueError:
            return None
        return parsed if math.isfinite(parsed) else None
    return None


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


EPOCH_MS = 1e11
"""Timestamps from here on are epoch milliseconds (1973 onwards), not offsets."""
EARLY_TOLERANCE_MS = 5000.0
"""Events this little before the start (clock skew, a request in flight) count as at 0."""


def to_seconds(timestamp: Any, started_at: float | None) -> float | None:
    """Convert a recorder timestamp to seconds from the start of the video.

    Timestamps at or after ``started_at`` (or epoch-sized ones) are epoch ms;
    smaller ones are ms from the start. Returns None for anything that is not
    a usable number or lies well before the recording.
    """
    ms = _number(timestamp)
    if ms is None:
        return None
    if started_at is not None and (ms >= started_at or ms >= EPOCH_MS):
        ms -= started_at
    elif ms >= EPOCH_MS:
        return None  # an absolute time without a start to measure it from
    if ms < 0:
        return 0.0 if ms >= -EARLY_TOLERANCE_MS else None
    return ms / 1000.0


def _positive(value: Any) -> float | None:
    number = _number(value)
    return number if number is not None and number > 0 else None


def _viewport_width(meta: Mapping[str, Any]) -> float | None:
    viewport = meta.get("viewport")
    if isinstance(viewport, Mapping):
        return _positive(viewport.get("width"))
    return _positive(meta.get("viewportWidth"))


def _earliest_epoch(data: Mapping[str, Any]) -> float | None:
    """Without ``startedAt``, epoch timestamps are measured from the earliest event."""
    state = data.get("browserState")
    state = state if isinstance(state, Mapping) else {}
    events = [
        *_items(data.get("actions")),
        *_items(state.get("consoleLogs")),
        *_items(state.get("networkRequests")),
    ]
    stamps = [
        ms
        for item in events
        if isinstance(item, Mapping)
        if (ms := _number(item.get("timestamp"))) is not None and ms >= EPOCH_MS
    ]
    return min(stamps) if stamps else None


def _items(value: Any) -> list[Mapping[str, Any]]:
    if not isinstance(value, list):
        return []
    return value


def parse_capture(raw: Any) -> Capture:
    """Parse the recorder JSON (already decoded) into a :class:`Capture`.

    Never raises for odd content: malformed events are skipped and counted in
    ``Capture.skipped``. A non-object top level yields an empty capture.
    """
    data: Mapping[str, Any] = raw if isinstance(raw, Mapping) else {}
    meta = data.get("metadata")
    meta = meta if isinstance(meta, Mapping) else {}
    started_at = _number(meta.get("startedAt"))
    if started_at is not None and started_at <= 0:
        started_at = None
    if started_at is None:
        started_at = _earliest_epoch(data)
    duration = _number(meta.get("duration"))
    skipped = 0

    actions: list[UserAction] = []
    for index, item in enumerate(_items(data.get("actions"))):
        if not isinstance(item, Mapping):
            skipped += 1
            continue
        time = to_seconds(item.get("timestamp"), started_at)
        kind = _text(item.get("type"))
        if time is None or not kind:
            skipped += 1
            continue
        actions.append(
            UserAction(
                index=index,
                type=kind.lower(),
                time=time,
                selector=_text(item.get("selector")),
                text=_text(item.get("text")),
                x=_number(item.get("x")),
                y=_number(item.get("y")),
                url=_text(item.get("url")),
                value=_text(item.get("value")),
                title=_text(item.get("title")),
                key=_text(item.get("key")),
            )
        )

    state = data.get("browserState")
    state = state if isinstance(state, Mapping) else {}

    console: list[ConsoleEntry] = []
    for index, item in enumerate(_items(state.get("consoleLogs"))):
        if not isinstance(item, Mapping):
            skipped += 1
            continue
        time = to_seconds(item.get("timestamp"), started_at)
        message = _text(item.get("message"))
        if time is None or message is None:
            skipped += 1
            continue
        line, column = _number(item.get("line")), _number(item.get("column"))
        console.append(
            ConsoleEntry(
                index=index,
                level=(_text(item.get("level")) or "log").lower(),
                message=message,
                time=time,
                url=_text(item.get("url")),
                line=int(line) if line is not None else None,
                column=int(column) if column is not None else None,
            )
        )

    network: list[NetworkEntry] = []
    for index, item in enumerate(_items(state.get("networkRequests"))):
        if not isinstance(item, Mapping):
            skipped += 1
            continue
        time = to_seconds(item.get("timestamp"), started_at)
        url = _text(item.get("url"))
        if time is None or not url:
            skipped += 1
            continue
        status = _number(item.get("status"))
        duration_ms = _number(item.get("durationMs", item.get("duration")))
        network.append(
            NetworkEntry(
                index=index,
                method=(_text(item.get("method")) or "GET").upper(),
                url=url,
                # Missing or zero status: the request never got an answer.
                status=int(status) if status is not None and status > 0 else 0,
                time=time,
                duration=duration_ms / 1000.0
                if duration_ms is not None and duration_ms >= 0
                else None,
                resource_type=_text(item.get("resourceType")),
                status_text=_text(item.get("statusText")),
            )
        )

    elements: list[ElementSnapshot] = []
    for item in _items(data.get("elements")):
        if not isinstance(item, Mapping) or not _text(item.get("selector")):
            skipped += 1
            continue
        attributes = item.get("attributes")
        attributes = (
            {str(k): str(v) for k, v in attributes.items() if isinstance(v, (str, int, float))}
            if isinstance(attributes, Mapping)
            else {}
        )
        elements.append(
            ElementSnapshot(
                selector=str(item["selector"]),
                tag=(_text(item.get("tagName")) or "").lower(),
                text=" ".join((_text(item.get("text")) or "").split()),
                attributes=attributes,
                box=_box(item.get("boundingBox")),
            )
        )

    actions.sort(key=lambda a: (a.time, a.index))
    console.sort(key=lambda c: (c.time, c.index))
    network.sort(key=lambda n: (n.time, n.index))
    features = meta.get("features")
    visited = meta.get("visitedUrls")
    return Capture(
        version=_text(meta.get("version")) or "",
        duration=duration if duration is not None and duration > 0 else None,
        url=_text(meta.get("url")),
        title=_text(meta.get("title")),
        intent=_text(meta.get("intent")),
        features=tuple(str(f) for f in features) if isinstance(features, list) else (),
        visited_urls=tuple(u for u in visited if isinstance(u, str))
        if isinstance(visited, list)
        else (),
        started_at=started_at,
        actions=tuple(actions),
        console=tuple(console),
        network=tuple(network),
        elements=tuple(elements),
        by_selector={e.selector: e for e in reversed(elements)},
        viewport_width=_viewport_width(meta),
        pixel_ratio=_positive(meta.get("devicePixelRatio", meta.get("pixelRatio"))),
        pages=_pages(actions, network, _text(meta.get("url")), _text(meta.get("title")), duration),
        skipped=skipped,
    )


def _box(value: Any) -> Box | None:
    if not isinstance(value, Mapping):
        return None
    x, y = _number(value.get("x")), _number(value.get("y"))
    w = _number(value.get("width", value.get("w")))
    h = _number(value.get("height", value.get("h")))
    if None in (x, y, w, h) or w <= 0 or h <= 0:  # type: ignore[operator]
        return None
    return Box(x=int(x), y=int(y), w=int(w), h=int(h))  # type: ignore[arg-type]


def _pages(
    actions: list[UserAction],
    network: list[NetworkEntry],
    url: str | None,
    title: str | None,
    duration: float | None,
) -> tuple[PageVisit, ...]:
    """Page visits from navigate actions; the metadata's first page fills the start.

    A recorder that missed a navigation still stamps each action with the page
    it happened on: when that URL changes, the page changed in between, at the
    document request for it when one was logged, else at the action.
    """
    starts: list[tuple[float, str, str]] = []
    for action in actions:
        if action.type != "navigate" or not action.url:
            continue
        if starts and starts[-1][1] == action.url and action.time - starts[-1][0] < 1.0:
            continue  # the recorder sometimes reports one navigation twice
        starts.append((action.time, action.url, action.title or ""))
    if url and (not starts or starts[0][0] > 0.5):
        starts.insert(0, (0.0, url, title or ""))
    previous_time, current = 0.0, starts[0][1] if starts else url
    for action in actions:
        page = next((s for s in reversed(starts) if s[0] <= action.time + 1e-6), None)
        current = page[1] if page else current
        if (
            action.url
            and current
            and action.type != "navigate"
            and _strip(action.url) != _strip(current)
        ):
            documents = [
                r.time
                for r in network
                if previous_time - 0.5 <= r.time <= action.time
                and _strip(r.url) == _strip(action.url)
                and (r.resource_type or "document") == "document"
            ]
            starts.append((documents[0] if documents else action.time, action.url, ""))
            starts.sort(key=lambda s: s[0])
            current = action.url
        previous_time = action.time
    end_of_video = duration if duration is not None and duration > 0 else None
    pages: list[PageVisit] = []
    for i, (start, page_url, page_title) in enumerate(starts):
        if i + 1 < len(starts):
            end = starts[i + 1][0]
        else:
            end = max(end_of_video or start, start)
        pages.append(PageVisit(url=page_url, title=page_title, start=start, end=end))
    return tuple(pages)

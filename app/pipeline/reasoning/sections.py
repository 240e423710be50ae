"""Split the timeline into sections where the user's task changes.

Boundaries are page navigations and major visual changes (a new view without
a URL change, such as a single-page app route or a full-screen dialog). Each
section describes what happened in it and cites the evidence it rests on.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from app.pipeline.capture import Capture
from app.pipeline.reasoning.describe import FrameDescription
from app.pipeline.reasoning.evidence import Evidence, EvidenceTable
from app.pipeline.reasoning.findings import Finding
from app.pipeline.reasoning.lexicon import normalize, tidy
from app.pipeline.reasoning.options import SectionOptions
from app.pipeline.reasoning.signals import Signal

CITATION_TYPES = (
    "console_error",
    "network_error",
    "slow_request",
    "user_action",
    "transcript",
    "ocr_text",
    "visual_change",
    "rage_click",
    "dead_click",
)


@dataclass(frozen=True, kw_only=True, slots=True)
class Citation:
    type: str  # one of CITATION_TYPES
    time: float
    evidence_id: str
    detail: str


@dataclass(frozen=True, kw_only=True, slots=True)
class Section:
    title: str
    start: float
    end: float
    description: str
    citations: tuple[Citation, ...]


def _capitalised(text: str) -> str:
    return text[:1].upper() + text[1:]


def boundaries(
    capture: Capture,
    descriptions: Sequence[FrameDescription],
    duration: float,
    options: SectionOptions | None = None,
) -> list[float]:
    """Section start times: page visits first, then major visual changes away from them."""
    options = options or SectionOptions()
    # Events logged after the video ended cannot open a section of it.
    last_start = duration - options.page_end_margin_s
    starts = sorted(
        {round(max(p.start, 0.0), 3) for p in capture.pages if p.start < last_start} | {0.0}
    )
    for description in descriptions:
        if not description.major_change or description.change.startswith("navigated"):
            continue
        t = description.timestamp
        shortest = options.min_section_s
        if all(abs(t - s) >= shortest for s in starts) and duration - t >= shortest:
            starts.append(t)
            starts.sort()
    # Merge sections too short to describe (a redirect, a double navigation).
    merged: list[float] = []
    for s in starts:
        if merged and s - merged[-1] < options.merge_below_s:
            merged[-1] = s if merged[-1] != 0.0 else 0.0
            continue
        merged.append(s)
    return merged


def _citation_type(item: Evidence, signal_kinds: dict[str, str]) -> str | None:
    if item.id in signal_kinds:
        return signal_kinds[item.id]
    if item.type == "action":
        return "user_action"
    if item.type == "speech":
        return "transcript"
    if item.type == "console":
        return (
            "console_error"
            if item.data.get("level") in {"error", "exception", "fatal", "uncaught"}
            else None
        )
    if item.type == "network":
        return None
    if item.type == "ocr":
        return "ocr_text"
    if item.type == "visual":
        return "visual_change"
    return None


def build_sections(
    capture: Capture,
    descriptions: Sequence[FrameDescription],
    evidence: EvidenceTable,
    signals: Sequence[Signal],
    findings: Sequence[Finding],
    duration: float,
    options: SectionOptions | None = None,
) -> list[Section]:
    """Sections covering the whole recording, each with grounded citations."""
    options = options or SectionOptions()
    # Signals decide how network items and clicks are cited.
    signal_kinds: dict[str, str] = {}
    for signal in signals:
        if signal.kind in ("network_error", "slow_request"):
            signal_kinds[signal.evidence_ids[0]] = signal.kind
    # A click in a rage burst is cited as that, even when it was also dead.
    for kind in ("dead_click", "rage_click"):
        for signal in signals:
            if signal.kind == kind:
                signal_kinds.update(dict.fromkeys(signal.evidence_ids, kind))
    finding_ids = {e for f in findings for e in f.evidence_ids}
    chrome = _chrome(descriptions)
    starts = boundaries(capture, descriptions, duration, options)
    sections: list[Section] = []
    for i, start in enumerate(starts):
        end = starts[i + 1] if i + 1 < len(starts) else max(duration, start)
        last = i + 1 == len(starts)
        items = [e for e in evidence if start <= e.time < end or (last and e.time >= end)]
        page = capture.page_at(start + 0.01)
        frames = [
            d for d in descriptions if start <= d.timestamp < end or (last and d.timestamp >= end)
        ]
        citations = _citations(items, signal_kinds, finding_ids, options)
        name = capture.page_name(page) if page else _screen_name(frames, chrome)
        title = _title(name, items, signal_kinds)
        description = _describe(
            name, page.url if page else None, start, end, items, frames, findings, chrome
        )
        sections.append(
            Section(
                title=title,
                start=start,
                end=end,
                description=description,
                citations=tuple(citations),
            )
        )
    return sections


def _screen_name(frames: Sequence[FrameDescription], chrome: set[str]) -> str:
    """Without page events a section is named by its first frame's heading, or else by the
    most prominent text on it."""
    for frame in frames:
        for text in ([frame.heading] if frame.heading else []) + list(frame.notable_text):
            if normalize(text) not in chrome:
                return f"screen showing '{tidy(text)}'"
    return "the screen"


def _chrome(descriptions: Sequence[FrameDescription]) -> set[str]:
    """Text seen on more than one page (site name, navigation links): not worth quoting."""
    pages: dict[str, set[str]] = {}
    for frame in descriptions:
        for text in frame.notable_text:
            pages.setdefault(normalize(text), set()).add(frame.url or "")
    return {text for text, urls in pages.items() if len(urls) > 1}


def _citations(
    items: Sequence[Evidence],
    signal_kinds: dict[str, str],
    finding_ids: set[str],
    options: SectionOptions,
) -> list[Citation]:
    """Cite everything problem-related, every user action and utterance, and only telling text."""
    out: list[Citation] = []
    ocr_budget = options.ocr_citations
    visual_budget = options.visual_citations
    for item in items:
        kind = _citation_type(item, signal_kinds)
        if kind is None:
            continue
        if (
            item.type == "action"
            and item.data.get("action") == "scroll"
            and item.id not in finding_ids
        ):
            continue  # scrolls are frequent and rarely telling
        if kind == "ocr_text" and item.id not in finding_ids:
            if ocr_budget <= 0 or not (
                item.data.get("errorWording")
                or "$" in str(item.data.get("text", ""))
                or item.data.get("errorStyled")
            ):
                continue
            ocr_budget -= 1
        if kind == "visual_change" and item.id not in finding_ids:
            if visual_budget <= 0 or not (
                item.data.get("majorChange") or item.data.get("errorRegions")
            ):
                continue
            visual_budget -= 1
        out.append(Citation(type=kind, time=item.time, evidence_id=item.id, detail=item.detail))
    return out


def _title(name: str, items: Sequence[Evidence], signal_kinds: dict[str, str]) -> str:
    failed = [e for e in items if signal_kinds.get(e.id) == "network_error"]
    errors = [e for e in items if e.type == "console" and e.data.get("level") == "error"]
    clicks = [e for e in items if e.type == "action" and e.data.get("action") == "click"]
    inputs = [e for e in items if e.type == "action" and e.data.get("action") == "input"]
    if failed:
        status = failed[0].data.get("status") or "network error"
        activity = f"request fails ({status})"
    elif errors:
        activity = "console errors"
    elif inputs:
        activity = "filling in the form"
    elif clicks:
        label = clicks[-1].data.get("text") or "an element"
        activity = f"clicks '{label}'"
    else:
        activity = "viewing the page"
    return f"{_capitalised(name)}: {activity}"


def _describe(
    name: str,
    url: str | None,
    start: float,
    end: float,
    items: Sequence[Evidence],
    frames: Sequence[FrameDescription],
    findings: Sequence[Finding],
    chrome: set[str],
) -> str:
    sentences = [
        f"{_capitalised(name)} ({url}) from {start:.1f} s to {end:.1f} s."
        if url
        else f"From {start:.1f} s to {end:.1f} s."
    ]
    notable: list[str] = []
    for frame in frames:
        for text in frame.notable_text:
            if text not in notable and normalize(text) not in chrome:
                notable.append(text)
    if notable:
        sentences.append("On screen: " + ", ".join(f"'{tidy(t)}'" for t in notable[:4]) + ".")
    actions = [
        e
        for e in items
        if e.type == "action" and e.data.get("action") in {"click", "input", "keypress"}
    ]
    if actions:
        described = list(dict.fromkeys(e.detail for e in actions))
        sentences.append(
            "The user did: "
            + "; ".join(described[:6])
            + ("; ..." if len(described) > 6 else "")
            + "."
        )
    said = [str(e.data.get("text")) for e in items if e.type == "speech"]
    if said:
        sentences.append("They said: " + " ".join(f'"{s}"' for s in said[:3]))
    ids = {e.id for e in items}
    problems = [
        f.title for f in findings if ids & set(f.evidence_ids) and start <= f.time < end + 1e-6
    ]
    if problems:
        sentences.append("Problems: " + "; ".join(problems[:3]) + ".")
    return " ".join(sentences)

"""Every observation the engine may cite, as one table of evidence items.

Ids are deterministic and stable across runs of the same input:
``ev-action-N``, ``ev-console-N`` and ``ev-net-N`` use the event's position in
the recorder's list, ``ev-speech-N`` the transcript segment's position,
``ev-visual-N`` the keyframe index and ``ev-ocr-N`` the order in which text
first appeared on screen.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from app.pipeline.capture import Capture, ConsoleEntry, NetworkEntry, UserAction
from app.pipeline.reasoning.describe import FrameDescription
from app.pipeline.reasoning.lexicon import ERROR_WORDS_RE, tidy
from app.pipeline.types import Box, Keyframe, TranscriptSegment, TranscriptWord

EVIDENCE_TYPES = ("action", "console", "network", "speech", "ocr", "visual")


@dataclass(frozen=True, kw_only=True, slots=True)
class Evidence:
    """One citable observation."""

    id: str
    type: str  # one of EVIDENCE_TYPES
    time: float  # seconds from video start
    end: float | None
    detail: str  # one human-readable line
    data: Mapping[str, Any] = field(default_factory=dict)


class EvidenceTable:
    """Evidence items in time order, addressable by id."""

    def __init__(self, items: Sequence[Evidence]) -> None:
        self.items: tuple[Evidence, ...] = tuple(sorted(items, key=lambda e: (e.time, e.id)))
        self._by_id = {item.id: item for item in self.items}
        if len(self._by_id) != len(self.items):
            raise ValueError("duplicate evidence id")

    def __iter__(self) -> Iterator[Evidence]:
        return iter(self.items)

    def __len__(self) -> int:
        return len(self.items)

    def __contains__(self, evidence_id: object) -> bool:
        return evidence_id in self._by_id

    def get(self, evidence_id: str) -> Evidence | None:
        """The item with this id, or None."""
        return self._by_id.get(evidence_id)

    def of_type(self, kind: str) -> list[Evidence]:
        """Items of one type, in time order."""
        return [item for item in self.items if item.type == kind]

    def between(self, start: float, end: float) -> list[Evidence]:
        """Items whose time falls in ``[start, end)``."""
        return [item for item in self.items if start <= item.time < end]


def split_sentences(
    segments: Sequence[TranscriptSegment], max_gap_s: float = 1.0
) -> list[TranscriptSegment]:
    """Split recogniser segments into sentences using the word timestamps.

    A recogniser may return one long segment for a whole stretch of speech;
    evidence needs each remark at its own time. Sentence ends and pauses
    longer than ``max_gap_s`` split; segments without words stay whole.
    """
    out: list[TranscriptSegment] = []
    for segment in segments:
        if not segment.words:
            out.append(segment)
            continue
        current: list[TranscriptWord] = []
        for word in segment.words:
            if current and re.match(r"[.,!?;:%)]", word.text):
                # A continuation ("$49" then ".00."): its times are unreliable, keep it attached.
                word = TranscriptWord(
                    start=current[-1].end,
                    end=current[-1].end,
                    text=word.text,
                    probability=word.probability,
                )
            elif current and word.start - current[-1].end > max_gap_s:
                out.append(_join(current))
                current = []
            current.append(word)
            if re.search(r"[.!?]['\"]?$", word.text):
                out.append(_join(current))
                current = []
        if current:
            out.append(_join(current))
    return out


def _join(words: Sequence[TranscriptWord]) -> TranscriptSegment:
    text = ""
    for word in words:
        glue = "" if not text or re.match(r"[.,!?;:%)]", word.text) else " "
        text += glue + word.text
    return TranscriptSegment(
        start=float(words[0].start), end=float(words[-1].end), text=text, words=tuple(words)
    )


def _box(box: Box | None) -> dict[str, int] | None:
    return None if box is None else {"x": box.x, "y": box.y, "w": box.w, "h": box.h}


def action_id(action: UserAction) -> str:
    return f"ev-action-{action.index}"


def console_id(entry: ConsoleEntry) -> str:
    return f"ev-console-{entry.index}"


def network_id(request: NetworkEntry) -> str:
    return f"ev-net-{request.index}"


def _action_detail(action: UserAction, capture: Capture) -> str:
    element = capture.element(action.selector)
    label = action.text or (element.text if element else "") or action.selector or ""
    if action.type == "navigate":
        return f"navigate to {action.title or action.url}" + (
            f" ({action.url})" if action.title else ""
        )
    if action.type == "click":
        return f"click '{label}'" if label else "click"
    if action.type == "input":
        return f"type into '{label}'" if label else "type"
    if action.type == "scroll":
        return f"scroll to y={int(action.y)}" if action.y is not None else "scroll"
    if action.type == "keypress":
        return f"press {action.key or action.value or 'a key'}"
    return f"{action.type} '{label}'" if label else action.type


def build_evidence(
    capture: Capture,
    keyframes: Sequence[Keyframe],
    descriptions: Sequence[FrameDescription],
    transcript: Sequence[TranscriptSegment],
) -> EvidenceTable:
    """Normalise every captured and measured observation into evidence items."""
    items: list[Evidence] = []
    for action in capture.actions:
        element = capture.element(action.selector)
        data: dict[str, Any] = {"action": action.type}
        for key in ("selector", "text", "url", "title", "key"):
            value = getattr(action, key)
            if value:
                data[key] = value
        if action.x is not None and action.y is not None:
            data["x"], data["y"] = action.x, action.y
        if action.type == "input" and action.value is not None:
            data["valueLength"] = len(action.value)  # the value itself may be private
        if element is not None:
            data["element"] = {"tag": element.tag, "text": element.text, "box": _box(element.box)}
        items.append(
            Evidence(
                id=action_id(action),
                type="action",
                time=action.time,
                end=None,
                detail=_action_detail(action, capture),
                data=data,
            )
        )
    for entry in capture.console:
        data = {"level": entry.level, "message": entry.message}
        if entry.url:
            data["url"] = entry.url
        if entry.line is not None:
            data["line"] = entry.line
        items.append(
            Evidence(
                id=console_id(entry),
                type="console",
                time=entry.time,
                end=None,
                detail=f"console {entry.level}: {entry.message}",
                data=data,
            )
        )
    for request in capture.network:
        status = str(request.status) if request.status else "network error"
        data = {"method": request.method, "url": request.url, "status": request.status}
        if request.duration is not None:
            data["durationMs"] = round(request.duration * 1000)
        if request.resource_type:
            data["resourceType"] = request.resource_type
        if request.status_text:
            data["statusText"] = request.status_text
        took = f" in {request.duration * 1000:.0f} ms" if request.duration is not None else ""
        end = request.time + request.duration if request.duration is not None else None
        items.append(
            Evidence(
                id=network_id(request),
                type="network",
                time=request.time,
                end=end,
                detail=f"{request.method} {request.url} -> {status}{took}",
                data=data,
            )
        )
    for index, segment in enumerate(transcript):
        text = " ".join(segment.text.split())
        if not text:
            continue
        items.append(
            Evidence(
                id=f"ev-speech-{index}",
                type="speech",
                time=segment.start,
                end=segment.end,
                detail=f'said "{text}"',
                data={"text": text},
            )
        )
    by_index = {kf.index: kf for kf in keyframes}
    ocr_counter = 0
    for description in descriptions:
        keyframe = by_index.get(description.keyframe_index)
        styled = {id(line) for line in description.error_styled}
        for line in description.appeared:
            red = id(line) in styled
            items.append(
                Evidence(
                    id=f"ev-ocr-{ocr_counter}",
                    type="ocr",
                    time=description.timestamp,
                    end=None,
                    detail=f"screen shows '{tidy(line.text)}'" + (" in red" if red else ""),
                    data={
                        "text": line.text,
                        "box": _box(line.box),
                        "confidence": round(line.confidence, 3),
                        "keyframe": description.keyframe_index,
                        "errorStyled": red,
                        "errorWording": bool(ERROR_WORDS_RE.search(line.text)),
                        # Text scrolled into view was there all along; it did not appear.
                        "scrolledIn": description.scrolled,
                        "url": description.url,
                    },
                )
            )
            ocr_counter += 1
        if keyframe is not None and description.change not in ("no visible change",):
            items.append(
                Evidence(
                    id=f"ev-visual-{description.keyframe_index}",
                    type="visual",
                    time=description.timestamp,
                    end=None,
                    detail=description.text,
                    data={
                        "change": description.change,
                        "changeRatio": round(keyframe.change_ratio, 4),
                        "region": _box(keyframe.changed_region),
                        "reasons": list(keyframe.reasons),
                        "majorChange": description.major_change,
                        "errorRegions": [
                            {"box": _box(r.box), "text": r.text}
                            for r in description.error_regions
                            if r.text
                        ],
                    },
                )
            )
    return EvidenceTable(items)

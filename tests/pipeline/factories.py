"""Builders for the pipeline's tests: the fixture recordings, and hand-made stage inputs.

The fixture helpers find the recordings in tests/data and what their truth.json says. The
builders make keyframes, OCR lines, made pages, transcript words and recorder captures with
the defaults the tests share, so that a test spells out only what it is about."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import cv2
import numpy as np

from app.pipeline.capture import Capture, parse_capture
from app.pipeline.media.keyframes import KeyframeHints
from app.pipeline.reasoning.describe import FrameDescription, describe_keyframes
from app.pipeline.reasoning.evidence import EvidenceTable, build_evidence
from app.pipeline.reasoning.findings import Finding, build_findings
from app.pipeline.reasoning.options import SignalOptions
from app.pipeline.reasoning.signals import Signal, detect_signals
from app.pipeline.types import Box, Keyframe, OcrLine, TranscriptSegment, TranscriptWord
from tests.support.factories import DATA as FIXTURE_DATA
from tests.support.factories import create_body

SCENARIOS = ("upgrade-checkout", "login-500")
CONTAINERS = ("webm", "mp4")
CASES = [(s, c) for s in SCENARIOS for c in CONTAINERS]
"""Every fixture file: each scenario in each container."""

# Spacing is ignored; 85/100 tolerates one wrong character in a ~7-character
# string ("$59/mo") but not a different price or word.
MATCH = 85.0
"""The score of :func:`tests.support.text.fuzzy_contains` at which OCR read a string."""

NAMES = [
    "ALPHA",
    "BRAVO",
    "CHARLIE",
    "DELTA",
    "ECHO",
    "FOXTROT",
    "GOLF",
    "HOTEL",
    "INDIA",
    "JULIET",
    "KILO",
    "LIMA",
    "MIKE",
    "NOVEMBER",
    "OSCAR",
    "PAPA",
    "QUEBEC",
    "ROMEO",
]
"""Words that make distinct lines of a made page (:func:`page_image`)."""

# --------------------------------------------------------------------------- fixture files


def media_path(scenario: str, container: str) -> Path:
    """The fixture recording of ``scenario`` in ``container`` (webm or mp4)."""
    return FIXTURE_DATA / scenario / f"recording.{container}"


def truth(scenario: str) -> dict[str, Any]:
    """What the fixture of ``scenario`` holds (its truth.json)."""
    return json.loads((FIXTURE_DATA / scenario / "truth.json").read_text())  # type: ignore[no-any-return]


def media_truth(scenario: str, container: str) -> dict[str, Any]:
    """What truth.json says of the fixture file of ``scenario`` in ``container``."""
    return truth(scenario)["media"][container]  # type: ignore[no-any-return]


def hints_for(scenario: str) -> KeyframeHints:
    """Click and error times (console errors, failed requests) from create.json, in seconds."""
    body = create_body(scenario)
    state = body.get("browserState", {})
    clicks = [a["timestamp"] / 1000 for a in body.get("actions", []) if a.get("type") == "click"]
    errors = [
        c["timestamp"] / 1000 for c in state.get("consoleLogs", []) if c.get("level") == "error"
    ]
    errors += [
        r["timestamp"] / 1000
        for r in state.get("networkRequests", [])
        if int(r.get("status") or 0) >= 400
    ]
    return KeyframeHints(click_times=clicks, error_times=sorted(errors))


def screen_vocabulary(scenario: str) -> list[str]:
    """What the screen and the event log know, as the orchestrator passes it to transcription."""
    facts = truth(scenario)
    body = create_body(scenario)
    words = [p["title"] for p in facts["pages"]]
    words += [k for p in facts["pages"] for k in p["keyText"]]
    words += [a["text"] for a in body.get("actions", []) if a.get("text")]
    return words


def shown_during(keyframes: Sequence[Keyframe], start: float, end: float) -> list[Keyframe]:
    """The keyframes whose picture is on screen at some moment of [start, end]."""
    before = [k for k in keyframes if k.timestamp <= start]
    return before[-1:] + [k for k in keyframes if start < k.timestamp <= end]


# --------------------------------------------------------------------------- stage inputs


def line(text: str, x: int, y: int, w: int = 200, h: int = 20, confidence: float = 0.9) -> OcrLine:
    """An OCR line at (x, y), w x h pixels."""
    return OcrLine(text=text, box=Box(x=x, y=y, w=w, h=h), confidence=confidence)


def page_image(
    lines: list[str], top: int = 40, gap: int = 60, size: tuple[int, int] = (900, 640)
) -> np.ndarray:
    """A white page (``size`` is width, height) with ``lines`` in dark print, ``gap`` px apart."""
    img = np.full((size[1], size[0], 3), 255, np.uint8)
    for i, text in enumerate(lines):
        cv2.putText(
            img,
            text,
            (40, top + i * gap),
            cv2.FONT_HERSHEY_DUPLEX,
            1.0,
            (30, 30, 30),
            2,
            cv2.LINE_AA,
        )
    return img


def keyframe(
    index: int,
    timestamp: float,
    lines: Sequence[OcrLine] = (),
    *,
    reasons: tuple[str, ...] = ("change",),
    region: Box | Literal["whole"] | None = "whole",
    ratio: float = 0.1,
    image: np.ndarray | None = None,
    width: int = 640,
    height: int = 360,
) -> Keyframe:
    """A keyframe showing ``lines``; by default a white ``width`` x ``height`` screen that
    changed as a whole (``region``) by ``ratio``."""
    if image is None:
        image = np.full((height, width, 3), 255, np.uint8)
    if region == "whole":
        region = Box(x=0, y=0, w=image.shape[1], h=image.shape[0])
    return Keyframe(
        index=index,
        timestamp=timestamp,
        reasons=reasons,
        changed_region=region,
        change_ratio=ratio,
        image=image,
        lines=list(lines),
    )


def word(
    text: str, start: float = 0.0, end: float | None = None, probability: float = 0.9
) -> TranscriptWord:
    """A transcript word from ``start`` to ``end`` (0.1 s later by default)."""
    return TranscriptWord(
        start=start, end=start + 0.1 if end is None else end, text=text, probability=probability
    )


def capture(
    *,
    actions: Sequence[Any] = (),
    network: Sequence[Any] = (),
    console: Sequence[Any] = (),
    elements: Sequence[Any] = (),
    **metadata: Any,
) -> Capture:
    """The parsed recorder JSON of ``metadata`` (url, title, startedAt, ...) and these events."""
    return parse_capture(
        {
            "metadata": metadata,
            "actions": list(actions),
            "browserState": {"consoleLogs": list(console), "networkRequests": list(network)},
            "elements": list(elements),
        }
    )


def red_text_image(x: int, y: int, w: int, h: int) -> np.ndarray:
    """A white 640 x 360 screen with red strokes, like glyphs, in the box (x, y, w, h)."""
    image = np.full((360, 640, 3), 255, np.uint8)
    image[y + 4 : y + h - 4 : 3, x : x + w] = (30, 30, 220)  # BGR red
    return image


# --------------------------------------------------------------------------- reasoning


@dataclass(frozen=True, kw_only=True)
class Reasoned:
    """What the reasoning stages made of hand-made inputs, up to the findings."""

    descriptions: list[FrameDescription]
    evidence: EvidenceTable
    signals: list[Signal]
    findings: list[Finding]


def reason(
    capture: Capture,
    keyframes: Sequence[Keyframe],
    speech: Sequence[TranscriptSegment] = (),
    *,
    duration: float = 30.0,
    options: SignalOptions | None = None,
) -> Reasoned:
    """Describe, gather the evidence, detect signals and group them into findings."""
    descriptions = describe_keyframes(keyframes, capture)
    evidence = build_evidence(capture, keyframes, descriptions, list(speech))
    signals = detect_signals(capture, evidence, keyframes, duration, options or SignalOptions())
    return Reasoned(
        descriptions=descriptions,
        evidence=evidence,
        signals=signals,
        findings=build_findings(signals, evidence),
    )


FAILED_PURCHASE = {
    "method": "POST",
    "url": "http://t.test/api/buy",
    "status": 503,
    "timestamp": 5000,
}
"""The ticket shop's purchase request failing with HTTP 503 at 5 s (:func:`ticket_report`)."""


def ticket_report(
    network: Sequence[Any] = (),
    console: Sequence[Any] = (),
    speech: Sequence[TranscriptSegment] = (),
    screen: Sequence[tuple[float, str]] = (),
    actions: Sequence[Any] = (),
    intent: str = "Buy a ticket.",
) -> tuple[Capture, EvidenceTable, list[Finding]]:
    """A 40 s visit to a ticket shop with these events and ``screen`` lines ``(time, text)``,
    each shown on a keyframe of its own: the capture, its evidence and findings."""
    shop = capture(
        url="http://t.test/",
        title="Tickets — T",
        intent=intent,
        actions=actions,
        network=network,
        console=console,
    )
    keyframes = [
        keyframe(0, 0.0, reasons=("first",), region=None, ratio=1.0, width=320, height=120)
    ]
    for i, (t, text) in enumerate(screen, start=1):
        keyframes.append(keyframe(i, t, [line(text, 10, 10 + 20 * i, h=16)], width=320, height=120))
    reasoned = reason(shop, keyframes, speech, duration=40.0)
    return shop, reasoned.evidence, reasoned.findings

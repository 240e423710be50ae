"""Sections: boundaries at navigations and major visual changes, grounded citations."""

from __future__ import annotations

from app.pipeline.reasoning.sections import CITATION_TYPES, build_sections
from app.pipeline.types import Keyframe, OcrLine, TranscriptSegment
from tests.pipeline.factories import capture, keyframe, line, reason


def _frame(index: int, t: float, ratio: float, lines: list[OcrLine] = ()) -> Keyframe:
    reasons = ("change",) if index else ("first",)
    return keyframe(index, t, lines, reasons=reasons, ratio=ratio, width=320, height=180)


def _sections(actions, network=(), keyframes=None, speech=(), duration=60.0, console=()):  # type: ignore[no-untyped-def]
    rec = capture(
        url="http://s.test/",
        title="Start — S",
        duration=duration,
        actions=actions,
        network=network,
        console=console,
    )
    keyframes = keyframes or [_frame(0, 0.0, 1.0)]
    r = reason(rec, keyframes, speech, duration=duration)
    sections = build_sections(rec, r.descriptions, r.evidence, r.signals, r.findings, duration)
    return sections, r.evidence


NAVIGATIONS = [
    {"type": "navigate", "timestamp": 0, "url": "http://s.test/", "title": "Start — S"},
    {"type": "click", "timestamp": 9000, "selector": "a#next", "text": "Next"},
    {"type": "navigate", "timestamp": 9100, "url": "http://s.test/form", "title": "Form — S"},
    {"type": "input", "timestamp": 15000, "selector": "#name", "text": "Name", "value": "x"},
    {"type": "click", "timestamp": 20000, "selector": "#send", "text": "Send"},
]


def test_one_section_per_page_tiling_the_recording() -> None:
    sections, evidence = _sections(
        NAVIGATIONS,
        network=[
            {"method": "POST", "url": "http://s.test/api/send", "status": 400, "timestamp": 20100}
        ],
        speech=[TranscriptSegment(start=21.0, end=23.0, text="Why did that fail?")],
    )
    assert [(s.start, s.end) for s in sections] == [(0.0, 9.1), (9.1, 60.0)]
    assert sections[0].title == "Start: clicks 'Next'"
    assert sections[1].title == "Form: request fails (400)"
    assert (
        "http://s.test/form" in sections[1].description
        and "Why did that fail?" in sections[1].description
    )
    cited = {c.evidence_id: c.type for c in sections[1].citations}
    assert cited["ev-net-0"] == "network_error"
    assert cited["ev-action-4"] == "user_action" and cited["ev-speech-0"] == "transcript"
    for section in sections:
        for citation in section.citations:
            item = evidence.get(citation.evidence_id)
            assert citation.type in CITATION_TYPES and item is not None
            assert section.start <= citation.time == item.time
            assert citation.detail == item.detail


def test_major_visual_change_without_navigation_starts_a_section() -> None:
    frames = [
        _frame(0, 0.0, 1.0),
        _frame(1, 12.0, 0.8),
        _frame(2, 13.0, 0.9),
        _frame(3, 30.0, 0.02),
    ]
    sections, _ = _sections(NAVIGATIONS[:1], keyframes=frames)
    assert [s.start for s in sections] == [0.0, 12.0]  # 13 s is too close to 12 s to stand alone
    cited = [c for c in sections[1].citations if c.type == "visual_change"]
    assert cited and cited[0].evidence_id == "ev-visual-1"


def test_successful_requests_and_scrolls_are_not_cited() -> None:
    actions = [*NAVIGATIONS[:1], {"type": "scroll", "timestamp": 3000, "y": 400}]
    sections, _ = _sections(
        actions, network=[{"url": "http://s.test/a.css", "status": 200, "timestamp": 100}]
    )
    assert [c.evidence_id for c in sections[0].citations] == ["ev-action-0"]


def test_pages_after_the_end_of_the_video_open_no_section() -> None:
    late = [
        *NAVIGATIONS,
        {"type": "navigate", "timestamp": 70000, "url": "http://s.test/late", "title": "Late — S"},
    ]
    sections, _ = _sections(late, duration=60.0)
    assert [(s.start, s.end) for s in sections] == [(0.0, 9.1), (9.1, 60.0)]
    assert all(s.start < s.end for s in sections)


def test_reasoning_on_a_long_busy_recording_stays_cheap() -> None:
    import random
    import time

    rng = random.Random(7)
    n = 3000
    actions = [
        {
            "type": rng.choice(["click", "input", "scroll", "click"]),
            "timestamp": i * 150,
            "selector": f"#el{i % 500}",
            "text": f"Item {i % 500}",
            "x": rng.randint(0, 1200),
            "y": rng.randint(0, 700),
            "url": f"http://s.test/p{i // 300}",
        }
        for i in range(n)
    ]
    network = [
        {
            "method": "GET",
            "url": f"http://s.test/api/{i % 40}",
            "status": rng.choice([200, 200, 404, 500]),
            "durationMs": rng.randint(1, 3000),
            "timestamp": i * 140,
            "resourceType": "fetch",
        }
        for i in range(n)
    ]
    console = [
        {
            "level": rng.choice(["error", "info"]),
            "message": f"Thing {i % 25} failed",
            "timestamp": i * 145,
        }
        for i in range(n)
    ]
    frames = [
        _frame(
            i,
            i * 9.0,
            0.2,
            [line(f"Line {i} {j} costs ${j}", 10, 6 * j, 200, 5) for j in range(25)],
        )
        for i in range(48)
    ]
    speech = [
        TranscriptSegment(start=i * 4.0, end=i * 4.0 + 2, text="It failed again, it said 9 dollars")
        for i in range(100)
    ]
    started = time.perf_counter()
    sections, evidence = _sections(
        actions, network=network, keyframes=frames, speech=speech, duration=450.0, console=console
    )
    # Quadratic passes over thousands of events would take minutes; this takes about a second.
    assert time.perf_counter() - started < 20.0
    assert sections and len(evidence) > 3 * n

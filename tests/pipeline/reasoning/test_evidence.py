"""The evidence table: stable ids, types, times and details; transcript sentences."""

from __future__ import annotations

import numpy as np
import pytest

from app.pipeline.capture import Capture
from app.pipeline.documents import ResultEvidence
from app.pipeline.reasoning.describe import describe_keyframes
from app.pipeline.reasoning.evidence import EvidenceTable, build_evidence, split_sentences
from app.pipeline.types import Box, Keyframe, TranscriptSegment
from tests.pipeline.factories import capture, keyframe, line, word

STARTED = 1_700_000_000_000


def _capture() -> Capture:
    return capture(
        startedAt=STARTED,
        url="http://a.test/",
        title="A",
        actions=[
            {"type": "navigate", "timestamp": 0, "url": "http://a.test/", "title": "A"},
            "junk",
            {
                "type": "click",
                "timestamp": STARTED + 2000,
                "selector": "#go",
                "text": "Go",
                "x": 5,
                "y": 6,
            },
            {"type": "input", "timestamp": 3000, "selector": "#pw", "value": "hunter2"},
        ],
        console=[{"level": "error", "message": "Boom", "timestamp": 2500, "line": 3}],
        network=[
            {
                "method": "GET",
                "url": "http://a.test/x",
                "status": 404,
                "durationMs": 30,
                "timestamp": 2100,
            }
        ],
        elements=[
            {
                "selector": "#go",
                "tagName": "BUTTON",
                "text": "Go",
                "boundingBox": {"x": 1, "y": 2, "width": 30, "height": 10},
            }
        ],
    )


def _keyframes() -> list[Keyframe]:
    image = np.full((100, 200, 3), 255, np.uint8)
    first = keyframe(
        0,
        0.0,
        [line("Welcome", 10, 10, 80, 14)],
        reasons=("first",),
        region=None,
        ratio=1.0,
        image=image,
    )
    second = keyframe(
        1,
        2.6,
        [*first.lines, line("Not found", 10, 45, 80, 14), line("~", 10, 80, 5, 5)],
        region=Box(x=0, y=40, w=200, h=30),
        image=image,
    )
    return [first, second]


def _table() -> EvidenceTable:
    rec = _capture()
    keyframes = _keyframes()
    speech = [
        TranscriptSegment(start=2.7, end=3.5, text="  That page is missing.  "),
        TranscriptSegment(start=4.0, end=4.1, text="   "),
    ]
    return build_evidence(rec, keyframes, describe_keyframes(keyframes, rec), speech)


def test_ids_types_and_times() -> None:
    table = _table()
    ids = [e.id for e in table]
    expected = {
        "ev-action-0": ("action", 0.0),
        "ev-action-2": ("action", 2.0),
        "ev-action-3": ("action", 3.0),
        "ev-net-0": ("network", 2.1),
        "ev-console-0": ("console", 2.5),
        "ev-speech-0": ("speech", 2.7),
        "ev-ocr-0": ("ocr", 0.0),
        "ev-ocr-1": ("ocr", 2.6),
        "ev-visual-0": ("visual", 0.0),
        "ev-visual-1": ("visual", 2.6),
    }
    assert set(ids) == set(expected)
    for evidence_id, (kind, time) in expected.items():
        item = table.get(evidence_id)
        assert item.type == kind and item.time == pytest.approx(time)
    assert [e.time for e in table] == sorted(e.time for e in table)
    assert len(table) == len(expected) and "ev-net-0" in table and "ev-net-1" not in table
    assert table.between(2.0, 2.6) == [
        table.get(i) for i in ("ev-action-2", "ev-net-0", "ev-console-0")
    ]


def test_details_are_readable_and_private_values_are_not_copied() -> None:
    table = _table()
    assert table.get("ev-action-2").detail == "click 'Go'"
    assert table.get("ev-action-2").data["element"]["tag"] == "button"
    typed = table.get("ev-action-3")
    assert (
        "hunter2" not in repr(ResultEvidence.of(typed).json_dict())
        and typed.data["valueLength"] == 7
    )
    assert table.get("ev-net-0").detail == "GET http://a.test/x -> 404 in 30 ms"
    assert ResultEvidence.of(table.get("ev-net-0")).json_dict()["endTimestamp"] == pytest.approx(
        2.13
    )
    assert table.get("ev-console-0").detail == "console error: Boom"
    assert table.get("ev-speech-0").data["text"] == "That page is missing."
    ocr = table.get("ev-ocr-1")
    assert (
        ocr.data["text"] == "Not found" and ocr.data["errorWording"] and not ocr.data["errorStyled"]
    )
    assert table.get("ev-visual-1").data["region"] == {"x": 0, "y": 40, "w": 200, "h": 30}


def test_duplicate_ids_are_refused() -> None:
    item = next(iter(_table()))
    with pytest.raises(ValueError):
        EvidenceTable([item, item])


def test_long_segments_split_into_sentences_at_their_times() -> None:
    segment = TranscriptSegment(
        start=1.0,
        end=30.0,
        text="...",
        words=(
            word("It", 1.0, 1.3),
            word("costs", 1.3, 1.6),
            word("$49", 1.6, 2.0),
            word(".00.", 25.0, 25.1),
            word("Now", 26.0, 26.4),
            word("it", 26.4, 26.8),
            word("fails", 26.8, 27.2),
            word("again", 29.0, 29.5),
            word("today!", 29.5, 30.0),
        ),
    )
    plain = TranscriptSegment(start=40.0, end=41.0, text="no words")
    out = split_sentences([segment, plain])
    assert [(s.start, s.end, s.text) for s in out] == [
        (1.0, 2.0, "It costs $49.00."),
        (26.0, 27.2, "Now it fails"),
        (29.0, 30.0, "again today!"),
        (40.0, 41.0, "no words"),
    ]

"""The whole engine on the real fixtures (webm and mp4), checked against truth.json."""

from __future__ import annotations

import itertools
import json
import os
import re
import sys
import threading
from concurrent.futures import Future
from difflib import SequenceMatcher
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from app.pipeline import STAGES, MediaInputError, PipelineError, StageError
from app.pipeline.documents import ResultEvidence, ResultFinding, ResultSection
from app.pipeline.reasoning.sections import CITATION_TYPES
from tests.pipeline.factories import CASES, CONTAINERS, SCENARIOS, media_path
from tests.support.factories import create_body

ERRORISH = re.compile(r"wrong|invalid|error|failed", re.IGNORECASE)


def _similar(a: str, b: str) -> float:
    a, b = " ".join(a.lower().split()), " ".join(b.lower().split())
    return SequenceMatcher(None, a, b).ratio()


def _screen_match(text: str, candidates: list[str]) -> bool:
    """OCR text matches a truth line (OCR may read a longer line that contains it)."""
    return any(_similar(text, c) >= 0.8 or c.lower() in text.lower() for c in candidates)


def _cited(result: Any, finding: dict[str, Any], kind: str) -> list[Any]:
    return [
        result.evidence.get(i)
        for i in finding["evidenceIds"]
        if result.evidence.get(i).type == kind
    ]


@pytest.mark.parametrize(("scenario", "container"), CASES)
def test_a_section_starts_at_every_visited_page(
    analyse, truth, scenario: str, container: str
) -> None:
    result, _ = analyse(scenario, container)
    starts = [s["timestamp"] for s in result.to_dict()["sections"]]
    for page in truth(scenario)["pages"]:
        assert any(abs(start - page["start"]) <= 2.0 for start in starts), (page["url"], starts)


def _without_page_events(value: Any) -> Any:
    """The recorder's JSON as an SDK that logs no navigation would send it: no visited URLs, no
    page titles or addresses, no navigate actions; clicks, scrolls and the rest stay."""
    if isinstance(value, dict):
        return {
            k: _without_page_events(v)
            for k, v in value.items()
            if k not in {"visitedUrls", "pages", "url", "title"}
        }
    if isinstance(value, list):
        return [
            _without_page_events(v)
            for v in value
            if not (isinstance(v, dict) and v.get("type") == "navigate")
        ]
    return value


@pytest.mark.parametrize("scenario", ["upgrade-checkout", "login-500"])
def test_without_page_events_the_pages_are_found_on_screen_after_clicks(
    engine, truth, scenario: str
) -> None:
    """A single-page app or a recorder that logs no navigation: each page change the user made
    by clicking is seen as a new view, and scrolling is not taken for one."""
    meta = _without_page_events(create_body(scenario))
    result = engine.analyze(media_path(scenario, "webm"), meta)
    starts = [s.start for s in result.sections]
    pages = [page["start"] for page in truth(scenario)["pages"]]
    for page in pages:
        assert any(abs(start - page) <= 2.0 for start in starts), (page, starts)
    assert all(any(abs(start - page) <= 2.0 for page in pages) for start in starts), (pages, starts)
    # Each section is named after its page's heading: words, not a price, an address or a field.
    for section in result.sections:
        named = re.search(r"'(.+?)'", section.title)
        assert named, section.title
        words = [w for w in named.group(1).split() if re.search(r"[A-Za-z]{2,}", w)]
        assert len(words) >= 2 and not re.search(r"[$€£@]|\d", named.group(1)), section.title


@pytest.mark.parametrize("scenario", ["upgrade-checkout", "login-500"])
def test_from_the_screen_alone_no_section_starts_where_no_page_does(
    engine, truth, scenario: str
) -> None:
    """No events at all: scrolling down and back up must not open sections of their own."""
    result = engine.analyze(media_path(scenario, "webm"), {})
    starts = [s.start for s in result.sections]
    pages = [page["start"] for page in truth(scenario)["pages"]]
    assert all(any(abs(start - page) <= 2.0 for page in pages) for start in starts), (pages, starts)
    assert len(starts) >= 2  # at least one page change is seen from the pixels and text alone


@pytest.mark.parametrize(("scenario", "container"), CASES)
def test_every_expected_finding_is_reported(analyse, truth, scenario: str, container: str) -> None:
    result, _ = analyse(scenario, container)
    out = result.to_dict()
    facts = truth(scenario)
    findings = out["findings"]
    assert [f["title"] for f in findings[: len(out["summary"]["keyFindings"])]] == out["summary"][
        "keyFindings"
    ]
    error_texts = [t["text"] for t in facts["onScreenText"] if ERRORISH.search(t["text"])]
    for expected in facts["expected_findings"]:
        if status := re.search(r"HTTP (\d{3})", expected):
            matches = [
                f
                for f in findings
                if f["kind"] == "network_error"
                and any(
                    e.data["status"] == int(status.group(1)) for e in _cited(result, f, "network")
                )
            ]
        elif name := re.match(r"console error: (.+)", expected, re.IGNORECASE):
            words = [w for w in re.findall(r"\w+", name.group(1).lower()) if len(w) > 2]
            matches = [
                f
                for f in findings
                if f["kind"] == "console_error"
                and any(
                    all(w in e.data["message"].lower() for w in words)
                    for e in _cited(result, f, "console")
                )
            ]
        elif values := re.findall(r"\$(\d+)", expected):
            matches = []
            for f in findings:
                if f["kind"] != "contradiction":
                    continue
                shown = {
                    str(int(float(v)))
                    for e in _cited(result, f, "ocr")
                    for v in re.findall(r"\$(\d+(?:\.\d+)?)", e.data["text"])
                }
                if set(values) <= shown:
                    matches.append(f)
        else:  # an error the user saw on screen
            matches = [
                f
                for f in findings
                if f["kind"] == "screen_error"
                and any(
                    _screen_match(e.data["text"], error_texts) for e in _cited(result, f, "ocr")
                )
            ]
        assert matches, f"{expected!r} not found in {[f['title'] for f in findings]}"
        assert any(f["title"] in out["summary"]["keyFindings"] for f in matches)


@pytest.mark.parametrize(("scenario", "container"), CASES)
def test_nothing_is_reported_that_the_truth_does_not_contain(
    analyse, truth, scenario: str, container: str
) -> None:
    result, _ = analyse(scenario, container)
    facts = truth(scenario)
    failed = {(r["method"], urlsplit(r["url"]).path, r["status"]) for r in facts["failedRequests"]}
    console = [c["message"] for c in facts["consoleErrors"]]
    shown = [t["text"] for t in facts["onScreenText"]]
    allowed = {"network_error", "console_error", "screen_error", "contradiction", "user_reported"}
    if facts["slowRequests"]:
        allowed.add("slow_request")
    if facts["frustration"]:
        allowed |= {"rage_click", "dead_click"}
    for finding in result.findings:
        assert finding.kind in allowed, finding
        if finding.kind == "network_error":
            for e in _cited(result, ResultFinding.of(finding).json_dict(), "network"):
                assert (e.data["method"], urlsplit(e.data["url"]).path, e.data["status"]) in failed
        elif finding.kind == "console_error":
            for e in _cited(result, ResultFinding.of(finding).json_dict(), "console"):
                assert e.data["message"] in console
        elif finding.kind == "screen_error":
            texts = [
                e.data["text"] for e in _cited(result, ResultFinding.of(finding).json_dict(), "ocr")
            ]
            assert any(_screen_match(t, [s for s in shown if ERRORISH.search(s)]) for t in texts), (
                texts
            )
        elif finding.kind == "contradiction":
            for e in _cited(result, ResultFinding.of(finding).json_dict(), "ocr"):
                amounts = re.findall(r"\$\d+", e.data["text"])
                assert amounts and any(a in s for s in shown for a in amounts), e.data["text"]
        elif finding.kind == "user_reported":
            assert {e.type for e in map(result.evidence.get, finding.evidence_ids)} == {"speech"}
    if not facts["frustration"]:
        assert not [s for s in result.signals if s.kind in {"rage_click", "dead_click"}]
    if not facts["slowRequests"]:
        assert not [s for s in result.signals if s.kind == "slow_request"]


@pytest.mark.parametrize(("scenario", "container"), CASES)
def test_every_citation_resolves_to_evidence(analyse, scenario: str, container: str) -> None:
    result, _ = analyse(scenario, container)
    out = result.to_dict()
    evidence = {e["id"]: e for e in out["evidence"]}
    assert len(evidence) == len(out["evidence"])
    for section in out["sections"]:
        assert section["citations"], section["title"]
        for citation in section["citations"]:
            assert citation["type"] in CITATION_TYPES
            item = evidence[citation["evidenceId"]]
            assert citation["timestamp"] == item["timestamp"]
    for finding in out["findings"]:
        assert finding["evidenceIds"]
        assert all(i in evidence for i in finding["evidenceIds"])
        assert finding["timestamp"] == pytest.approx(
            min(evidence[i]["timestamp"] for i in finding["evidenceIds"]), abs=60
        )
    # Findings with high confidence rest on two independent sources.
    for finding in result.findings:
        if finding.confidence == "high":
            types = {result.evidence.get(i).type for i in finding.evidence_ids} - {"action"}
            assert len(types) >= 2, finding


@pytest.mark.parametrize(("scenario", "container"), CASES)
def test_progress_is_monotonic_and_complete(analyse, scenario: str, container: str) -> None:
    _, events = analyse(scenario, container)
    last: dict[str, float] = {}
    for stage, fraction, message in events:
        assert stage in STAGES and isinstance(message, str)
        assert 0.0 <= fraction <= 1.0
        assert fraction >= last.get(stage, 0.0), (stage, fraction, last)
        last[stage] = fraction
    assert last == dict.fromkeys(STAGES, 1.0)


@pytest.mark.parametrize(("scenario", "container"), CASES)
def test_result_json_shape(analyse, truth, scenario: str, container: str) -> None:
    result, _ = analyse(scenario, container)
    out = json.loads(json.dumps(result.to_dict()))
    assert list(out) == [
        "recording",
        "sections",
        "summary",
        "findings",
        "frames",
        "transcript",
        "evidence",
        "timings",
    ]
    facts = truth(scenario)
    assert out["recording"]["duration"] == pytest.approx(facts["duration"], abs=0.1)
    assert out["recording"]["hasAudio"] is True
    assert set(out["summary"]) == {"summary", "keyFindings"}
    prose = re.sub(r"'[^']*'|\"[^\"]*\"", "", out["summary"]["summary"])  # quotes hold screen text
    assert 2 <= len(re.findall(r"[.!?](?:\s|$)", prose)) <= 4
    for section in out["sections"]:
        assert set(section) == {"title", "timestamp", "endTimestamp", "description", "citations"}
        assert section["timestamp"] < section["endTimestamp"]
        for citation in section["citations"]:
            assert set(citation) == {"type", "timestamp", "evidenceId", "detail"}
    for finding in out["findings"]:
        assert set(finding) == {
            "kind",
            "severity",
            "timestamp",
            "confidence",
            "evidenceIds",
            "title",
        }
    assert len(out["frames"]) == len(result.keyframes) > 0
    assert all(set(f) == {"timestamp", "description", "text"} for f in out["frames"])
    assert out["transcript"] and all(set(t) == {"start", "end", "text"} for t in out["transcript"])
    assert {
        "probe",
        "keyframes",
        "ocr",
        "transcribe",
        "describe",
        "fuse",
        "summarize",
        "total",
    } <= set(out["timings"])
    images = result.keyframe_images()
    assert images and images[0][1].ndim == 3 and images[0][1].dtype.name == "uint8"
    # Sections tile the recording in order.
    sections = out["sections"]
    assert sections[0]["timestamp"] == 0.0
    assert all(a["endTimestamp"] == b["timestamp"] for a, b in itertools.pairwise(sections))


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_event_evidence_ids_are_stable_across_containers(analyse, scenario: str) -> None:
    ids = [
        {
            e.id
            for e in analyse(scenario, c)[0].evidence
            if e.type in {"action", "console", "network"}
        }
        for c in CONTAINERS
    ]
    assert ids[0] == ids[1] and ids[0]


def test_transcript_is_spoken_sentences_at_their_times(analyse, truth) -> None:
    result, _ = analyse("login-500", "webm")
    said = [(s.start, s.text) for s in result.transcript]
    for line in truth("login-500")["speech"]:
        near = [text for start, text in said if abs(start - line["start"]) <= 1.5]
        assert near and max(_similar(t, line["text"]) for t in near) >= 0.6, (line, said)


def _broken_copy(tmp_path: Path, size: int) -> Path:
    source = media_path("login-500", "webm")
    broken = tmp_path / "broken.webm"
    broken.write_bytes(source.read_bytes()[:size])
    return broken


@pytest.mark.parametrize("content", [b"", b"this is not a video at all" * 100])
def test_unreadable_video_raises_media_input_error(engine, tmp_path: Path, content: bytes) -> None:
    video = tmp_path / "bad.webm"
    video.write_bytes(content)
    with pytest.raises(MediaInputError) as error:
        engine.analyze(video, {"metadata": {}})
    assert error.value.reason


def test_truncated_video_fails_cleanly(engine, tmp_path: Path) -> None:
    with pytest.raises(MediaInputError) as error:
        engine.analyze(_broken_copy(tmp_path, 40_000), {})
    assert error.value.reason
    assert not [t for t in threading.enumerate() if t.name.startswith(("transcribe", "ocr"))]


class _FailingTranscriber:
    def __init__(self, error: Exception) -> None:
        self.error = error

    def transcribe(self, path: Any, **kwargs: Any) -> list[Any]:
        raise self.error


@pytest.mark.parametrize(
    "error",
    [
        StageError("the model crashed"),
        MediaInputError("the audio is corrupt"),
        RuntimeError("unexpected"),
    ],
)
def test_a_failed_transcription_stops_the_analysis_with_its_reason(
    engine, monkeypatch, error: Exception
) -> None:
    loaded: Future[Any] = Future()
    loaded.set_result(_FailingTranscriber(error))
    monkeypatch.setattr(engine, "_transcriber_loading", loaded)
    meta = create_body("login-500")
    expected = type(error) if isinstance(error, PipelineError) else StageError
    with pytest.raises(expected) as raised:
        engine.analyze(media_path("login-500", "mp4"), meta)
    assert str(error) in raised.value.reason
    assert not [t for t in threading.enumerate() if t.name.startswith("transcribe")]


@pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="per-thread nice values are Linux's"
)
def test_keyframes_and_ocr_run_below_the_priority_of_transcription(engine) -> None:
    # Each stage reports progress from its own thread; note that thread's nice value.
    seen: dict[str, set[int]] = {}

    def record(stage: str, fraction: float, message: str) -> None:
        if fraction < 0.99:  # the final reports come from the calling thread
            nice = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
            seen.setdefault(stage, set()).add(nice)

    mine = os.getpriority(os.PRIO_PROCESS, threading.get_native_id())
    meta = create_body("login-500")
    engine.analyze(media_path("login-500", "mp4"), meta, progress=record)
    options = engine.options
    assert 0 < options.ocr_niceness < options.keyframe_niceness
    assert seen["keyframes"] == {min(19, mine + options.keyframe_niceness)}
    assert seen["ocr"] == {min(19, mine + options.ocr_niceness)}
    assert seen["transcribe"] == {mine}
    # The calling thread keeps its priority: the lowered threads were the analysis's own.
    assert os.getpriority(os.PRIO_PROCESS, threading.get_native_id()) == mine


def _video_only(source: Path, target: Path) -> Path:
    """Remux the video stream alone (no re-encoding)."""
    import av

    with av.open(str(source)) as src, av.open(str(target), "w") as dst:
        stream_in = src.streams.video[0]
        stream_out = dst.add_stream_from_template(stream_in)
        for packet in src.demux(stream_in):
            if packet.dts is None:
                continue
            packet.stream = stream_out
            dst.mux(packet)
    return target


def test_silent_video_and_empty_metadata_still_give_a_grounded_result(
    engine, tmp_path: Path
) -> None:
    video = _video_only(media_path("login-500", "mp4"), tmp_path / "silent.mp4")
    events: list[tuple[str, float, str]] = []
    result = engine.analyze(video, {}, progress=lambda s, f, m: events.append((s, f, m)))
    out = result.to_dict()
    assert out["recording"]["hasAudio"] is False and out["transcript"] == []
    assert {s for s, f, _ in events if f == 1.0} == set(STAGES)
    # The page change is found from the text turnover alone.
    starts = [s["timestamp"] for s in out["sections"]]
    assert starts[0] == 0.0 and any(abs(t - 6.36) <= 2.0 for t in starts[1:])
    ids = {e["id"] for e in out["evidence"]}
    assert {e["type"] for e in out["evidence"]} <= {"ocr", "visual"}
    assert all(c["evidenceId"] in ids for s in out["sections"] for c in s["citations"])
    # Without events only what the screen itself shows can be reported.
    assert {f["kind"] for f in out["findings"]} <= {"screen_error"}
    assert out["summary"]["summary"].startswith(
        "The recording does not say what the user set out to do."
    )


def test_reasoning_is_deterministic(analyse) -> None:
    from app.pipeline.reasoning.describe import describe_keyframes
    from app.pipeline.reasoning.evidence import build_evidence
    from app.pipeline.reasoning.findings import build_findings
    from app.pipeline.reasoning.options import SignalOptions
    from app.pipeline.reasoning.sections import build_sections
    from app.pipeline.reasoning.signals import detect_signals
    from app.pipeline.reasoning.summary import summarize

    result, _ = analyse("upgrade-checkout", "webm")
    rec, duration = result.capture, result.probe.duration
    frames = describe_keyframes(result.keyframes, rec)
    evidence = build_evidence(rec, result.keyframes, frames, result.transcript)
    signals = detect_signals(rec, evidence, result.keyframes, duration, SignalOptions())
    findings = build_findings(
        signals, evidence, [p.url for p in rec.pages] + list(rec.visited_urls)
    )
    sections = build_sections(rec, frames, evidence, signals, findings, duration)
    assert [ResultEvidence.of(e) for e in evidence] == [
        ResultEvidence.of(e) for e in result.evidence
    ]
    assert [ResultFinding.of(f) for f in findings] == [ResultFinding.of(f) for f in result.findings]
    assert [ResultSection.of(s) for s in sections] == [ResultSection.of(s) for s in result.sections]
    assert summarize(rec, findings, duration, evidence) == result.summary


def _synthetic_recording(folder: Path) -> tuple[Path, dict[str, Any]]:
    """A small shop recording unlike the fixtures: other site, words, prices and error."""
    import av
    import cv2
    import numpy as np

    width, height, fps, seconds = 960, 540, 10, 16

    def page(title: str, lines: list[str], red: str | None = None) -> np.ndarray:
        image = np.full((height, width, 3), 255, np.uint8)
        cv2.rectangle(image, (0, 0), (width, 50), (245, 240, 235), -1)
        cv2.putText(
            image,
            "Northwind Books",
            (20, 33),
            cv2.FONT_HERSHEY_DUPLEX,
            0.8,
            (40, 40, 40),
            1,
            cv2.LINE_AA,
        )
        cv2.putText(
            image, title, (40, 120), cv2.FONT_HERSHEY_DUPLEX, 1.3, (20, 20, 20), 2, cv2.LINE_AA
        )
        for i, text in enumerate(lines):
            cv2.putText(
                image,
                text,
                (40, 190 + 50 * i),
                cv2.FONT_HERSHEY_DUPLEX,
                0.8,
                (50, 50, 50),
                1,
                cv2.LINE_AA,
            )
        if red:
            cv2.putText(
                image,
                red,
                (40, 190 + 50 * len(lines) + 20),
                cv2.FONT_HERSHEY_DUPLEX,
                0.8,
                (30, 30, 210),
                2,
                cv2.LINE_AA,
            )
        return image

    video = folder / "shop.mp4"
    with av.open(str(video), "w") as out:
        stream = out.add_stream("libx264", rate=fps)
        stream.width, stream.height, stream.pix_fmt = width, height, "yuv420p"
        for i in range(seconds * fps):
            t = i / fps
            if t < 6:
                image = page(
                    "Annual membership", ["Reader plan from $12/mo", "Free delivery on every order"]
                )
            elif t < 11:
                image = page("Join the club", ["Reader plan", "$15/mo", "Billed every month"])
            else:
                image = page(
                    "Payment",
                    ["Card holder", "Confirm payment"],
                    red="Payment failed: card declined" if t >= 13 else None,
                )
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)
    start = 1_700_000_000_000
    meta = {
        "metadata": {
            "duration": seconds,
            "url": "https://books.example/",
            "title": "Home | Northwind Books",
            "intent": "Join the reader club.",
            "startedAt": start,
        },
        "actions": [
            {
                "type": "navigate",
                "timestamp": start,
                "url": "https://books.example/",
                "title": "Home | Northwind Books",
            },
            {
                "type": "click",
                "timestamp": start + 5900,
                "selector": "a.join",
                "text": "Join",
                "x": 60,
                "y": 240,
            },
            {
                "type": "navigate",
                "timestamp": start + 6000,
                "url": "https://books.example/club",
                "title": "Club | Northwind Books",
            },
            {
                "type": "click",
                "timestamp": start + 10900,
                "selector": "a.pay",
                "text": "Continue",
                "x": 60,
                "y": 300,
            },
            {
                "type": "navigate",
                "timestamp": start + 11000,
                "url": "https://books.example/pay",
                "title": "Payment | Northwind Books",
            },
            {
                "type": "click",
                "timestamp": start + 12800,
                "selector": "button.confirm",
                "text": "Confirm payment",
                "x": 80,
                "y": 240,
            },
        ],
        "browserState": {
            "consoleLogs": [],
            "networkRequests": [
                {
                    "method": "POST",
                    "url": "https://books.example/api/pay",
                    "status": 402,
                    "durationMs": 150,
                    "timestamp": start + 12850,
                    "resourceType": "fetch",
                }
            ],
        },
        "elements": [
            {
                "selector": "button.confirm",
                "tagName": "BUTTON",
                "text": "Confirm payment",
                "boundingBox": {"x": 30, "y": 220, "width": 250, "height": 40},
            }
        ],
    }
    return video, meta


def test_another_site_is_analysed_without_fixture_knowledge(engine, tmp_path: Path) -> None:
    video, meta = _synthetic_recording(tmp_path)
    result = engine.analyze(video, meta)
    out = result.to_dict()
    assert [(s["title"].split(":")[0], s["timestamp"]) for s in out["sections"]] == [
        ("Home", 0.0),
        ("Club", 6.0),
        ("Payment", 11.0),
    ]
    kinds = {f["kind"]: f for f in out["findings"]}
    assert set(kinds) == {"screen_error", "contradiction", "network_error"}
    assert "card declined" in kinds["screen_error"]["title"]
    shown = " ".join(
        result.evidence.get(i).data.get("text", "") for i in kinds["contradiction"]["evidenceIds"]
    )
    assert "$12" in shown and "$15" in shown
    assert (
        kinds["network_error"]["title"]
        == "POST /api/pay returned HTTP 402 after clicking 'Confirm payment'"
    )
    assert (
        kinds["screen_error"]["confidence"] == "high"
    )  # red on screen and a 402 in the network log
    assert out["summary"]["summary"].startswith("The user set out to join the reader club.")


def test_clicks_that_change_nothing_are_measured_as_rage_and_dead_clicks(
    engine, tmp_path: Path
) -> None:
    video, meta = _synthetic_recording(tmp_path)
    start = meta["metadata"]["startedAt"]
    meta["actions"] += [
        {
            "type": "click",
            "timestamp": start + 2000 + 350 * i,
            "selector": "button.coupon",
            "text": "Apply coupon",
            "x": 500,
            "y": 300,
        }
        for i in range(4)
    ]
    meta["elements"].append(
        {
            "selector": "button.coupon",
            "tagName": "BUTTON",
            "text": "Apply coupon",
            "boundingBox": {"x": 450, "y": 285, "width": 120, "height": 30},
        }
    )
    out = engine.analyze(video, meta).to_dict()
    found = {f["kind"]: f for f in out["findings"]}
    coupon = [f"ev-action-{i}" for i in range(6, 10)]
    assert found["rage_click"]["evidenceIds"] == coupon
    assert found["dead_click"]["evidenceIds"] == coupon
    # The navigating and paying clicks did something: they are not dead.
    assert {f["kind"] for f in out["findings"]} == {
        "screen_error",
        "contradiction",
        "network_error",
        "rage_click",
        "dead_click",
    }
    cited = {c["evidenceId"]: c["type"] for s in out["sections"] for c in s["citations"]}
    assert all(cited[i] == "rage_click" for i in coupon)


def test_a_model_that_cannot_be_loaded_is_a_stage_error(tmp_path: Path) -> None:
    from app.pipeline import Engine, EngineOptions, OcrOptions

    engine = Engine(EngineOptions(ocr=OcrOptions(tessdata_path=str(tmp_path))))
    with pytest.raises(StageError, match="no Tesseract data"):
        engine.ready()
    meta = create_body("login-500")
    with pytest.raises(StageError, match="no Tesseract data"):
        engine.analyze(media_path("login-500", "mp4"), meta)
    assert not [t for t in threading.enumerate() if t.name.startswith(("transcribe", "ocr"))]

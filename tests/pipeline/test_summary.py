"""Findings: grouping, corroboration, confidence; the deterministic summary."""

from __future__ import annotations

import re

from app.pipeline.describe import describe_keyframes
from app.pipeline.evidence import build_evidence
from app.pipeline.signals import SignalOptions, detect_signals
from app.pipeline.summary import build_findings, summarize
from app.pipeline.types import TranscriptSegment
from tests.pipeline.factories import capture, keyframe, line


def _report(network=(), console=(), speech=(), screen=(), actions=(), intent="Buy a ticket."):  # type: ignore[no-untyped-def]
    rec = capture(
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
    descriptions = describe_keyframes(keyframes, rec)
    evidence = build_evidence(rec, keyframes, descriptions, list(speech))
    findings = build_findings(
        detect_signals(rec, evidence, keyframes, 40.0, SignalOptions()), evidence
    )
    return rec, evidence, findings


FAIL = {"method": "POST", "url": "http://t.test/api/buy", "status": 503, "timestamp": 5000}


def test_a_lone_failed_request_is_medium_confidence() -> None:
    _, _, findings = _report(network=[FAIL])
    assert [(f.kind, f.severity, f.confidence) for f in findings] == [
        ("network_error", "high", "medium")
    ]
    assert findings[0].evidence_ids == ("ev-net-0",) and findings[0].time == 5.0


def test_repeats_group_and_independent_sources_raise_confidence() -> None:
    again = {**FAIL, "timestamp": 15000}
    _, _, findings = _report(
        network=[FAIL, again],
        console=[
            {
                "level": "error",
                "message": "BuyError: upstream (request id req_1a2b3c)",
                "timestamp": 5300,
            },
            {
                "level": "error",
                "message": "BuyError: upstream (request id req_9f8e7d)",
                "timestamp": 15300,
            },
        ],
        screen=[(6.0, "Sorry, something went wrong")],
        speech=[TranscriptSegment(start=7.0, end=9.0, text="It says something went wrong.")],
    )
    by_kind = {f.kind: f for f in findings}
    assert set(by_kind) == {"network_error", "console_error", "screen_error"}
    network = by_kind["network_error"]
    assert network.title == "POST /api/buy returned HTTP 503 (2x)"
    assert {"ev-net-0", "ev-net-1", "ev-console-0", "ev-ocr-0", "ev-speech-0"} <= set(
        network.evidence_ids
    )
    assert all(f.confidence == "high" for f in findings)
    assert by_kind["console_error"].title.endswith("(2x)")


def test_speech_alone_is_a_low_confidence_user_report() -> None:
    _, _, findings = _report(
        speech=[TranscriptSegment(start=3.0, end=5.0, text="The button does not work.")]
    )
    assert [(f.kind, f.confidence, f.evidence_ids) for f in findings] == [
        ("user_reported", "low", ("ev-speech-0",))
    ]


def test_summary_states_intent_path_problems_and_outcome() -> None:
    rec, evidence, findings = _report(
        network=[FAIL],
        actions=[{"type": "click", "timestamp": 4900, "selector": "#buy", "text": "Buy"}],
    )
    summary = summarize(rec, findings, 40.0, evidence)
    sentences = re.findall(r"[^.]+\.", summary.summary)
    assert 2 <= len(sentences) <= 4
    assert summary.summary.startswith("The user set out to buy a ticket.")
    assert "Tickets" in summary.summary and "1 click" in summary.summary
    assert "HTTP 503" in summary.summary
    assert summary.key_findings == ("POST /api/buy returned HTTP 503 after clicking 'Buy'",)


def test_a_clean_session_says_so() -> None:
    rec, evidence, findings = _report(intent="")
    assert findings == []
    summary = summarize(rec, findings, 40.0, evidence)
    assert summary.key_findings == ()
    assert "No errors, failed requests or on-screen problems were observed." in summary.summary


def test_third_party_failures_are_graded_low() -> None:
    rec, evidence, _ = _report(
        network=[
            FAIL,
            {"method": "GET", "url": "http://ads.example/pixel", "status": 0, "timestamp": 9000},
        ]
    )
    signals = detect_signals(rec, evidence, [], 40.0, SignalOptions())
    findings = build_findings(signals, evidence, [p.url for p in rec.pages])
    assert [(f.title, f.severity) for f in findings] == [
        ("POST /api/buy returned HTTP 503", "high"),
        ("GET /pixel returned a network error (no response)", "low"),
    ]


def test_failed_static_resources_are_one_finding_and_third_party_console_errors_low() -> None:
    images = [
        {
            "method": "GET",
            "url": f"http://t.test/img/{i}.png",
            "status": 404,
            "resourceType": "image",
            "timestamp": 1000 + i,
        }
        for i in range(3)
    ]
    rec, evidence, _ = _report(
        network=images,
        console=[
            {
                "level": "error",
                "message": "widget crashed",
                "url": "https://cdn.widgets.example/w.js",
                "timestamp": 3000,
            },
        ],
    )
    findings = build_findings(
        detect_signals(rec, evidence, [], 40.0, SignalOptions()),
        evidence,
        [p.url for p in rec.pages],
    )
    assert [(f.kind, f.severity) for f in findings] == [
        ("network_error", "medium"),
        ("console_error", "low"),
    ]
    assert findings[0].title.startswith("3 image requests failed (HTTP 404)")
    assert len(findings[0].evidence_ids) == 3


def test_the_browsers_echo_is_not_independent_corroboration() -> None:
    echo = {
        "level": "error",
        "url": FAIL["url"],
        "timestamp": 5400,
        "message": "Failed to load resource: the server responded with a status of 503",
    }
    _, _, findings = _report(network=[FAIL], console=[echo])
    assert [(f.kind, f.confidence, f.evidence_ids) for f in findings] == [
        ("network_error", "medium", ("ev-net-0", "ev-console-0"))
    ]


def test_console_errors_corroborate_only_the_request_they_belong_to() -> None:
    unrelated = {"level": "error", "message": "Chart failed to render", "timestamp": 6500}
    named = {"level": "error", "message": "Buy failed with status 503", "timestamp": 6500}
    at_response = {"level": "error", "message": "ValidationError: seat taken", "timestamp": 5250}
    slow = {**FAIL, "durationMs": 250}
    for entry, joined in ((unrelated, False), (named, True), (at_response, True)):
        _, _, findings = _report(network=[slow], console=[entry])
        network = next(f for f in findings if f.kind == "network_error")
        assert ("ev-console-0" in network.evidence_ids) is joined, entry
        assert network.confidence == ("high" if joined else "medium")


def test_without_a_typed_intent_the_spoken_one_is_quoted() -> None:
    rec, evidence, findings = _report(
        intent="",
        speech=[
            TranscriptSegment(start=1.0, end=3.0, text="Okay, recording now."),
            TranscriptSegment(start=3.0, end=6.0, text="I'm trying to change my billing address."),
        ],
    )
    summary = summarize(rec, findings, 40.0, evidence)
    assert summary.summary.startswith('The user said: "I\'m trying to change my billing address."')

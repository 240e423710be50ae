"""Findings: grouping, corroboration, confidence, severity."""

from __future__ import annotations

from app.pipeline.reasoning.findings import build_findings
from app.pipeline.reasoning.options import SignalOptions
from app.pipeline.reasoning.signals import detect_signals
from app.pipeline.types import TranscriptSegment
from tests.pipeline.factories import FAILED_PURCHASE, ticket_report


def test_a_lone_failed_request_is_medium_confidence() -> None:
    _, _, findings = ticket_report(network=[FAILED_PURCHASE])
    assert [(f.kind, f.severity, f.confidence) for f in findings] == [
        ("network_error", "high", "medium")
    ]
    assert findings[0].evidence_ids == ("ev-net-0",) and findings[0].time == 5.0


def test_repeats_group_and_independent_sources_raise_confidence() -> None:
    again = {**FAILED_PURCHASE, "timestamp": 15000}
    _, _, findings = ticket_report(
        network=[FAILED_PURCHASE, again],
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
    _, _, findings = ticket_report(
        speech=[TranscriptSegment(start=3.0, end=5.0, text="The button does not work.")]
    )
    assert [(f.kind, f.confidence, f.evidence_ids) for f in findings] == [
        ("user_reported", "low", ("ev-speech-0",))
    ]


def test_third_party_failures_are_graded_low() -> None:
    rec, evidence, _ = ticket_report(
        network=[
            FAILED_PURCHASE,
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
    rec, evidence, _ = ticket_report(
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
        "url": FAILED_PURCHASE["url"],
        "timestamp": 5400,
        "message": "Failed to load resource: the server responded with a status of 503",
    }
    _, _, findings = ticket_report(network=[FAILED_PURCHASE], console=[echo])
    assert [(f.kind, f.confidence, f.evidence_ids) for f in findings] == [
        ("network_error", "medium", ("ev-net-0", "ev-console-0"))
    ]


def test_console_errors_corroborate_only_the_request_they_belong_to() -> None:
    unrelated = {"level": "error", "message": "Chart failed to render", "timestamp": 6500}
    named = {"level": "error", "message": "Buy failed with status 503", "timestamp": 6500}
    at_response = {"level": "error", "message": "ValidationError: seat taken", "timestamp": 5250}
    slow = {**FAILED_PURCHASE, "durationMs": 250}
    for entry, joined in ((unrelated, False), (named, True), (at_response, True)):
        _, _, findings = ticket_report(network=[slow], console=[entry])
        network = next(f for f in findings if f.kind == "network_error")
        assert ("ev-console-0" in network.evidence_ids) is joined, entry
        assert network.confidence == ("high" if joined else "medium")

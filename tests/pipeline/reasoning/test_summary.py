"""The deterministic summary: intent (typed or said), the path taken, problems, the outcome."""

from __future__ import annotations

import re

from app.pipeline.reasoning.summary import summarize
from app.pipeline.types import TranscriptSegment
from tests.pipeline.factories import FAILED_PURCHASE, ticket_report


def test_summary_states_intent_path_problems_and_outcome() -> None:
    rec, evidence, findings = ticket_report(
        network=[FAILED_PURCHASE],
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
    rec, evidence, findings = ticket_report(intent="")
    assert findings == []
    summary = summarize(rec, findings, 40.0, evidence)
    assert summary.key_findings == ()
    assert "No errors, failed requests or on-screen problems were observed." in summary.summary


def test_without_a_typed_intent_the_spoken_one_is_quoted() -> None:
    rec, evidence, findings = ticket_report(
        intent="",
        speech=[
            TranscriptSegment(start=1.0, end=3.0, text="Okay, recording now."),
            TranscriptSegment(start=3.0, end=6.0, text="I'm trying to change my billing address."),
        ],
    )
    summary = summarize(rec, findings, 40.0, evidence)
    assert summary.summary.startswith('The user said: "I\'m trying to change my billing address."')

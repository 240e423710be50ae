"""The deterministic summary: what the user set out to do, what happened, how it ended.

It states only what the capture and the findings show, and quotes the user where they said
what they wanted rather than paraphrasing them.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from app.pipeline.capture import Capture
from app.pipeline.reasoning.evidence import EvidenceTable
from app.pipeline.reasoning.findings import Finding

_INTENT_RE = re.compile(
    r"\b(i want|i'm trying|i am trying|i need|i'd like|i would like|trying to|going to)\b",
    re.IGNORECASE,
)


@dataclass(frozen=True, kw_only=True, slots=True)
class Summary:
    summary: str
    key_findings: tuple[str, ...]


def _lower_first(text: str) -> str:
    return text[:1].lower() + text[1:] if text[:1].isupper() and not text[1:2].isupper() else text


def summarize(
    capture: Capture, findings: Sequence[Finding], duration: float, evidence: EvidenceTable
) -> Summary:
    """Two to four sentences (intent, what happened, outcome) and the key findings."""
    sentences: list[str] = []
    intent = (capture.intent or "").strip().rstrip(".")
    stated = next(
        (
            str(e.data.get("text"))
            for e in evidence.of_type("speech")
            if _INTENT_RE.search(str(e.data.get("text", "")))
        ),
        None,
    )
    if intent:
        sentences.append(f"The user set out to {_lower_first(intent)}.")
    elif stated:
        # No intent was typed in, but the user said it: quote them rather than paraphrase.
        sentences.append(f'The user said: "{stated}"')
    else:
        sentences.append("The recording does not say what the user set out to do.")
    names = list(dict.fromkeys(capture.page_name(p) for p in capture.pages))
    clicks = sum(1 for a in capture.actions if a.type == "click")
    inputs = len({a.selector for a in capture.actions if a.type == "input"})
    activity = []
    if clicks:
        activity.append(f"{clicks} click{'s' if clicks != 1 else ''}")
    if inputs:
        activity.append(f"typing into {inputs} field{'s' if inputs != 1 else ''}")
    if names:
        pages = names[0] if len(names) == 1 else ", ".join(names[:-1]) + f" and {names[-1]}"
        sentence = f"Over {duration:.0f} s they visited {pages}"
        sentences.append(sentence + (f" ({', '.join(activity)})." if activity else "."))
    else:
        sentences.append(
            f"The recorder sent no page events; this account of {duration:.0f} s "
            "comes from the screen alone."
        )
    serious = [f for f in findings if f.severity in ("high", "medium")]
    if serious:
        listed = "; ".join(f.title for f in serious[:2])
        sentences.append(f"Problems observed: {listed}.")
        # The last moment any serious finding was observed (repeats included).
        last = max(
            (
                item.time
                for f in serious
                for item in map(evidence.get, f.evidence_ids)
                if item is not None and item.type != "action"
            ),
            default=max(f.time for f in serious),
        )
        final_page = capture.pages[-1] if capture.pages else None
        if final_page and last >= final_page.start:
            # State only what was observed: where it ended and that no page followed.
            sentences.append(
                f"The recording ends on {capture.page_name(final_page)} "
                f"{max(0.0, duration - last):.0f} s after the last sign of a problem, "
                "without moving on to another page."
            )
    else:
        sentences.append("No errors, failed requests or on-screen problems were observed.")
    key_findings = tuple(f.title for f in findings[:8])
    return Summary(summary=" ".join(sentences[:4]), key_findings=key_findings)

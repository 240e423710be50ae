"""Optional language-model adapter: an OpenAI-compatible chat-completions client.

The model only rewrites prose from the evidence table. Whatever it answers is
checked: evidence ids it cites must exist, times come from the evidence (never
from the model), and a finding left with no valid evidence is dropped. Any
failure of the service falls back to the deterministic report.
"""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from app.pipeline.reasoning.evidence import EvidenceTable
from app.pipeline.reasoning.findings import SEVERITIES, Finding, finding_confidence
from app.pipeline.reasoning.summary import Summary

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class ChatConfig:
    """Where an OpenAI-compatible chat-completions service is and which model to ask."""

    base_url: str
    """Up to and including the version, e.g. ``http://127.0.0.1:8000/v1``."""
    model: str
    api_key: str | None = None
    timeout_s: float = 60.0
    max_tokens: int = 800
    temperature: float = 0.0


class ChatError(Exception):
    """The service could not be reached or answered something unusable."""


class ChatClient:
    """A small synchronous client for ``POST {base_url}/chat/completions``."""

    def __init__(self, config: ChatConfig) -> None:
        # Imported here: most engines run without a model service, and every process that
        # starts an analysis would otherwise pay for importing the HTTP stack first.
        import httpx

        self._errors = (httpx.HTTPError, ValueError, KeyError, IndexError, TypeError)
        self.config = config
        headers = {"Authorization": f"Bearer {config.api_key}"} if config.api_key else {}
        self._http = httpx.Client(
            base_url=config.base_url.rstrip("/"), headers=headers, timeout=config.timeout_s
        )

    def close(self) -> None:
        """Release the connection pool."""
        self._http.close()

    def complete(self, messages: Sequence[dict[str, Any]]) -> str:
        """The assistant's reply text for ``messages``; raises :class:`ChatError`."""
        body = {
            "model": self.config.model,
            "messages": list(messages),
            "max_tokens": self.config.max_tokens,
            "temperature": self.config.temperature,
        }
        try:
            response = self._http.post("/chat/completions", json=body)
            response.raise_for_status()
            content = response.json()["choices"][0]["message"]["content"]
        except self._errors as exc:
            raise ChatError(f"chat completion failed: {exc}") from exc
        if not isinstance(content, str):
            raise ChatError("chat completion returned no text")
        return content


def parse_json_reply(text: str) -> dict[str, Any]:
    """The JSON object in a model reply (tolerating code fences and chatter)."""
    match = re.search(r"\{.*\}", text, re.DOTALL)
    if not match:
        raise ChatError("reply holds no JSON object")
    try:
        value = json.loads(match.group(0))
    except json.JSONDecodeError as exc:
        raise ChatError(f"reply is not valid JSON: {exc}") from exc
    if not isinstance(value, dict):
        raise ChatError("reply is not a JSON object")
    return value


_SYSTEM = (
    "You write bug reports from a browser session recording. You get the user's intent, an "
    "evidence table (id, time in seconds, type, detail) and the findings detected so far. "
    "Use only facts in the table; never invent a problem. Cite evidence by its exact id. "
    'Answer with one JSON object: {"summary": "2-4 sentences: intent, what happened, outcome", '
    '"findings": [{"kind": "...", "severity": "high|medium|low", "title": "short", '
    '"evidenceIds": ["ev-..."]}]}'
)


def _evidence_rows(evidence: EvidenceTable, limit: int = 300) -> str:
    rows = [f"{e.id}\t{e.time:.1f}\t{e.type}\t{e.detail[:200]}" for e in evidence]
    return "\n".join(rows[:limit])


def write_report(
    client: ChatClient,
    *,
    intent: str | None,
    evidence: EvidenceTable,
    findings: Sequence[Finding],
    summary: Summary,
) -> tuple[Summary, list[Finding]]:
    """Let the model write the prose; keep only what the evidence backs.

    Returns the deterministic ``summary``/``findings`` unchanged when the
    service fails or answers nonsense.
    """
    detected = "\n".join(
        f"- [{f.kind}/{f.severity}] {f.title} ({', '.join(f.evidence_ids)})" for f in findings
    )
    user = (
        f"Intent: {intent or 'unknown'}\n\nEvidence (id, seconds, type, detail):\n"
        f"{_evidence_rows(evidence)}\n\nDetected findings:\n{detected or '- none'}"
    )
    try:
        reply = parse_json_reply(
            client.complete(
                [
                    {"role": "system", "content": _SYSTEM},
                    {"role": "user", "content": user},
                ]
            )
        )
    except ChatError as exc:
        log.warning("language model unavailable, keeping the deterministic report: %s", exc)
        return summary, list(findings)
    return merge_report(reply, evidence=evidence, findings=findings, summary=summary)


def merge_report(
    reply: dict[str, Any],
    *,
    evidence: EvidenceTable,
    findings: Sequence[Finding],
    summary: Summary,
) -> tuple[Summary, list[Finding]]:
    """Fold a model's reply into the deterministic report, validating every citation.

    A model finding that cites the same evidence as a detected one rewords its
    title; one that cites new, existing evidence is added with its time taken
    from that evidence; one without valid evidence is dropped.
    """
    merged = list(findings)
    raw = reply.get("findings")
    for item in raw if isinstance(raw, list) else []:
        if not isinstance(item, dict):
            continue
        ids = item.get("evidenceIds")
        valid = (
            [i for i in ids if isinstance(i, str) and i in evidence]
            if isinstance(ids, list)
            else []
        )
        title = item.get("title")
        if not valid or not isinstance(title, str) or not title.strip():
            continue
        title = " ".join(title.split())[:200]
        overlap = next((i for i, f in enumerate(merged) if set(valid) & set(f.evidence_ids)), None)
        if overlap is not None:
            old = merged[overlap]
            merged[overlap] = Finding(
                kind=old.kind,
                severity=old.severity,
                time=old.time,
                confidence=old.confidence,
                evidence_ids=old.evidence_ids,
                title=title,
            )
            continue
        severity = str(item["severity"]) if item.get("severity") in SEVERITIES else "low"
        kind = str(item["kind"]) if isinstance(item.get("kind"), str) and item["kind"] else "other"
        time = min(evidence.get(i).time for i in valid)  # type: ignore[union-attr]
        merged.append(
            Finding(
                kind=kind,
                severity=severity,
                time=time,
                confidence=finding_confidence(valid, evidence),
                evidence_ids=tuple(dict.fromkeys(valid)),
                title=title,
            )
        )
    text = reply.get("summary")
    prose = " ".join(text.split()) if isinstance(text, str) and text.strip() else summary.summary
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    merged.sort(key=lambda f: (rank.get(f.severity, 3), f.time))
    return Summary(summary=prose, key_findings=tuple(f.title for f in merged[:8])), merged

"""Findings: signals grouped, corroborated by one another, and graded.

A finding's confidence is "high" only when two independent sources agree
(for example an error on screen and a 422 in the network log); one strong
source gives "medium" and speech alone "low".
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Callable, Sequence, Set
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from app.pipeline.reasoning.evidence import EvidenceTable
from app.pipeline.reasoning.lexicon import similar
from app.pipeline.reasoning.options import FindingOptions
from app.pipeline.reasoning.signals import Signal

SEVERITIES = ("high", "medium", "low")
# Where each evidence type comes from; two different sources corroborate.
_SOURCE = {
    "network": "network",
    "console": "console",
    "ocr": "screen",
    "visual": "screen",
    "speech": "speech",
    "action": "actions",
}


@dataclass(frozen=True, kw_only=True, slots=True)
class Finding:
    kind: str
    severity: str  # high, medium, low
    time: float
    confidence: str  # high, medium, low
    evidence_ids: tuple[str, ...]
    title: str


@dataclass(kw_only=True, slots=True)
class _Group:
    """Occurrences of one problem: signals of one kind with the same key."""

    kind: str
    key: str
    signals: list[Signal]

    @property
    def time(self) -> float:
        return self.signals[0].time

    @property
    def own_ids(self) -> list[str]:
        return [e for s in self.signals for e in s.evidence_ids]


def _group(signals: Sequence[Signal]) -> list[_Group]:
    groups: list[_Group] = []
    for signal in signals:
        for group in groups:
            if group.kind != signal.kind:
                continue
            if group.key == signal.key or (
                signal.kind == "screen_error" and similar(group.key, signal.key, normalized=True)
            ):
                group.signals.append(signal)
                break
        else:
            groups.append(_Group(kind=signal.kind, key=signal.key, signals=[signal]))
    return groups


def _between(ordered: Sequence[Signal], start: float, end: float) -> Sequence[Signal]:
    """The signals of a time-ordered list with ``start <= time <= end``."""
    lo = bisect_left(ordered, start, key=lambda s: s.time)
    hi = bisect_right(ordered, end, key=lambda s: s.time)
    return ordered[lo:hi]


def _near(group: _Group, others: Sequence[Signal], before: float, after: float) -> list[Signal]:
    """Signals of time-ordered ``others`` within [-before, +after] s of one in ``group``."""
    found: dict[int, Signal] = {}
    for signal in group.signals:
        for other in _between(others, signal.time - before, signal.time + after):
            found.setdefault(id(other), other)
    return sorted(found.values(), key=lambda s: s.time)


def _related_to(
    requests: Sequence[Signal], entries: Sequence[Signal], options: FindingOptions
) -> list[Signal]:
    """Console signals (time-ordered) that belong to any of ``requests``."""
    found: dict[int, Signal] = {}
    for request in requests:
        start, end = request.time - options.console_lead_s, request.time + options.echo_lag_s
        for entry in _between(entries, start, end):
            if related(request, entry, options):
                found.setdefault(id(entry), entry)
    return sorted(found.values(), key=lambda s: s.time)


def finding_confidence(
    ids: Sequence[str], evidence: EvidenceTable, dependent: Set[str] = frozenset()
) -> str:
    """ "high" when two independent sources agree, "low" for speech alone, else "medium".

    ``dependent`` items restate another item (the browser's console echo of a
    failed request) and do not count as a source of their own.
    """
    sources = set()
    for evidence_id in ids:
        if evidence_id in dependent:
            continue
        item = evidence.get(evidence_id)
        if item is not None and item.type != "action":
            sources.add(_SOURCE.get(item.type, item.type))
    if len(sources) >= 2:
        return "high"
    if sources == {"speech"}:
        return "low"
    return "medium"


def _unique(ids: Sequence[str]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(ids))


def _times(group: _Group) -> str:
    return f" ({len(group.signals)}x)" if len(group.signals) > 1 else ""


def related(request: Signal, entry: Signal, options: FindingOptions) -> bool:
    """Whether a console error belongs to a failed request.

    It does when it is the browser's echo of the request's URL, when its
    message names the request's status or path, or when it was logged as the
    response arrived; being merely close in time is not enough.
    """
    url = request.data.get("url")
    after = entry.time - request.time
    if entry.data.get("echo"):
        return (
            entry.data.get("url") == url and -options.console_lead_s <= after <= options.echo_lag_s
        )
    if not -options.console_lead_s <= after <= options.console_lag_s:
        return False
    message = str(entry.data.get("message", "")).lower()
    status = request.data.get("status")
    if status and re.search(rf"\b{status}\b", message):
        return True
    tail = urlsplit(url).path.rstrip("/").rsplit("/", 1)[-1].lower() if isinstance(url, str) else ""
    if len(tail) > 2 and tail in message:
        return True
    responded = float(request.data.get("responseTime", request.time))
    return abs(entry.time - responded) <= options.response_skew_s


def _host(url: Any) -> str:
    return urlsplit(url).netloc.lower() if isinstance(url, str) else ""


@dataclass(kw_only=True)
class _Context:
    """What the finding builders share: the signals by kind, the evidence, and the user's
    complaints cited so far (one no finding cites becomes a finding of its own)."""

    evidence: EvidenceTable
    options: FindingOptions
    by_kind: dict[str, list[Signal]]
    page_hosts: set[str]
    used_speech: set[str] = field(default_factory=set)

    def of(self, kind: str) -> list[Signal]:
        """The signals of ``kind``, in time order."""
        return self.by_kind.get(kind, [])

    @property
    def network(self) -> list[Signal]:
        return self.of("network_error")

    @property
    def console(self) -> list[Signal]:
        """Console errors that are not the browser's echo of a failed request."""
        return [s for s in self.of("console_error") if not s.data.get("echo")]

    @property
    def echo_ids(self) -> set[str]:
        return {e for s in self.of("console_error") if s.data.get("echo") for e in s.evidence_ids}

    def speech_near(self, group: _Group, window: tuple[float, float]) -> list[str]:
        """The complaints within ``window`` of the group's signals, now cited."""
        ids = [e for s in _near(group, self.of("user_problem"), *window) for e in s.evidence_ids]
        self.used_speech.update(ids)
        return ids

    def trigger(self, group: _Group) -> tuple[list[str], str]:
        """The click the group's errors followed, and its label, if any."""
        ids = {e for s in group.signals for e in s.evidence_ids}
        for click in self.of("error_click"):
            if ids & set(click.evidence_ids[1:]):
                return [click.evidence_ids[0]], str(click.data.get("label", ""))
        return [], ""


def _network_finding(group: _Group, ctx: _Context) -> Finding:
    """A failed request, with the console errors, screen errors and complaints it explains."""
    options = ctx.options
    status = group.signals[0].data.get("status")
    # A third-party request (analytics, ads) failing rarely breaks the user's task.
    third_party = _host(group.signals[0].data.get("url")) not in ctx.page_hosts
    related_console = _related_to(group.signals, ctx.of("console_error"), options)
    support = [e for c in related_console for e in c.evidence_ids]
    window = options.network_screen_window_s
    support += [e for s in _near(group, ctx.of("screen_error"), *window) for e in s.evidence_ids]
    support += ctx.speech_near(group, options.log_speech_window_s)
    click_ids, label = ctx.trigger(group)
    ids = _unique([*group.own_ids, *support, *click_ids])
    title = group.signals[0].title + (f" after clicking '{label}'" if label else "") + _times(group)
    paths = {s.data.get("url") for s in group.signals}
    if group.key.startswith("static ") and len(paths) > 1:
        kind = group.signals[0].data.get("resourceType") or "resource"
        title = (
            f"{len(paths)} {kind} requests failed "
            f"({'HTTP ' + str(status) if status else 'no response'}), "
            f"first {group.signals[0].title}"
        )
    severity = "low" if third_party else "high" if not status or status >= 500 else "medium"
    return Finding(
        kind="network_error",
        severity=severity,
        time=group.time,
        confidence=finding_confidence(ids, ctx.evidence, ctx.echo_ids),
        evidence_ids=ids,
        title=title,
    )


def _console_finding(group: _Group, ctx: _Context) -> Finding:
    """A console error, with the failed requests it belongs to and what the user saw and said."""
    options = ctx.options
    # Errors logged by third-party scripts (ads, widgets) rarely break the user's task.
    hosts = {_host(s.data.get("url")) for s in group.signals if s.data.get("url")}
    third_party = bool(hosts) and not hosts & ctx.page_hosts
    support = [
        e
        for r in _between(
            ctx.network,
            group.time - options.echo_lag_s,
            group.signals[-1].time + options.console_lead_s,
        )
        if _related_to([r], group.signals, options)
        for e in r.evidence_ids
    ]
    window = options.console_screen_window_s
    support += [e for s in _near(group, ctx.of("screen_error"), *window) for e in s.evidence_ids]
    support += ctx.speech_near(group, options.log_speech_window_s)
    ids = _unique([*group.own_ids, *support])
    return Finding(
        kind="console_error",
        severity="low" if third_party else "medium",
        time=group.time,
        confidence=finding_confidence(ids, ctx.evidence),
        evidence_ids=ids,
        title=group.signals[0].title + _times(group),
    )


def _screen_finding(group: _Group, ctx: _Context) -> Finding:
    """An error on screen; high when drawn in red and corroborated by a log or the user."""
    options = ctx.options
    logged = ctx.network + ctx.console
    window = options.screen_log_window_s
    support = [e for s in _near(group, logged, *window) for e in s.evidence_ids]
    support += ctx.speech_near(group, options.screen_speech_window_s)
    styled = any(s.data.get("errorStyled") for s in group.signals)
    ids = _unique([*group.own_ids, *support])
    return Finding(
        kind="screen_error",
        severity="high" if styled and support else "medium",
        time=group.time,
        confidence=finding_confidence(ids, ctx.evidence),
        evidence_ids=ids,
        title=group.signals[0].title + (" in red" if styled else "") + _times(group),
    )


def _contradiction_finding(group: _Group, ctx: _Context) -> Finding:
    """Values that disagree; what the user said about them is part of the signal already."""
    signal = group.signals[0]
    ctx.used_speech.update(signal.data.get("speech", ()))
    ids = _unique(group.own_ids)
    return Finding(
        kind="contradiction",
        severity="medium",
        time=group.time,
        confidence=finding_confidence(ids, ctx.evidence),
        evidence_ids=ids,
        title=signal.title,
    )


def _graded(severity: str) -> Callable[[_Group, _Context], Finding]:
    """A builder for a kind of the given severity that only the user's complaints corroborate
    (rage and dead clicks, slow requests)."""

    def build(group: _Group, ctx: _Context) -> Finding:
        support = ctx.speech_near(group, ctx.options.click_speech_window_s)
        ids = _unique([*group.own_ids, *support])
        return Finding(
            kind=group.kind,
            severity=severity,
            time=group.time,
            confidence=finding_confidence(ids, ctx.evidence),
            evidence_ids=ids,
            title=group.signals[0].title + _times(group),
        )

    return build


def _complaint_finding(group: _Group, ctx: _Context) -> Finding | None:
    """A complaint no other finding cited, reported as the user's own; None once cited."""
    signal = group.signals[0]
    if set(signal.evidence_ids) & ctx.used_speech:
        return None
    return Finding(
        kind="user_reported",
        severity="low",
        time=signal.time,
        confidence="low",
        evidence_ids=signal.evidence_ids,
        title=signal.title,
    )


_BUILDERS: dict[str, Callable[[_Group, _Context], Finding | None]] = {
    "network_error": _network_finding,
    "console_error": _console_finding,
    "screen_error": _screen_finding,
    "contradiction": _contradiction_finding,
    "rage_click": _graded("medium"),
    "dead_click": _graded("low"),
    "slow_request": _graded("low"),
    # Last: a complaint stands alone only when no finding above cited it.
    "user_problem": _complaint_finding,
}
"""One builder per kind of signal grouped into findings, in the order they are built. Clicks
followed by an error are not among them: they name the click in the error's finding."""


def build_findings(
    signals: Sequence[Signal],
    evidence: EvidenceTable,
    page_urls: Sequence[str] = (),
    options: FindingOptions | None = None,
) -> list[Finding]:
    """Group signals into findings, attach corroboration, grade severity and confidence.

    The browser's "Failed to load resource" console line and a click followed
    by an error are folded into the error they belong to rather than reported
    twice; the user's spoken complaints corroborate the finding they refer to
    and only stand alone when nothing else explains them. ``page_urls`` are the
    pages the user visited: failures on other hosts are graded low.
    """
    by_kind: dict[str, list[Signal]] = {}
    for signal in sorted(signals, key=lambda s: s.time):
        by_kind.setdefault(signal.kind, []).append(signal)
    ctx = _Context(
        evidence=evidence,
        options=options or FindingOptions(),
        by_kind=by_kind,
        page_hosts={_host(url) for url in page_urls} or {_host(s.data.get("url")) for s in signals},
    )
    findings: list[Finding] = []
    for kind, build in _BUILDERS.items():
        # The browser's echo of a failed request restates it: it is folded into that finding.
        for group in _group([s for s in ctx.of(kind) if not s.data.get("echo")]):
            finding = build(group, ctx)
            if finding is not None:
                findings.append(finding)
    rank = {s: i for i, s in enumerate(SEVERITIES)}
    return sorted(findings, key=lambda f: (rank[f.severity], f.time))

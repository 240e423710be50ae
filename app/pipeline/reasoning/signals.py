"""Problem signals derived from the evidence table.

A signal is one detected occurrence (one failed request, one burst of clicks,
one error message appearing on screen). The summary stage groups and
corroborates signals into findings. Every signal names the evidence it stands
on; nothing here is inferred without an observation behind it.
"""

from __future__ import annotations

import re
from bisect import bisect_left, bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from app.pipeline.capture import Capture, UserAction
from app.pipeline.reasoning.describe import usable_lines
from app.pipeline.reasoning.evidence import (
    Evidence,
    EvidenceTable,
    action_id,
    console_id,
    network_id,
)
from app.pipeline.reasoning.lexicon import (
    Quantity,
    extract_quantities,
    is_problem_speech,
    label_tokens,
    normalize,
    tidy,
)
from app.pipeline.reasoning.options import SignalOptions
from app.pipeline.types import Box, Keyframe, OcrLine

SIGNAL_KINDS = (
    "network_error",
    "slow_request",
    "console_error",
    "screen_error",
    "rage_click",
    "dead_click",
    "error_click",
    "user_problem",
    "contradiction",
)

# Elements whose click legitimately shows almost nothing (a caret) until typed into.
_FOCUS_TAGS = frozenset({"input", "textarea", "select", "label", "option"})
# Long-lived connections whose "duration" is not a latency.
_STREAM_TYPES = frozenset({"websocket", "eventsource", "media", "ping", "beacon"})
# Failures of these are grouped by type and status: twelve missing images are one problem.
_STATIC_TYPES = frozenset({"image", "font", "stylesheet", "media", "manifest", "other"})


@dataclass(frozen=True, kw_only=True, slots=True)
class Signal:
    """One detected occurrence of a problem."""

    kind: str  # one of SIGNAL_KINDS
    time: float
    evidence_ids: tuple[str, ...]
    title: str
    key: str  # occurrences with the same key are the same problem repeating
    data: Mapping[str, Any] = field(default_factory=dict)


def _short_url(url: str) -> str:
    parts = urlsplit(url)
    return parts.path or url


def without_ids(message: str) -> str:
    """A console message without the ids that differ between repeats (request ids, hashes)."""
    text = re.sub(r"\s*\((?:request|trace|correlation) id[^)]*\)", "", message, flags=re.IGNORECASE)
    text = re.sub(r"\b(req|request|trace|id)[_-][0-9a-z]+\b", "<id>", text, flags=re.IGNORECASE)
    text = re.sub(r"\b[0-9a-f]{12,}\b", "<hex>", text, flags=re.IGNORECASE)
    return " ".join(text.split())


def console_key(message: str) -> str:
    """Message with ids and quoted values removed, for grouping repeats of one error."""
    return re.sub(r"(['\"]).*?\1", "<value>", without_ids(message)).lower()


def _is_echo(message: str, url: str | None, failed_urls: set[str]) -> bool:
    """The browser's own "Failed to load resource" line for a request already logged as failed."""
    return bool(url and url in failed_urls and re.search(r"failed to load resource", message, re.I))


def network_signals(capture: Capture, options: SignalOptions) -> list[Signal]:
    """Failed (status >= 400 or no response) and slow requests."""
    out: list[Signal] = []
    for request in capture.network:
        ev = network_id(request)
        path = _short_url(request.url)
        if request.failed:
            status = f"HTTP {request.status}" if request.status else "a network error (no response)"
            out.append(
                Signal(
                    kind="network_error",
                    time=request.time,
                    evidence_ids=(ev,),
                    title=f"{request.method} {path} returned {status}",
                    key=(
                        f"static {resource} {request.status}"
                        if (resource := (request.resource_type or "").lower()) in _STATIC_TYPES
                        else f"{request.method} {path} {request.status}"
                    ),
                    data={
                        "method": request.method,
                        "url": request.url,
                        "status": request.status,
                        "resourceType": request.resource_type,
                        "responseTime": request.time + (request.duration or 0.0),
                    },
                )
            )
        elif (
            request.duration is not None
            and request.duration > options.slow_request_s
            and (request.resource_type or "").lower() not in _STREAM_TYPES
        ):
            out.append(
                Signal(
                    kind="slow_request",
                    time=request.time,
                    evidence_ids=(ev,),
                    title=f"{request.method} {path} took {request.duration:.1f} s",
                    key=f"{request.method} {path}",
                    data={
                        "method": request.method,
                        "url": request.url,
                        "durationMs": round(request.duration * 1000),
                    },
                )
            )
    return out


def console_signals(capture: Capture) -> list[Signal]:
    """Console errors and uncaught exceptions (the browser's echo of a failed request is marked)."""
    failed_urls = {r.url for r in capture.network if r.failed}
    out: list[Signal] = []
    for entry in capture.console:
        if not entry.is_error:
            continue
        echo = _is_echo(entry.message, entry.url, failed_urls)
        message = " ".join(entry.message.split())
        out.append(
            Signal(
                kind="console_error",
                time=entry.time,
                evidence_ids=(console_id(entry),),
                title=f"Console error: {without_ids(message)[:160]}",
                key=console_key(message),
                data={"message": message, "url": entry.url, "echo": echo},
            )
        )
    return out


def screen_error_signals(evidence: EvidenceTable, options: SignalOptions) -> list[Signal]:
    """Error wording that appeared on screen, drawn in red or right after a logged error."""
    logged = [
        e.time
        for e in evidence
        if (
            e.type == "network"
            and (e.data.get("status") == 0 or (e.data.get("status") or 0) >= 400)
        )
        or (
            e.type == "console"
            and e.data.get("level") in {"error", "exception", "fatal", "uncaught"}
        )
    ]
    out: list[Signal] = []
    for item in evidence.of_type("ocr"):
        if not item.data.get("errorWording"):
            continue
        styled = bool(item.data.get("errorStyled"))
        near = not item.data.get("scrolledIn") and _any_between(
            logged,
            item.time - options.screen_error_window_s,
            item.time + options.screen_error_lag_s,
        )
        if not (styled or near):
            continue
        text = str(item.data.get("text", ""))
        following = _continuation(item, evidence, options) if styled else []
        shown = " ".join(tidy(t) for t in [text, *(str(f.data.get("text", "")) for f in following)])
        out.append(
            Signal(
                kind="screen_error",
                time=item.time,
                evidence_ids=(item.id, *(f.id for f in following)),
                title=f"Error shown on screen: '{shown}'",
                key=normalize(text),
                data={"text": shown, "errorStyled": styled, "url": item.data.get("url")},
            )
        )
    return out


def _continuation(
    item: Evidence, evidence: EvidenceTable, options: SignalOptions
) -> list[Evidence]:
    """The red lines a wrapped error message continues on, directly below it, same frame."""
    out: list[Evidence] = []
    box = item.data.get("box")
    same_frame = [
        e
        for e in evidence.of_type("ocr")
        if e.data.get("keyframe") == item.data.get("keyframe") and e.data.get("errorStyled")
    ]
    while box:
        below = next(
            (
                e
                for e in same_frame
                if e is not item
                and e not in out
                and e.data.get("box")
                and abs(e.data["box"]["x"] - box["x"]) <= options.continuation_indent_px
                and 0
                <= e.data["box"]["y"] - (box["y"] + box["h"])
                <= max(box["h"], e.data["box"]["h"])
            ),
            None,
        )
        if below is None:
            break
        out.append(below)
        box = below.data["box"]
    return out


def speech_signals(evidence: EvidenceTable) -> list[Signal]:
    """Moments where the user says aloud that something is wrong."""
    out: list[Signal] = []
    for item in evidence.of_type("speech"):
        text = str(item.data.get("text", ""))
        if is_problem_speech(text):
            out.append(
                Signal(
                    kind="user_problem",
                    time=item.time,
                    evidence_ids=(item.id,),
                    title=f'User says: "{text}"',
                    key=item.id,
                    data={"text": text},
                )
            )
    return out


def _clicks(capture: Capture) -> list[UserAction]:
    return [a for a in capture.actions if a.type == "click"]


def rage_click_signals(capture: Capture, options: SignalOptions) -> list[Signal]:
    """Bursts of clicks on one element or one spot."""
    clicks = _clicks(capture)
    out: list[Signal] = []
    i = 0
    while i < len(clicks):
        first = clicks[i]
        burst = [first]
        for other in clicks[i + 1 :]:
            if other.time - first.time > options.rage_click_window_s:
                break
            if _same_target(first, other, options.rage_click_radius_px):
                burst.append(other)
        if len(burst) >= options.rage_click_count:
            label = first.text or first.selector or "the same spot"
            out.append(
                Signal(
                    kind="rage_click",
                    time=first.time,
                    evidence_ids=tuple(action_id(a) for a in burst),
                    title=f"Rage click: {len(burst)} clicks on '{label}' "
                    f"in {burst[-1].time - first.time:.1f} s",
                    key=f"rage {first.selector or label}",
                    data={"selector": first.selector, "count": len(burst)},
                )
            )
            i = clicks.index(burst[-1]) + 1
        else:
            i += 1
    return out


def _same_target(a: UserAction, b: UserAction, radius: float) -> bool:
    """One element, or one spot: a button and the label inside it have different selectors."""
    if a.selector and a.selector == b.selector:
        return True
    if a.x is None or a.y is None or b.x is None or b.y is None:
        return False
    # Annotated: typeshed types a float to a float power as Any (it may be complex).
    distance: float = ((a.x - b.x) ** 2 + (a.y - b.y) ** 2) ** 0.5
    return distance <= radius


def _any_between(
    times: Sequence[float], start: float, end: float, *, open_start: bool = False
) -> bool:
    """Whether sorted ``times`` hold a value in [start, end] (or (start, end])."""
    i = bisect_right(times, start) if open_start else bisect_left(times, start)
    return i < len(times) and times[i] <= end


def dead_click_signals(
    capture: Capture, keyframes: Sequence[Keyframe], duration: float, options: SignalOptions
) -> list[Signal]:
    """Clicks after which nothing measurable happened.

    "Nothing" is measured on the video, never assumed. The keyframe detector
    looks at the screen just after every click and records the click on the
    current keyframe when the screen did not change; so a click is dead when
    the newest keyframe at the end of the window carries that "click" mark, no
    keyframe appeared within the window, the video covers the whole window,
    and no request, navigation, console message or further interaction
    followed. Clicks into form fields are skipped: focusing one shows only a
    caret, which is below what the detector measures.
    """
    out: list[Signal] = []
    frames = sorted(keyframes, key=lambda k: k.timestamp)
    window = options.dead_click_window_s
    # The recording's events are in time order: look windows up by bisection.
    request_times = [r.time for r in capture.network]
    console_times = [c.time for c in capture.console]
    action_times = [a.time for a in capture.actions]
    frame_times = [k.timestamp for k in frames]
    for click in _clicks(capture):
        element = capture.element(click.selector)
        if element is not None and element.tag in _FOCUS_TAGS:
            continue
        end = click.time + window
        if end > duration:
            continue
        if _any_between(request_times, click.time - options.dead_click_lead_s, end):
            continue
        if _any_between(console_times, click.time - options.dead_click_lead_s, end):
            continue
        following = capture.actions[
            bisect_left(action_times, click.time) : bisect_right(action_times, end)
        ]
        if any(
            a is not click
            and (
                a.type in {"navigate", "scroll", "input", "keypress"}
                or (a.type == "click" and a.selector != click.selector)
            )
            for a in following
        ):
            continue  # the user moved on or interacted: not a dead end
        if _any_between(frame_times, click.time, end, open_start=True):
            continue  # the screen changed after the click
        shown = frames[: bisect_right(frame_times, click.time)]
        # A keyframe taken for an earlier click already carries "click" as its first reason, so
        # only a mark added later (the detector saw no change) measures this click.
        if not shown or "click" not in shown[-1].reasons[1:]:
            continue  # the detector did not look after this click: nothing was measured
        label = click.text or (element.text if element else None) or click.selector or "the page"
        out.append(
            Signal(
                kind="dead_click",
                time=click.time,
                evidence_ids=(action_id(click),),
                title=f"Dead click: clicking '{label}' changed nothing on screen",
                key=f"dead {click.selector or label}",
                data={"selector": click.selector, "keyframe": shown[-1].index},
            )
        )
    return out


def error_click_signals(
    signals: Sequence[Signal], capture: Capture, options: SignalOptions
) -> list[Signal]:
    """Clicks followed shortly by an error (request, console or on screen).

    Each error is attributed to the last click before it, so typing into a
    form and then pressing its button blames the button.
    """
    clicks = _clicks(capture)
    click_times = [c.time for c in clicks]
    caused: dict[int, list[Signal]] = {}
    for error in signals:
        if error.kind not in {"network_error", "console_error", "screen_error"}:
            continue
        # The recorder stamps a click on release and its request on send: allow a small skew.
        last = bisect_right(click_times, error.time + options.click_skew_s) - 1
        if last >= 0 and error.time - click_times[last] <= options.error_click_window_s:
            caused.setdefault(last, []).append(error)
    out: list[Signal] = []
    for i, following in sorted(caused.items()):
        click = clicks[i]
        label = click.text or click.selector or "an element"
        out.append(
            Signal(
                kind="error_click",
                time=click.time,
                evidence_ids=(action_id(click), *(e for s in following for e in s.evidence_ids)),
                title=f"Clicking '{label}' was followed by an error",
                key=f"error-click {click.selector or label}",
                data={
                    "selector": click.selector,
                    "label": label,
                    "errors": [s.key for s in following],
                },
            )
        )
    return out


@dataclass(frozen=True, kw_only=True, slots=True)
class _Sighting:
    quantity: Quantity
    evidence: Evidence
    labels: frozenset[str]
    url: str | None


def _label_lines(value: OcrLine, lines: Sequence[OcrLine], width: int) -> list[OcrLine]:
    """Lines that name a value: the nearest one to its left on the same row, and the
    lines stacked above it in its column (a card's heading and tagline), stopping at
    a gap or at another value.
    """
    box = value.box
    out: list[OcrLine] = []
    centre = box.y + box.h / 2
    left = [
        other
        for other in lines
        if other.box.x + other.box.w <= box.x + 4
        and abs(other.box.y + other.box.h / 2 - centre) < max(box.h, other.box.h) * 0.6
        and box.x - (other.box.x + other.box.w) < width * 0.4
    ]
    if left:
        nearest = max(left, key=lambda o: o.box.x + o.box.w)
        if not extract_quantities(nearest.text):
            out.append(nearest)
    column = sorted(
        (
            o
            for o in lines
            if o.box.y + o.box.h <= box.y + 2
            and o.box.x < box.x + box.w
            and box.x < o.box.x + o.box.w
        ),
        key=lambda o: o.box.y + o.box.h,
        reverse=True,
    )
    top = box.y
    for other in column[:3]:
        if top - (other.box.y + other.box.h) > 3 * max(other.box.h, 20) or extract_quantities(
            other.text
        ):
            break
        out.append(other)
        top = other.box.y
    return out


def _site_tokens(capture: Capture) -> set[str]:
    """Words of the site's own name and host: every product on the site carries them."""
    words = label_tokens(capture.site_name() or "")
    for url in (*capture.visited_urls, *(p.url for p in capture.pages)):
        words |= label_tokens(urlsplit(url).netloc.replace(".", " "))
    return words


def _screen_sightings(
    evidence: EvidenceTable, keyframes: Sequence[Keyframe], ignore: set[str]
) -> list[_Sighting]:
    by_index = {k.index: k for k in keyframes}
    out: list[_Sighting] = []
    for item in evidence.of_type("ocr"):
        text = str(item.data.get("text", ""))
        quantities = extract_quantities(text)
        if not quantities:
            continue
        keyframe = by_index.get(int(item.data.get("keyframe", -1)))
        # The words before the first value name it ("Pro plan from $49/mo — 10 seats ...").
        labels = label_tokens(text[: quantities[0].start])
        if not labels and len(text.split()) <= 6:
            labels = label_tokens(text[quantities[-1].end :])
        if not labels and keyframe is not None and item.data.get("box"):
            b = item.data["box"]
            me = next(
                (
                    ln
                    for ln in keyframe.lines
                    if ln.box == Box(x=b["x"], y=b["y"], w=b["w"], h=b["h"])
                ),
                None,
            )
            if me is not None:
                for neighbour in _label_lines(
                    me, usable_lines(keyframe.lines), keyframe.image.shape[1]
                ):
                    labels |= label_tokens(neighbour.text)
        for quantity in quantities:
            out.append(
                _Sighting(
                    quantity=quantity,
                    evidence=item,
                    labels=frozenset(labels - ignore),
                    url=item.data.get("url"),
                )
            )
    return out


def _page_key(url: str | None) -> str:
    if not url:
        return ""
    parts = urlsplit(url)
    return f"{parts.netloc}{parts.path}"


def _page_name(capture: Capture, sighting: _Sighting) -> str:
    page = capture.page_at(sighting.evidence.time)
    return (
        capture.page_name(page)
        if page
        else (urlsplit(sighting.url).path if sighting.url else "screen")
    )


def _disjoint_pages(members: Sequence[_Sighting]) -> bool:
    """Whether two pages show the thing with no value in common.

    A page showing "$79 $59" (a sale) and another showing "$59" agree; "$49"
    on one page and only "$59" on another do not.
    """
    by_page: dict[str, set[float]] = {}
    for m in members:
        by_page.setdefault(_page_key(m.url), set()).add(m.quantity.value)
    pages = list(by_page.values())
    return any(not (a & b) for i, a in enumerate(pages) for b in pages[i + 1 :])


def contradiction_signals(
    evidence: EvidenceTable, keyframes: Sequence[Keyframe], capture: Capture, options: SignalOptions
) -> list[Signal]:
    """The same labelled quantity shown with different values on different pages.

    Values on one page may legitimately differ (monthly vs yearly toggles), so
    only sightings on different pages are compared. A spoken value that matches
    one side ("fifty nine dollars") is added as corroboration.
    """
    site = _site_tokens(capture)
    sightings = _screen_sightings(evidence, keyframes, site)
    parent = list(range(len(sightings)))

    def find(i: int) -> int:
        while parent[i] != i:
            parent[i] = parent[parent[i]]
            i = parent[i]
        return i

    shared_labels: dict[int, set[str]] = {}
    for i, a in enumerate(sightings):
        for j in range(i + 1, len(sightings)):
            b = sightings[j]
            if a.quantity.unit != b.quantity.unit or _page_key(a.url) == _page_key(b.url):
                continue
            if a.quantity.period and b.quantity.period and a.quantity.period != b.quantity.period:
                continue
            shared = a.labels & b.labels
            if not shared:
                continue
            # Equal values join too, so that a third page with another value links in.
            root_i, root_j = find(i), find(j)
            parent[root_j] = root_i
            labels = shared_labels.pop(root_j, set()) | shared_labels.get(root_i, set())
            if abs(a.quantity.value - b.quantity.value) > 1e-9:
                labels |= shared
            if labels:
                shared_labels[root_i] = labels
    groups: dict[int, list[_Sighting]] = {}
    for i, sighting in enumerate(sightings):
        groups.setdefault(find(i), []).append(sighting)
    speech = [
        (e, extract_quantities(str(e.data.get("text", "")), spoken=True))
        for e in evidence.of_type("speech")
    ]
    out: list[Signal] = []
    for root, members in groups.items():
        label = " ".join(sorted(shared_labels.get(root, set())))
        if (
            len({m.quantity.value for m in members}) < 2
            or not label
            or not _disjoint_pages(members)
        ):
            continue
        members.sort(key=lambda m: m.evidence.time)
        first_by_value: dict[float, _Sighting] = {}
        for m in members:
            first_by_value.setdefault(m.quantity.value, m)
        # Name each value as fully as any sighting read it ("$59/mo" rather than a clipped "$59").
        fullest = {
            value: next(
                (m for m in members if m.quantity.value == value and m.quantity.period), first
            )
            for value, first in first_by_value.items()
        }
        cited = list(
            dict.fromkeys(
                [m.evidence.id for m in first_by_value.values()]
                + [m.evidence.id for m in fullest.values()]
            )
        )
        shown = [
            {
                "value": m.quantity.value,
                "display": fullest[m.quantity.value].quantity.display,
                "evidenceId": m.evidence.id,
                "url": m.url,
                "timestamp": round(m.evidence.time, 3),
                "text": m.evidence.data.get("text"),
            }
            for m in first_by_value.values()
        ]
        unit = members[0].quantity.unit
        said = [
            e.id
            for e, quantities in speech
            if any(q.unit == unit and q.value in first_by_value for q in quantities)
        ]
        parts = [
            f"{fullest[v].quantity.display} on {_page_name(capture, m)}"
            for v, m in first_by_value.items()
        ]
        # The contradiction becomes visible when the second value first shows up.
        seen_at = sorted(m.evidence.time for m in first_by_value.values())[1]
        out.append(
            Signal(
                kind="contradiction",
                time=seen_at,
                evidence_ids=(*cited, *said),
                title=f"Inconsistent value for '{label}': " + " vs ".join(parts),
                key=f"contradiction {label} {unit}",
                data={"label": label, "values": shown, "speech": said},
            )
        )
    used = {e for signal in out for e in signal.data["speech"]}
    out += _speech_contradictions(speech, sightings, capture, used, options)
    return out


def _speech_contradictions(
    speech: Sequence[tuple[Evidence, list[Quantity]]],
    sightings: Sequence[_Sighting],
    capture: Capture,
    used: set[str],
    options: SignalOptions,
) -> list[Signal]:
    """A value said aloud that the screen contradicts: the page on screen shows the same
    thing (shared label) only with other values, and the spoken value was never shown.
    """
    out: list[Signal] = []
    shown_values = {(s.quantity.unit, s.quantity.value) for s in sightings}
    for item, quantities in speech:
        if item.id in used:
            continue
        page = capture.page_at(item.time)
        labels = label_tokens(str(item.data.get("text", "")))
        for quantity in quantities:
            if not quantity.explicit_unit or (quantity.unit, quantity.value) in shown_values:
                continue
            on_screen = [
                s
                for s in sightings
                if s.quantity.unit == quantity.unit
                and s.labels & labels
                and (page is None or _page_key(s.url) == _page_key(page.url))
                and s.evidence.time
                <= (item.end if item.end is not None else item.time) + options.spoken_value_lag_s
            ]
            if not on_screen:
                continue
            shown = on_screen[-1]
            label = " ".join(sorted(shown.labels & labels))
            out.append(
                Signal(
                    kind="contradiction",
                    time=item.time,
                    evidence_ids=(shown.evidence.id, item.id),
                    title=f"User says {quantity.display} for '{label}' "
                    f"but the screen shows {shown.quantity.display}",
                    key=f"contradiction {label} {quantity.unit}",
                    data={
                        "label": label,
                        "speech": [item.id],
                        "values": [
                            {
                                "value": quantity.value,
                                "display": quantity.display,
                                "evidenceId": item.id,
                            },
                            {
                                "value": shown.quantity.value,
                                "display": shown.quantity.display,
                                "evidenceId": shown.evidence.id,
                            },
                        ],
                    },
                )
            )
            break
    return out


def detect_signals(
    capture: Capture,
    evidence: EvidenceTable,
    keyframes: Sequence[Keyframe],
    duration: float,
    options: SignalOptions,
) -> list[Signal]:
    """Every signal in the recording, in time order; ``duration`` is the video's."""
    signals: list[Signal] = []
    signals += network_signals(capture, options)
    signals += console_signals(capture)
    signals += screen_error_signals(evidence, options)
    signals += speech_signals(evidence)
    signals += rage_click_signals(capture, options)
    signals += dead_click_signals(capture, keyframes, duration, options)
    signals += error_click_signals(signals, capture, options)
    signals += contradiction_signals(evidence, keyframes, capture, options)
    return sorted(signals, key=lambda s: (s.time, s.kind))

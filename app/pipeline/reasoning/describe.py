"""Grounded, model-free descriptions of keyframes.

Each description is assembled only from things measured or captured: the page
the events say was open, what changed on screen (the keyframe's changed region
and the OCR lines inside it), the most prominent text, red error-styled regions
found in the pixels, and the click the user made just before.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import cv2
import numpy as np

from app.pipeline.capture import Capture, UserAction
from app.pipeline.reasoning.lexicon import ERROR_WORDS_RE, MONEY_RE, normalize, similar, tidy
from app.pipeline.reasoning.options import DescribeOptions
from app.pipeline.types import Box, Keyframe, OcrLine

# Below this an OCR line is more likely noise than text.
MIN_LINE_CONFIDENCE = 0.5


@dataclass(frozen=True, kw_only=True, slots=True)
class ErrorRegion:
    """A red-dominant area of the frame (error text, border or banner)."""

    box: Box
    text: str  # OCR text inside or on the region, "" when none was read
    red_fraction: float  # share of the region's pixels that are red


@dataclass(frozen=True, kw_only=True, slots=True)
class FrameDescription:
    keyframe_index: int
    timestamp: float
    url: str | None
    title: str | None
    change: str  # what changed since the previous keyframe, in words
    notable_text: tuple[str, ...]
    appeared: tuple[OcrLine, ...]  # lines not on the previous keyframe
    error_regions: tuple[ErrorRegion, ...]
    error_styled: tuple[OcrLine, ...]  # lines drawn in red or inside a red region
    clicked: str | None  # label of the element clicked just before this frame
    pointer: tuple[float, float] | None
    major_change: bool  # most of the screen changed without a scroll: a new view
    scrolled: bool  # the change was the page scrolling
    text: str  # the full description
    heading: str | None = None  # the view's own heading, the site's header and navigation left out


def usable_lines(lines: Sequence[OcrLine]) -> list[OcrLine]:
    """OCR lines confident and wordy enough to quote."""
    return [
        line
        for line in lines
        if line.confidence >= MIN_LINE_CONFIDENCE and sum(ch.isalnum() for ch in line.text) >= 2
    ]


def _intersects(a: Box, b: Box, margin: int = 0) -> bool:
    return not (
        a.x + a.w + margin < b.x
        or b.x + b.w + margin < a.x
        or a.y + a.h + margin < b.y
        or b.y + b.h + margin < a.y
    )


def _red_mask(image: np.ndarray) -> np.ndarray:
    """Pixels whose hue is red and saturated enough to be deliberate styling."""
    hsv = cv2.cvtColor(image, cv2.COLOR_BGR2HSV)
    h, s, v = hsv[..., 0], hsv[..., 1], hsv[..., 2]
    return (((h <= 8) | (h >= 172)) & (s >= 90) & (v >= 80)).astype(np.uint8)


def find_error_regions(
    image: np.ndarray, lines: Sequence[OcrLine], options: DescribeOptions | None = None
) -> list[ErrorRegion]:
    """Red-dominant regions of a BGR frame, each with the OCR text on or inside it.

    Works at half resolution: error styling is never thinner than two pixels
    at the sizes browsers render it, and this keeps it cheap (docs/performance.md).
    """
    if image.size == 0:
        return []
    margin = (options or DescribeOptions()).region_text_margin_px
    small = cv2.resize(
        image,
        (max(1, image.shape[1] // 2), max(1, image.shape[0] // 2)),
        interpolation=cv2.INTER_AREA,
    )
    mask = _red_mask(small)
    if int(mask.sum()) < 20:
        return []
    # Join glyphs of one red word, and a border with what it encloses.
    joined = cv2.dilate(mask, np.ones((7, 7), np.uint8))
    count, _, stats, _ = cv2.connectedComponentsWithStats(joined, connectivity=8)
    regions: list[ErrorRegion] = []
    for label in range(1, count):
        x, y, w, h, _area = (int(v) for v in stats[label])
        red = int(mask[y : y + h, x : x + w].sum())
        if red < 20:
            continue
        box = Box(x=x * 2, y=y * 2, w=w * 2, h=h * 2)
        inside = [line for line in lines if _intersects(line.box, box, margin=margin)]
        text = " ".join(line.text for line in sorted(inside, key=lambda ln: (ln.box.y, ln.box.x)))
        regions.append(ErrorRegion(box=box, text=text, red_fraction=red / float(max(1, w * h))))
    return regions


def _seen(text: str, previous: set[str]) -> bool:
    """Whether a line was on the previous keyframe, up to OCR noise."""
    return text in previous or any(similar(text, seen, normalized=True) for seen in previous)


def error_styled_lines(
    image: np.ndarray,
    lines: Sequence[OcrLine],
    regions: Sequence[ErrorRegion],
    options: DescribeOptions | None = None,
) -> list[OcrLine]:
    """Lines drawn in red, or enclosed by a red region (a bordered error box)."""
    if image.size == 0 or not lines:
        return []
    options = options or DescribeOptions()
    out: list[OcrLine] = []
    for line in lines:
        b = line.box
        # Only the line's own pixels are converted: lines cover a fraction of the frame.
        patch = image[max(0, b.y) : b.y + b.h, max(0, b.x) : b.x + b.w]
        red_text = bool(patch.size) and float(_red_mask(patch).mean()) >= options.red_text_share
        if red_text or any(_enclosed(b, r.box, options.enclosed_share) for r in regions):
            out.append(line)
    return out


def _enclosed(inner: Box, outer: Box, share: float) -> bool:
    """Whether at least ``share`` of ``inner`` lies inside ``outer``."""
    w = min(inner.x + inner.w, outer.x + outer.w) - max(inner.x, outer.x)
    h = min(inner.y + inner.h, outer.y + outer.h) - max(inner.y, outer.y)
    return w > 0 and h > 0 and w * h >= share * inner.w * inner.h


def _rank_notable(lines: Sequence[OcrLine], height: int, options: DescribeOptions) -> list[str]:
    """Headings, prices, error messages and button labels first; body text last."""

    def score(line: OcrLine) -> float:
        value = float(line.box.h)
        if ERROR_WORDS_RE.search(line.text):
            value *= options.error_wording_weight
        if MONEY_RE.search(line.text):
            value *= options.money_weight
        if height and line.box.y < height * options.top_band:
            value *= options.top_band_weight
        if len(line.text.split()) <= options.short_label_words:
            value *= options.short_label_weight
        return value

    out: list[str] = []
    for line in sorted(lines, key=score, reverse=True):
        if not any(similar(line.text, seen) for seen in out):
            out.append(line.text)
        if len(out) >= options.notable_lines:
            break
    return out


def _heading(
    lines: Sequence[OcrLine], height: int, chrome: set[str], options: DescribeOptions
) -> str | None:
    """The tallest line of words in the upper part of the screen, not a price or a number and
    not the site's header or navigation: what names the view."""
    candidates = [
        line
        for line in lines
        if normalize(line.text) not in chrome
        and (not height or line.box.y < height * options.heading_band)
        and sum(bool(re.search(r"[^\W\d_]{2,}", word)) for word in line.text.split()) >= 2
        and not MONEY_RE.search(line.text)
    ]
    if not candidates:
        return None
    return max(candidates, key=lambda line: (line.box.h, -line.box.y)).text


def _where(box: Box, width: int, height: int) -> str:
    cx, cy = box.x + box.w / 2, box.y + box.h / 2
    vertical = "top" if cy < height / 3 else "bottom" if cy > 2 * height / 3 else "middle"
    horizontal = "left" if cx < width / 3 else "right" if cx > 2 * width / 3 else "centre"
    return f"{vertical} {horizontal}" if horizontal != "centre" else f"{vertical} centre"


def _kind_of_change(box: Box, width: int, height: int, options: DescribeOptions) -> str:
    """A dialog is a centred block, a toast a small block near an edge, otherwise inline."""
    area = box.w * box.h / float(max(1, width * height))
    if area > options.page_change_area:
        return "new content across the page"
    centred = abs((box.x + box.w / 2) - width / 2) < width * options.dialog_off_centre
    if (
        centred
        and options.dialog_min_area <= area <= options.page_change_area
        and box.h > height * options.dialog_min_height
    ):
        return "a dialog-like block"
    band = options.toast_band
    near_edge = box.y < height * band or box.y + box.h > height * (1 - band)
    if near_edge and area < options.toast_max_area:
        return "a toast-like message"
    return "an inline message"


def _quote(texts: Sequence[str], limit: int = 3) -> str:
    return ", ".join(f"'{tidy(t)}'" for t in texts[:limit])


def describe_keyframes(
    keyframes: Sequence[Keyframe], capture: Capture, options: DescribeOptions | None = None
) -> list[FrameDescription]:
    """One grounded description per keyframe, in keyframe order."""
    options = options or DescribeOptions()
    out: list[FrameDescription] = []
    previous: Keyframe | None = None
    previous_lines: list[OcrLine] = []
    chrome = _persistent_text(keyframes, options)
    view: list[
        set[str]
    ] = []  # the texts of each frame of the current view (since the last new one)
    for keyframe in keyframes:
        height, width = keyframe.image.shape[:2] if keyframe.image.ndim >= 2 else (0, 0)
        lines = usable_lines(keyframe.lines)
        previous_texts = {normalize(line.text) for line in previous_lines}
        appeared = tuple(line for line in lines if not _seen(normalize(line.text), previous_texts))
        regions = find_error_regions(keyframe.image, lines, options)
        # Red glyphs or a red box around the text; a red icon beside black text is not styling.
        error_styled = tuple(error_styled_lines(keyframe.image, lines, regions, options))
        page = capture.page_at(keyframe.timestamp)
        since = previous.timestamp if previous is not None else -1.0
        until = keyframe.timestamp + options.action_lag_s
        window = [a for a in capture.actions if since < a.time <= until]
        navigations = [a for a in window if a.type == "navigate"]
        # Scroll events are stamped when scrolling ends, after the picture moved.
        scrolls = [
            a
            for a in capture.actions
            if a.type == "scroll" and since < a.time <= keyframe.timestamp + options.scroll_lag_s
        ]
        clicks = [a for a in window if a.type == "click"]
        parts: list[str] = []
        major = scrolled = False
        if previous is None:
            change = "first frame of the recording"
        elif navigations:
            target = navigations[-1]
            change = f"navigated to {target.title or target.url}"
            major = True
        elif (
            scrolls
            and keyframe.change_ratio > options.scrolled_change_ratio
            # A click after the scroll ended that replaced the content is what changed the view.
            and not (
                clicks
                and clicks[-1].time > max(a.time for a in scrolls)
                and _new_view(previous_lines, lines, options, chrome, view, clicked=True)
            )
        ):
            change = "the page scrolled"
            scrolled = True
        elif keyframe.changed_region is not None and keyframe.change_ratio > 0:
            region = keyframe.changed_region
            scale = capture.css_to_video(width)
            fields = _fields_typed(capture, since, keyframe.timestamp, scale, options)
            field = next((label for label, box in fields if _intersects(box, region)), None)
            margin = options.appeared_margin_px
            new_lines = [ln for ln in appeared if _intersects(ln.box, region, margin=margin)]
            # Text inside a field being typed into is the typing; anything else is a message.
            typed = [ln for ln in new_lines if any(_intersects(ln.box, box) for _, box in fields)]
            inside = [ln.text for ln in new_lines if ln not in typed]
            where = f"at the {_where(region, width, height)} ({region.w}x{region.h} px)"
            if keyframe.change_ratio >= options.major_change_ratio:
                change = "most of the screen changed"
                major = True
            elif (not scrolls or clicks) and _new_view(
                previous_lines, lines, options, chrome, view, bool(clicks)
            ):
                change = f"a new view {where}" + (f" showing {_quote(inside)}" if inside else "")
                major = True
            elif inside:
                # Only new text makes a change a message; otherwise say no more than "changed".
                change = (
                    f"{_kind_of_change(region, width, height, options)} {where} "
                    f"showing {_quote(inside)}"
                )
            elif field:
                change = f"text typed into {field}" if typed else f"a change on the {field} field"
            else:
                change = f"a change {where}"
        else:
            change = "no visible change"
        name = capture.page_name(page)
        parts.append(f"{name[:1].upper()}{name[1:]}: {change}.")
        clicked = _clicked_label(clicks[-1], capture) if clicks else None
        pointer = (
            (clicks[-1].x, clicks[-1].y)
            if clicks and clicks[-1].x is not None and clicks[-1].y is not None
            else None
        )
        if clicked:
            at = f" at ({pointer[0]:.0f}, {pointer[1]:.0f})" if pointer else ""
            parts.append(f"After clicking {clicked}{at}.")
        notable = _rank_notable(lines, height, options)
        if notable:
            parts.append(f"Visible text: {_quote(notable, options.notable_lines)}.")
        if error_styled:
            b = error_styled[0].box
            parts.append(
                f"Red error-styled text: {_quote([ln.text for ln in error_styled])} "
                f"(box {b.x},{b.y} {b.w}x{b.h} px)."
            )
        out.append(
            FrameDescription(
                keyframe_index=keyframe.index,
                timestamp=keyframe.timestamp,
                url=page.url if page else None,
                title=page.title if page else None,
                change=change,
                notable_text=tuple(notable),
                appeared=appeared,
                error_regions=tuple(regions),
                error_styled=error_styled,
                clicked=clicked,
                pointer=pointer,
                major_change=major,
                scrolled=scrolled,
                text=" ".join(parts),
                heading=_heading(lines, height, chrome, options),
            )
        )
        texts = {normalize(line.text) for line in lines} - chrome
        view = [texts] if major or previous is None else [*view, texts]
        previous, previous_lines = keyframe, lines
    return out


def _persistent_text(keyframes: Sequence[Keyframe], options: DescribeOptions) -> set[str]:
    """Text of the screen's top and bottom bands that stays on many keyframes: a site's header,
    navigation and footer, which say nothing about which view is on screen. (A view the user
    stays on for long has its text on many keyframes too, but mostly between the bands.)"""
    n = len(keyframes)
    if n < options.chrome_min_keyframes:
        return set()
    band = options.chrome_band
    counts: dict[str, int] = {}
    for keyframe in keyframes:
        height = keyframe.image.shape[0] if keyframe.image.ndim >= 2 else 0
        banded = {
            normalize(line.text)
            for line in usable_lines(keyframe.lines)
            if height
            and (line.box.y + line.box.h < height * band or line.box.y > height * (1 - band))
        }
        for text in banded:
            counts[text] = counts.get(text, 0) + 1
    return {text for text, k in counts.items() if k >= options.chrome_share * n}


def _new_view(
    before: Sequence[OcrLine],
    after: Sequence[OcrLine],
    options: DescribeOptions,
    chrome: frozenset[str] | set[str] = frozenset(),
    view: Sequence[set[str]] = (),
    clicked: bool = False,
) -> bool:
    """Most of the text was replaced, and not by scrolling: a page or route change.

    Screens change little in pixels when one white page replaces another, so the text
    turnover tells a new view where the change ratio cannot. Text that survives shifted by
    one common offset is a scroll, not a new view, and so is coming back to what an earlier
    frame of the current ``view`` showed (scrolling back up). After a click, the site's header
    and footer (``chrome``) do not count either: a single-page app
    changes its content under the same header, while a scroll with no event logged keeps
    the header too and must not pass for a new view.
    """
    if not _turned_over(before, after, frozenset(), options) and not (
        clicked and _turned_over(before, after, chrome, options)
    ):
        return False
    new = {normalize(line.text) for line in after} - chrome
    return not any(
        len(new & earlier) > options.revisited_share * len(earlier)
        for earlier in view[:-1]
        if len(earlier) >= options.turnover_min_lines
    )


def _turned_over(
    before: Sequence[OcrLine],
    after: Sequence[OcrLine],
    ignored: frozenset[str] | set[str],
    options: DescribeOptions,
) -> bool:
    old = {t: line for line in before if (t := normalize(line.text)) not in ignored}
    new = {t: line for line in after if (t := normalize(line.text)) not in ignored}
    least = options.turnover_min_lines
    if len(old) < least or len(set(new) - set(old)) < least:
        return False
    kept = set(old) & set(new)
    if len(kept) / len(old) > options.turnover_kept_share:
        return False
    shifts = [new[t].box.y - old[t].box.y for t in kept if new[t].box.y != old[t].box.y]
    tolerance = options.scroll_shift_tolerance_px
    return not (len(shifts) >= 2 and max(shifts) - min(shifts) <= tolerance)


def _fields_typed(
    capture: Capture, since: float, until: float, scale: float, options: DescribeOptions
) -> list[tuple[str, Box]]:
    """Form fields typed into around this frame, with their boxes in video pixels.

    Input events come at the end of typing, so the window reaches past the frame.
    """
    out: list[tuple[str, Box]] = []
    for action in capture.actions:
        if action.type != "input" or not since < action.time <= until + options.typing_lag_s:
            continue
        element = capture.element(action.selector)
        if element is not None and element.box is not None:
            b = element.box
            box = Box(
                x=round(b.x * scale),
                y=round(b.y * scale),
                w=round(b.w * scale),
                h=round(b.h * scale),
            )
            out.append((f"'{action.text or element.text or action.selector}'", box))
    return out


def _clicked_label(action: UserAction, capture: Capture) -> str | None:
    element = capture.element(action.selector)
    label = action.text or (element.text if element else None)
    tag = element.tag if element else None
    if label:
        label = re.sub(r"\s+", " ", label).strip()[:60]
        return f"'{label}'" + (f" ({tag})" if tag else "")
    return action.selector

"""Tunable thresholds of the reasoning stages.

The defaults are the values the stages were tuned with on the project's fixtures; the engine
passes them in from :class:`app.pipeline.engine.EngineOptions`. Times are seconds, sizes
video pixels, shares fractions (0..1) of the frame's height or area unless a field says
otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class DescribeOptions:
    """How keyframe descriptions weigh text and tell what kind of change a keyframe shows."""

    notable_lines: int = 5
    """Lines quoted as a frame's visible text, most prominent first."""
    error_wording_weight: float = 2.0
    """Prominence of a line in error wording, as a factor of its height ..."""
    money_weight: float = 1.6
    """... of a line showing an amount of money ..."""
    top_band_weight: float = 1.2
    """... of a line in the top band of the screen (``top_band``) ..."""
    short_label_weight: float = 1.1
    """... and of a line of at most ``short_label_words`` words (a button, a heading)."""
    top_band: float = 0.2
    short_label_words: int = 3
    heading_band: float = 0.6
    """A view's heading is the tallest line of words above this share of the height."""
    red_text_share: float = 0.06
    """Glyphs cover a tenth to a fifth of a line's box; red text reaches this share of red
    pixels, while a red icon or checkbox beside black text stays below it."""
    enclosed_share: float = 0.8
    """A line this much inside a red region is error-styled (a bordered error box)."""
    region_text_margin_px: int = 4
    """OCR lines this close to a red region are its text."""
    appeared_margin_px: int = 8
    """New lines this close to the changed region are what the change shows."""
    action_lag_s: float = 0.05
    """Actions stamped up to this long after a keyframe still led to it."""
    scroll_lag_s: float = 1.0
    """Scroll events are stamped when scrolling ends, up to this long after the picture moved."""
    typing_lag_s: float = 5.0
    """Input events come at the end of typing, up to this long after the keyframe."""
    scrolled_change_ratio: float = 0.05
    """With a scroll logged, a change of more than this share of the frame is the scroll."""
    major_change_ratio: float = 0.5
    """A change of this share of the frame or more is a new view."""
    chrome_min_keyframes: int = 6
    """Fewer keyframes than this say nothing about which text is the site's header and footer."""
    chrome_band: float = 0.12
    """The site's header and footer lie within this share of the height from either edge ..."""
    chrome_share: float = 0.4
    """... and show on at least this share of the keyframes."""
    turnover_min_lines: int = 3
    """A new view replaces at least this many lines of text ..."""
    turnover_kept_share: float = 0.4
    """... and keeps no more than this share of the old ones."""
    scroll_shift_tolerance_px: int = 4
    """Kept lines moved by one offset, give or take this much, are a scroll, not a new view."""
    revisited_share: float = 0.4
    """Showing more than this share of an earlier frame's text is coming back to it (scrolling
    back up), not a new view."""
    page_change_area: float = 0.6
    """A change over more than this share of the frame is new content across the page."""
    dialog_min_area: float = 0.08
    """A dialog covers at least this share of the frame (and no more than a page change) ..."""
    dialog_min_height: float = 0.2
    """... is taller than this share of the height ..."""
    dialog_off_centre: float = 0.15
    """... and is centred within this share of the width."""
    toast_band: float = 0.15
    """A toast stands within this share of the height from the top or the bottom ..."""
    toast_max_area: float = 0.05
    """... and covers less than this share of the frame."""


@dataclass(frozen=True, kw_only=True)
class SignalOptions:
    """Thresholds of the signal detectors."""

    slow_request_s: float = 2.0
    """A request that took longer than this is slow."""
    rage_click_count: int = 3
    """This many clicks on one element (or one spot) ..."""
    rage_click_window_s: float = 2.0
    """... within this many seconds are a rage click."""
    rage_click_radius_px: float = 30.0
    """Clicks without a selector count as one spot within this distance."""
    dead_click_window_s: float = 2.0
    """A click with no visible change, request or navigation this long after it is dead."""
    dead_click_lead_s: float = 0.1
    """A request or console message this long before a click may still be its doing."""
    error_click_window_s: float = 3.0
    """An error this long after a click is attributed to the click."""
    click_skew_s: float = 0.25
    """The recorder stamps a click on release and its request on send: an error this long
    before a click's stamp may still follow it."""
    screen_error_window_s: float = 5.0
    """Unstyled error wording on screen counts when a logged error is this close before it ..."""
    screen_error_lag_s: float = 1.0
    """... or up to this long after it (the log's stamps and the keyframes' differ a little)."""
    continuation_indent_px: int = 12
    """A red line below a red error message, starting within this of it, continues it."""
    spoken_value_lag_s: float = 1.0
    """A value said up to this long after the screen showed the same thing is compared with it."""


@dataclass(frozen=True, kw_only=True)
class FindingOptions:
    """The windows within which one observation corroborates another.

    A window ``(before, after)`` takes what happened from ``before`` seconds before to
    ``after`` seconds after the finding's own signals.
    """

    console_lead_s: float = 0.2
    """A console line logged up to this long before its request still belongs to it."""
    echo_lag_s: float = 30.0
    """The browser's echo of a failed request is logged up to this long after it."""
    console_lag_s: float = 5.0
    """Another console error naming a failed request is logged up to this long after it ..."""
    response_skew_s: float = 0.5
    """... or is one logged this close to its response."""
    network_screen_window_s: tuple[float, float] = (0.2, 3.0)
    """Errors on screen around a failed request."""
    console_screen_window_s: tuple[float, float] = (3.0, 3.0)
    """Errors on screen around a console error."""
    screen_log_window_s: tuple[float, float] = (6.0, 1.0)
    """Failed requests and console errors around an error on screen."""
    log_speech_window_s: tuple[float, float] = (0.0, 8.0)
    """The user's complaints after a failed request or console error."""
    screen_speech_window_s: tuple[float, float] = (2.0, 8.0)
    """The user's complaints around an error on screen."""
    click_speech_window_s: tuple[float, float] = (1.0, 8.0)
    """The user's complaints around a rage or dead click or a slow request."""


@dataclass(frozen=True, kw_only=True)
class SectionOptions:
    """Where sections start and how much of the screen's text they cite."""

    min_section_s: float = 3.0
    """A major visual change opens a section only this far from every other start and from the
    end of the video."""
    merge_below_s: float = 1.0
    """Starts closer than this (a redirect, a double navigation) are one section."""
    page_end_margin_s: float = 1.0
    """A page visit starting less than this before the end of the video opens no section."""
    ocr_citations: int = 6
    """Telling lines of screen text (error wording, prices, red text) a section cites at most,
    besides those findings cite."""
    visual_citations: int = 3
    """Telling visual changes (new views, red regions) a section cites at most, besides those
    findings cite."""

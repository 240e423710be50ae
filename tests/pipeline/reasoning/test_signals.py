"""Signal detectors on hand-built recordings, keyframes and transcripts."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from app.pipeline.capture import Capture
from app.pipeline.reasoning.options import SignalOptions
from app.pipeline.reasoning.signals import Signal
from app.pipeline.types import Keyframe, TranscriptSegment
from tests.pipeline.factories import capture, keyframe, line, reason, red_text_image

W, H = 640, 360


def shop(url: str = "http://shop.test/", **events: list[dict[str, Any]]) -> Capture:
    """The test shop's capture, 30 s long, with ``events`` (actions, network, console, elements)."""
    return capture(url=url, title="Shop", duration=30, **events)


def signals_of(
    rec: Capture,
    keyframes: list[Keyframe] = (),
    speech: list[TranscriptSegment] = (),
    options: SignalOptions | None = None,
    duration: float = 30.0,
) -> list[Signal]:
    keyframes = list(keyframes) or [keyframe(0, 0.0, reasons=("first",), ratio=1.0)]
    reasoned = reason(rec, keyframes, speech, duration=duration, options=options)
    for signal in reasoned.signals:
        assert all(e in reasoned.evidence for e in signal.evidence_ids), signal
    return reasoned.signals


def kinds(found: list[Signal]) -> list[str]:
    return [s.kind for s in found]


def click(
    t_ms: int, selector: str = "button#go", text: str = "Go", x: int = 100, y: int = 100
) -> dict[str, Any]:
    return {"type": "click", "timestamp": t_ms, "selector": selector, "text": text, "x": x, "y": y}


BUTTON = {
    "selector": "button#go",
    "tagName": "BUTTON",
    "text": "Go",
    "boundingBox": {"x": 80, "y": 90, "width": 60, "height": 24},
}


def test_rage_click_needs_several_quick_clicks_on_one_element() -> None:
    rec = shop(actions=[click(1000), click(1400), click(1700), click(2100)], elements=[BUTTON])
    rage = [s for s in signals_of(rec) if s.kind == "rage_click"]
    assert len(rage) == 1
    assert rage[0].evidence_ids == ("ev-action-0", "ev-action-1", "ev-action-2", "ev-action-3")
    assert rage[0].time == pytest.approx(1.0)

    slow = shop(actions=[click(1000), click(4000), click(7000)], elements=[BUTTON])
    assert "rage_click" not in kinds(signals_of(slow))
    two = shop(actions=[click(1000), click(1300)], elements=[BUTTON])
    assert "rage_click" not in kinds(signals_of(two))
    spread = shop(
        actions=[click(1000, "#a", x=10), click(1200, "#b", x=200), click(1400, "#c", x=400)]
    )
    assert "rage_click" not in kinds(signals_of(spread))
    # Without selectors, clicks on one spot count; a custom count applies.
    spot = shop(actions=[{"type": "click", "timestamp": t, "x": 50, "y": 50} for t in (100, 300)])
    assert "rage_click" in kinds(signals_of(spot, options=SignalOptions(rage_click_count=2)))


def _dead_click_frames() -> list[Keyframe]:
    # The detector looked after the click at 5 s and saw no change: it noted "click" on kf 1.
    return [
        keyframe(0, 0.0, reasons=("first",), ratio=1.0),
        keyframe(1, 3.0, reasons=("change", "click")),
    ]


def test_dead_click_is_measured_on_the_keyframes() -> None:
    rec = shop(actions=[click(5000)], elements=[BUTTON])
    dead = [s for s in signals_of(rec, _dead_click_frames()) if s.kind == "dead_click"]
    assert [s.evidence_ids for s in dead] == [("ev-action-0",)]

    # A keyframe shortly after the click means the screen changed.
    changed = [*_dead_click_frames(), keyframe(2, 5.6, reasons=("click",))]
    assert "dead_click" not in kinds(signals_of(rec, changed))
    # Without the detector's "click" mark nothing was measured: no claim.
    unmeasured = [keyframe(0, 0.0, reasons=("first",), ratio=1.0), keyframe(1, 3.0)]
    assert "dead_click" not in kinds(signals_of(rec, unmeasured))
    # A request, a navigation or typing after the click: the click did something.
    with_request = shop(
        actions=[click(5000)],
        elements=[BUTTON],
        network=[{"url": "http://shop.test/api", "status": 200, "timestamp": 5200}],
    )
    assert "dead_click" not in kinds(signals_of(with_request, _dead_click_frames()))
    navigated = shop(
        actions=[click(5000), {"type": "navigate", "timestamp": 5300, "url": "http://shop.test/b"}],
        elements=[BUTTON],
    )
    assert "dead_click" not in kinds(signals_of(navigated, _dead_click_frames()))
    # Focusing a form field shows only a caret; the end of the video cannot be measured past.
    field = shop(
        actions=[click(5000, "input#q")],
        elements=[{"selector": "input#q", "tagName": "INPUT", "text": "Search"}],
    )
    assert "dead_click" not in kinds(signals_of(field, _dead_click_frames()))
    assert "dead_click" not in kinds(signals_of(rec, _dead_click_frames(), duration=6.0))


def test_slow_and_failed_requests() -> None:
    rec = shop(
        network=[
            {
                "method": "GET",
                "url": "http://shop.test/api/slow",
                "status": 200,
                "durationMs": 2500,
                "timestamp": 1000,
            },
            {
                "method": "GET",
                "url": "http://shop.test/api/ok",
                "status": 200,
                "durationMs": 1900,
                "timestamp": 2000,
            },
            {
                "method": "POST",
                "url": "http://shop.test/api/pay",
                "status": 502,
                "durationMs": 3000,
                "timestamp": 3000,
            },
            {"method": "GET", "url": "http://shop.test/api/gone", "timestamp": 4000},
            {
                "method": "GET",
                "url": "http://shop.test/live",
                "status": 200,
                "durationMs": 9000,
                "resourceType": "websocket",
                "timestamp": 5000,
            },
        ]
    )
    found = signals_of(rec)
    slow = [s for s in found if s.kind == "slow_request"]
    assert [s.evidence_ids for s in slow] == [("ev-net-0",)]
    failed = [s for s in found if s.kind == "network_error"]
    assert [s.evidence_ids for s in failed] == [("ev-net-2",), ("ev-net-3",)]
    assert "HTTP 502" in failed[0].title and "network error" in failed[1].title
    stricter = [
        s
        for s in signals_of(rec, options=SignalOptions(slow_request_s=1.0))
        if s.kind == "slow_request"
    ]
    assert [s.evidence_ids for s in stricter] == [("ev-net-0",), ("ev-net-1",)]


def test_console_errors_and_the_browsers_echo_of_a_failed_request() -> None:
    rec = shop(
        network=[
            {"method": "POST", "url": "http://shop.test/api/pay", "status": 500, "timestamp": 1000}
        ],
        console=[
            {
                "level": "error",
                "message": "Failed to load resource: the server responded with a status of 500",
                "url": "http://shop.test/api/pay",
                "timestamp": 1100,
            },
            {"level": "error", "message": "Uncaught TypeError: x is undefined", "timestamp": 1200},
            {"level": "warn", "message": "deprecated", "timestamp": 1300},
        ],
    )
    console = [s for s in signals_of(rec) if s.kind == "console_error"]
    assert [(s.evidence_ids, s.data["echo"]) for s in console] == [
        (("ev-console-0",), True),
        (("ev-console-1",), False),
    ]


def test_screen_errors_need_red_styling_or_a_logged_error() -> None:
    before = keyframe(0, 0.0, [line("Checkout", 20, 20)], reasons=("first",), ratio=1.0)
    red_line = line("Card number is invalid", 100, 200, 180, 20)
    red = keyframe(1, 4.0, [before.lines[0], red_line], image=red_text_image(100, 200, 180, 20))
    found = [s for s in signals_of(shop(), [before, red]) if s.kind == "screen_error"]
    assert len(found) == 1 and found[0].data["errorStyled"] and found[0].time == 4.0

    plain = keyframe(1, 4.0, [before.lines[0], red_line])
    assert "screen_error" not in kinds(signals_of(shop(), [before, plain]))
    after_error = shop(
        network=[
            {"method": "POST", "url": "http://shop.test/api", "status": 422, "timestamp": 3000}
        ]
    )
    assert "screen_error" in kinds(signals_of(after_error, [before, plain]))
    # Text that was already there when the page loaded did not "appear".
    static = keyframe(0, 0.0, [red_line], reasons=("first",), ratio=1.0)
    assert "screen_error" not in kinds(signals_of(shop(), [static]))


def test_error_is_attributed_to_the_last_click_before_it() -> None:
    rec = shop(
        actions=[click(1000, "input#card", "Card"), click(2000, "button#pay", "Pay")],
        network=[
            {"method": "POST", "url": "http://shop.test/api/pay", "status": 422, "timestamp": 1990}
        ],
    )
    error_clicks = [s for s in signals_of(rec) if s.kind == "error_click"]
    assert len(error_clicks) == 1
    assert error_clicks[0].evidence_ids == ("ev-action-1", "ev-net-0")


def test_problems_said_aloud() -> None:
    speech = [
        TranscriptSegment(start=1.0, end=2.0, text="I want to buy the blue shoes."),
        TranscriptSegment(start=5.0, end=7.0, text="It keeps saying the card is invalid."),
        TranscriptSegment(start=8.0, end=9.0, text="Let me try that one more time."),
        TranscriptSegment(start=10.0, end=12.0, text="Nothing happens when I click it."),
    ]
    found = [s for s in signals_of(shop(), speech=speech) if s.kind == "user_problem"]
    assert [s.evidence_ids for s in found] == [("ev-speech-1",), ("ev-speech-3",)]


def _priced_pages(second_price: str) -> tuple[Capture, list[Keyframe]]:
    rec = shop(
        actions=[
            {
                "type": "navigate",
                "timestamp": 0,
                "url": "http://shop.test/",
                "title": "Home — Shop",
            },
            {
                "type": "navigate",
                "timestamp": 10000,
                "url": "http://shop.test/plans",
                "title": "Plans — Shop",
            },
        ]
    )
    home = keyframe(
        0, 0.5, [line("Team plan from $29/mo", 50, 100, 300)], reasons=("first",), ratio=1.0
    )
    plans = keyframe(
        1,
        11.0,
        [
            line("Starter", 50, 100, 80),
            line("$0/mo", 50, 140, 80, 30),
            line("Team", 300, 100, 80),
            line("For growing teams", 300, 120, 160, 14),
            line(second_price, 300, 140, 90, 30),
        ],
    )
    return rec, [home, plans]


def test_contradicting_values_across_pages() -> None:
    rec, keyframes = _priced_pages("$39/mo")
    speech = [
        TranscriptSegment(
            start=12.0,
            end=15.0,
            text="Wait, this says thirty nine dollars but the home page said twenty nine.",
        )
    ]
    found = [s for s in signals_of(rec, keyframes, speech) if s.kind == "contradiction"]
    assert len(found) == 1
    values = {v["display"] for v in found[0].data["values"]}
    assert values == {"$29/month", "$39/month"}
    assert "ev-speech-0" in found[0].evidence_ids
    assert found[0].time == pytest.approx(11.0)
    assert "team" in found[0].data["label"]
    # The starter plan's $0 has another label and is not part of it.
    assert "$0/month" not in found[0].title

    same, same_frames = _priced_pages("$29/mo")
    assert "contradiction" not in kinds(signals_of(same, same_frames))


def test_different_values_on_one_page_are_not_a_contradiction() -> None:
    rec = shop()
    monthly_yearly = keyframe(
        0,
        0.5,
        [
            line("Team", 50, 100, 80),
            line("$29/mo", 50, 130, 80, 30),
            line("Team", 300, 100, 80),
            line("$24/mo", 300, 130, 80, 30),
        ],
        reasons=("first",),
        ratio=1.0,
    )
    assert "contradiction" not in kinds(signals_of(rec, [monthly_yearly]))


def test_a_sale_price_beside_the_list_price_is_not_a_contradiction() -> None:
    rec, keyframes = _priced_pages("Team was $39/mo, now $29/mo")
    assert "contradiction" not in kinds(signals_of(rec, keyframes))


def test_a_spoken_value_the_screen_contradicts() -> None:
    rec = shop(url="http://shop.test/plans")
    plans = [
        keyframe(
            0,
            1.0,
            [line("Team", 300, 100, 80), line("$39/mo", 300, 140, 90, 30)],
            reasons=("first",),
            ratio=1.0,
        )
    ]
    speech = [
        TranscriptSegment(
            start=12.0, end=15.0, text="The team plan was supposed to be twenty five dollars."
        )
    ]
    found = [s for s in signals_of(rec, plans, speech) if s.kind == "contradiction"]
    assert len(found) == 1 and set(found[0].evidence_ids) == {"ev-speech-0", "ev-ocr-1"}
    assert "$25" in found[0].title and "$39/month" in found[0].title
    # Saying a value that is on screen is no contradiction.
    agree = [
        TranscriptSegment(
            start=12.0, end=15.0, text="The team plan is thirty nine dollars a month."
        )
    ]
    assert "contradiction" not in kinds(signals_of(rec, plans, agree))


def test_a_keyframe_taken_for_an_earlier_click_does_not_vouch_for_a_later_one() -> None:
    rec = shop(actions=[click(5000)], elements=[BUTTON])
    frames = [keyframe(0, 0.0, reasons=("first",), ratio=1.0), keyframe(1, 3.0, reasons=("click",))]
    assert "dead_click" not in kinds(signals_of(rec, frames))


def test_the_site_name_alone_does_not_make_two_prices_the_same_thing() -> None:
    rec = shop(
        actions=[
            {
                "type": "navigate",
                "timestamp": 0,
                "url": "http://shop.test/",
                "title": "Home — Shop",
            },
            {
                "type": "navigate",
                "timestamp": 10000,
                "url": "http://shop.test/plans",
                "title": "Plans — Shop",
            },
        ]
    )
    home = keyframe(
        0, 0.5, [line("Shop Basic from $29/mo", 50, 100, 300)], reasons=("first",), ratio=1.0
    )
    plans = keyframe(
        1, 11.0, [line("Shop Premium", 300, 100, 120), line("$99/mo", 300, 140, 90, 30)]
    )
    assert "contradiction" not in kinds(signals_of(rec, [home, plans]))


def test_error_words_scrolled_into_view_after_an_error_are_not_an_error_message() -> None:
    rec = shop(
        actions=[{"type": "scroll", "timestamp": 4200, "y": 600}],
        network=[
            {"method": "POST", "url": "http://shop.test/api", "status": 422, "timestamp": 3000}
        ],
    )
    before = keyframe(0, 0.0, [line("Checkout", 20, 20)], reasons=("first",), ratio=1.0)
    faq = keyframe(1, 4.0, [line("What if my payment fails?", 20, 200)], ratio=0.3)
    assert "screen_error" not in kinds(signals_of(rec, [before, faq]))


def test_rage_clicks_on_a_button_and_its_label_are_one_target() -> None:
    rec = shop(
        actions=[
            click(1000, "button#go", x=100, y=100),
            click(1300, "button#go > span", x=104, y=98),
            click(1600, "button#go", x=99, y=103),
        ],
        elements=[BUTTON],
    )
    assert "rage_click" in kinds(signals_of(rec))
    apart = shop(
        actions=[
            click(1000, "#a", x=10, y=10),
            click(1300, "#b", x=300, y=10),
            click(1600, "#c", x=600, y=10),
        ]
    )
    assert "rage_click" not in kinds(signals_of(apart))


def test_a_wrapped_red_message_is_quoted_whole() -> None:
    image = np.full((H, W, 3), 255, np.uint8)
    image[204:216:3, 100:400] = (30, 30, 220)
    image[226:236:3, 100:200] = (30, 30, 220)
    before = keyframe(0, 0.0, [line("Sign in", 20, 20)], reasons=("first",), ratio=1.0)
    lines = [
        line("Sign in", 20, 20),
        line("Something went wrong. Please try", 100, 200, 300, 20),
        line("again later.", 100, 222, 100, 16),
        line("Forgot password?", 100, 300, 150, 16),
    ]
    found = [
        s
        for s in signals_of(shop(), [before, keyframe(1, 3.0, lines, image=image)])
        if s.kind == "screen_error"
    ]
    assert len(found) == 1
    assert (
        found[0].title == "Error shown on screen: 'Something went wrong. Please try again later.'"
    )
    assert len(found[0].evidence_ids) == 2

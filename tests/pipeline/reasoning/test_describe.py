"""Frame descriptions: what changed and why, red error styling found in the pixels."""

from __future__ import annotations

import numpy as np

from app.pipeline.reasoning.describe import (
    describe_keyframes,
    error_styled_lines,
    find_error_regions,
)
from app.pipeline.types import Box, OcrLine
from tests.pipeline.factories import capture, keyframe, line, red_text_image

W, H = 640, 360


def _described(
    actions: list[dict],
    frames: list[tuple[float, float, Box | None, list[OcrLine]]],
    elements: list[dict] = (),
) -> list[str]:  # type: ignore[assignment]
    rec = capture(url="http://a.test/", title="Home — A", actions=actions, elements=elements)
    keyframes = [
        keyframe(i, t, lines, region=region, ratio=ratio)
        for i, (t, ratio, region, lines) in enumerate(frames)
    ]
    return [d.text for d in describe_keyframes(keyframes, rec)]


def test_frame_descriptions_say_what_changed_and_why() -> None:
    home = [
        line("Welcome to A", 20, 20, 150, 16),
        line("Our products", 20, 60, 150, 16),
        line("Contact us", 20, 100, 150, 16),
    ]
    field = {
        "selector": "#q",
        "tagName": "INPUT",
        "text": "Search",
        "boundingBox": {"x": 300, "y": 200, "width": 200, "height": 30},
    }
    texts = _described(
        [
            {"type": "navigate", "timestamp": 0, "url": "http://a.test/", "title": "Home — A"},
            {"type": "scroll", "timestamp": 2300, "y": 300},
            {
                "type": "click",
                "timestamp": 3900,
                "selector": "#q",
                "text": "Search",
                "x": 310,
                "y": 210,
            },
            {
                "type": "input",
                "timestamp": 5500,
                "selector": "#q",
                "text": "Search",
                "value": "shoes",
            },
            {
                "type": "navigate",
                "timestamp": 9000,
                "url": "http://a.test/results",
                "title": "Results — A",
            },
        ],
        [
            (0.0, 1.0, None, home),
            (2.0, 0.3, Box(x=0, y=0, w=640, h=360), home),
            (4.0, 0.01, Box(x=300, y=200, w=200, h=30), [*home, line("shoes", 305, 205, 150, 16)]),
            (
                6.0,
                0.02,
                Box(x=0, y=250, w=640, h=40),
                [*home, line("Please enter a valid query", 20, 260, 150, 16)],
            ),
            (9.5, 0.2, Box(x=0, y=0, w=640, h=360), [line("3 results", 20, 20, 150, 16)]),
        ],
        elements=[field],
    )
    assert texts[0].startswith("Home: first frame of the recording.")
    assert texts[1].startswith("Home: the page scrolled.")
    assert texts[2].startswith("Home: text typed into 'Search'.")
    assert "After clicking 'Search' (input) at (310, 210)" in texts[2]
    assert "showing 'Please enter a valid query'" in texts[3]
    assert texts[4].startswith("Results: navigated to Results — A.")


def test_red_regions_are_found_with_their_text() -> None:
    image = red_text_image(100, 200, 180, 20)
    lines = [line("Card number is invalid", 100, 200, 180, 20), line("Pay", 100, 50, 60, 20)]
    regions = find_error_regions(image, lines)
    assert len(regions) == 1 and regions[0].text == "Card number is invalid"
    box = regions[0].box
    assert box.x <= 100 and box.x + box.w >= 280 and box.y <= 204
    assert find_error_regions(np.full((H, W, 3), 255, np.uint8), lines) == []


def test_a_red_icon_beside_black_text_is_not_error_styling() -> None:
    image = np.full((H, W, 3), 255, np.uint8)
    image[100:114, 100:114] = (30, 30, 220)  # a red checkbox
    image[104:110:2, 120:260] = (20, 20, 20)  # black label text
    label = line("Remember me", 98, 98, 170, 20)
    regions = find_error_regions(image, [label])
    assert regions and error_styled_lines(image, [label], regions) == []
    # A red border enclosing a message makes the message error-styled.
    boxed = np.full((H, W, 3), 255, np.uint8)
    boxed[200:240, 50:400][[0, -1], :] = (30, 30, 220)
    boxed[200:240, 50:400][:, [0, -1]] = (30, 30, 220)
    message = line("Payment declined", 60, 210, 200, 18)
    assert error_styled_lines(boxed, [message], find_error_regions(boxed, [message])) == [message]

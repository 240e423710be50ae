"""Parsing the recorder JSON: time conversion, robustness, page visits, vocabulary."""

from __future__ import annotations

import pytest

from app.pipeline.capture import parse_capture, to_seconds
from tests.pipeline.factories import truth
from tests.support.factories import create_body

STARTED = 1_795_931_395_629


def test_relative_and_epoch_timestamps_land_on_the_same_axis() -> None:
    assert to_seconds(1500, STARTED) == pytest.approx(1.5)
    assert to_seconds(STARTED + 1500, STARTED) == pytest.approx(1.5)
    assert to_seconds(1500, None) == pytest.approx(1.5)
    assert to_seconds("2500", STARTED) == pytest.approx(2.5)
    for bad in (None, "soon", float("nan"), True, [], {}):
        assert to_seconds(bad, STARTED) is None
    assert to_seconds(-5, STARTED) == 0.0  # clock skew just before the start
    assert to_seconds(-60_000, STARTED) is None
    assert to_seconds(STARTED - 300, STARTED) == 0.0
    assert to_seconds(STARTED - 60_000, STARTED) is None
    assert to_seconds(STARTED, None) is None  # absolute, with nothing to measure from


def test_epoch_events_are_converted() -> None:
    raw = {
        "metadata": {"startedAt": STARTED, "url": "http://x.test/", "title": "Home — X"},
        "actions": [{"type": "click", "timestamp": STARTED + 4200, "selector": "#a", "text": "Go"}],
        "browserState": {
            "consoleLogs": [{"level": "ERROR", "message": "boom", "timestamp": STARTED + 5000}],
            "networkRequests": [
                {
                    "method": "post",
                    "url": "http://x.test/api",
                    "status": 503,
                    "durationMs": 120,
                    "timestamp": STARTED + 4300,
                }
            ],
        },
    }
    rec = parse_capture(raw)
    assert rec.actions[0].time == pytest.approx(4.2)
    assert rec.console[0].time == pytest.approx(5.0) and rec.console[0].is_error
    request = rec.network[0]
    assert request.time == pytest.approx(4.3) and request.method == "POST"
    assert request.failed and request.duration == pytest.approx(0.12)
    assert rec.pages[0].url == "http://x.test/" and rec.pages[0].start == 0.0


def test_malformed_events_are_skipped_and_counted() -> None:
    raw = {
        "metadata": {"duration": "abc", "visitedUrls": "nope", "features": None},
        "actions": [
            "not an object",
            {"type": "click"},  # no timestamp
            {"timestamp": 100},  # no type
            {"type": "click", "timestamp": 200, "x": "far", "selector": 7},
            None,
        ],
        "browserState": {
            "consoleLogs": [
                {"level": "error", "timestamp": 10},
                5,
                {"message": "ok", "timestamp": "x"},
            ],
            "networkRequests": [
                {"url": "http://x.test/a", "timestamp": 300},  # no status: network error
                {"url": "http://x.test/b", "timestamp": 400, "status": 0},
                {"method": "GET", "timestamp": 500, "status": 200},  # no url
                {"url": "http://x.test/c", "timestamp": 600, "status": "200", "durationMs": -3},
            ],
        },
        "elements": [
            {"tagName": "A"},
            {"selector": "#a", "boundingBox": {"x": 1, "y": 2, "width": 0}},
        ],
    }
    rec = parse_capture(raw)
    assert [a.time for a in rec.actions] == [0.2]
    assert rec.actions[0].x is None and rec.actions[0].selector == "7"
    assert rec.console == ()
    assert [r.status for r in rec.network] == [0, 0, 200]
    assert [r.failed for r in rec.network] == [True, True, False]
    assert rec.network[2].duration is None
    assert rec.elements[0].box is None
    assert rec.skipped == 4 + 3 + 1 + 1
    assert rec.duration is None and rec.visited_urls == ()


@pytest.mark.parametrize("raw", [None, [], "text", 3, {"metadata": []}, {"browserState": "x"}])
def test_nonsense_top_level_yields_an_empty_recording(raw: object) -> None:
    rec = parse_capture(raw)
    assert rec.actions == () and rec.network == () and rec.pages == ()


def test_fixture_pages_match_the_truth() -> None:
    for scenario in ("upgrade-checkout", "login-500"):
        rec = parse_capture(create_body(scenario))
        facts = truth(scenario)
        assert [p.url for p in rec.pages] == [p["url"] for p in facts["pages"]]
        for page, expected in zip(rec.pages, facts["pages"], strict=True):
            assert page.start == pytest.approx(expected["start"], abs=0.05)
            assert page.end == pytest.approx(expected["end"], abs=0.05)
            assert page.title == expected["title"]
        assert rec.skipped == 0
        assert len(rec.actions) == facts["counts"]["actions"]
        assert len(rec.network) == facts["counts"]["networkRequests"]


def test_vocabulary_comes_from_titles_labels_and_paths() -> None:
    rec = parse_capture(create_body("login-500"))
    vocabulary = rec.vocabulary()
    assert "Sign in" in vocabulary and "Remember me" in vocabulary
    assert "login" in vocabulary
    assert all(len(v) <= 40 for v in vocabulary)
    assert len({v.lower() for v in vocabulary}) == len(vocabulary)


def test_pages_are_inferred_when_navigations_were_not_recorded() -> None:
    raw = create_body("upgrade-checkout")
    raw["actions"] = [a for a in raw["actions"] if a["type"] != "navigate"]
    rec = parse_capture(raw)
    facts = truth("upgrade-checkout")
    assert [p.url for p in rec.pages] == [p["url"] for p in facts["pages"]]
    for page, expected in zip(rec.pages, facts["pages"], strict=True):
        assert page.start == pytest.approx(expected["start"], abs=0.2)  # from the document requests


def test_page_names_drop_the_site_name() -> None:
    rec = parse_capture(create_body("upgrade-checkout"))
    assert [rec.page_name(p) for p in rec.pages] == ["the home page", "Pricing", "Checkout"]
    assert rec.page_name(None) == "an unknown page"
    untitled = parse_capture({"metadata": {"url": "http://x.test/docs/start"}})
    assert untitled.page_name(untitled.pages[0]) == "/docs/start"


def test_epoch_timestamps_without_started_at_count_from_the_first_event() -> None:
    rec = parse_capture(
        {
            "metadata": {},
            "actions": [
                {"type": "navigate", "timestamp": STARTED, "url": "http://x.test/"},
                {"type": "click", "timestamp": STARTED + 2500, "selector": "#a"},
            ],
            "browserState": {
                "networkRequests": [
                    {"url": "http://x.test/api", "status": 200, "timestamp": STARTED + 2600}
                ]
            },
        }
    )
    assert [a.time for a in rec.actions] == [0.0, 2.5]
    assert rec.network[0].time == pytest.approx(2.6)
    assert rec.started_at == STARTED


def test_css_pixels_scale_to_the_video() -> None:
    plain = parse_capture({"metadata": {}})
    assert plain.css_to_video(1280) == 1.0
    retina = parse_capture({"metadata": {"devicePixelRatio": 2}})
    assert retina.css_to_video(2560) == 2.0
    sized = parse_capture(
        {"metadata": {"viewport": {"width": 1440, "height": 900}, "devicePixelRatio": 2}}
    )
    assert sized.css_to_video(1280) == pytest.approx(1280 / 1440)
    assert (
        parse_capture({"metadata": {"viewport": "wide", "devicePixelRatio": -1}}).css_to_video(800)
        == 1.0
    )

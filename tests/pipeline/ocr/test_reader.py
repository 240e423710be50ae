"""The keyframe reader on the fixtures and on made pages: truth's strings read, changed regions
only, lines carried forward (in place and through scrolls), failures reported."""

from __future__ import annotations

import itertools

import cv2
import numpy as np
import pytest

from app.pipeline.errors import StageError
from app.pipeline.ocr import KeyframeReader, OcrEngine, ocr_keyframes
from app.pipeline.ocr.base import overlap
from app.pipeline.types import Box, Keyframe, OcrLine
from tests.pipeline.factories import (
    MATCH,
    NAMES,
    SCENARIOS,
    keyframe,
    media_path,
    page_image,
    shown_during,
    truth,
)
from tests.support.text import fuzzy_contains


def texts(keyframes: list[Keyframe]) -> list[str]:
    return [line.text for k in keyframes for line in k.lines]


def test_fuzzy_match_threshold_is_meaningful() -> None:
    assert fuzzy_contains(["Pro plan from $49 /mo — 10 seats"], "Pro plan from $49/mo") == 100
    assert fuzzy_contains(["$59/m0"], "$59/mo") >= MATCH
    assert fuzzy_contains(["$49/mo"], "$59/mo") < MATCH
    assert fuzzy_contains(["Card number"], "Card number is invalid") < MATCH


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_key_text_of_every_page_is_read(scenario: str, read_keyframes) -> None:
    keyframes = read_keyframes(scenario)
    for page in truth(scenario)["pages"]:
        seen = texts(shown_during(keyframes, page["start"], page["end"] - 0.05))
        for key in page["keyText"]:
            assert fuzzy_contains(seen, key) >= MATCH, (page["url"], key)


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_on_screen_text_is_read_when_it_is_shown(scenario: str, read_keyframes) -> None:
    keyframes = read_keyframes(scenario)
    for item in truth(scenario)["onScreenText"]:
        seen = texts(shown_during(keyframes, item["t"], item["t"] + 1.5))
        assert fuzzy_contains(seen, item["text"]) >= MATCH, item


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_lines_have_words_boxes_and_confidence(scenario: str, read_keyframes) -> None:
    for k in read_keyframes(scenario):
        assert k.lines
        h, w = k.image.shape[:2]
        for line in k.lines:
            assert line.text.strip() and line.words
            assert " ".join(word.text for word in line.words) == line.text
            assert 0.0 <= line.confidence <= 1.0
            for b in [line.box] + [word.box for word in line.words]:
                assert b.x >= 0 and b.y >= 0 and b.x + b.w <= w + 1 and b.y + b.h <= h + 1, (
                    line,
                    b,
                )


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_unchanged_lines_are_carried_forward(scenario: str, read_keyframes) -> None:
    keyframes = read_keyframes(scenario)
    carried = 0
    for prev, cur in itertools.pairwise(keyframes):
        ids = {id(line) for line in prev.lines}
        for line in cur.lines:
            if id(line) in ids:
                carried += 1
                # A carried line is one whose pixels did not change.
                b = line.box
                before = cv2.cvtColor(
                    prev.image[b.y : b.y + b.h, b.x : b.x + b.w], cv2.COLOR_BGR2GRAY
                )
                after = cv2.cvtColor(
                    cur.image[b.y : b.y + b.h, b.x : b.x + b.w], cv2.COLOR_BGR2GRAY
                )
                changed = cv2.absdiff(before, after) > 48  # beyond video-compression noise
                assert float(changed.mean()) <= 0.05, line
    assert carried >= 3 * len(keyframes)


class _Spy:
    """Wraps an engine and records the area of every region it is asked to read."""

    def __init__(self, inner) -> None:
        self.inner = inner
        self.name = inner.name
        self.areas: list[int] = []
        self.images: list[np.ndarray] = []

    def read(self, image: np.ndarray, region: Box | None = None) -> list[OcrLine]:
        h, w = image.shape[:2]
        self.areas.append(w * h if region is None else region.w * region.h)
        self.images.append(image)
        return self.inner.read(image, region)

    def forget(self) -> None:
        self.inner.forget()


def test_only_changed_regions_are_read(keyframes_of, ocr_engine) -> None:
    keyframes = keyframes_of("login-500", "mp4")
    spy = _Spy(ocr_engine)
    events: list[tuple[str, float, str]] = []
    ocr_keyframes(keyframes, spy, lambda s, f, m: events.append((s, f, m)))
    full = 1280 * 720
    assert spy.areas[0] == full
    assert sum(spy.areas) < 0.4 * full * len(keyframes)
    assert [f for s, f, _ in events if s == "ocr"][-1] == 1.0


def test_scrolled_lines_move_with_the_page_and_only_new_text_is_read(ocr_engine) -> None:
    words = [
        "ALPHA ORDERS 2041",
        "BRAVO INVOICE 7730",
        "CHARLIE REFUND 118",
        "DELTA BILLING 9052",
        "ECHO ACCOUNT 3316",
        "FOXTROT PAYMENT 4410",
        "GOLF RECEIPT 5583",
        "HOTEL CREDIT 6624",
        "INDIA TRANSFER 7719",
        "JULIET BALANCE 8807",
        "KILO STATEMENT 9931",
    ]
    first = page_image(words[:10])
    scrolled = page_image(words[1:11])  # scrolled by one line (60 px): KILO appears at the bottom
    spy = _Spy(ocr_engine)
    keyframes = [
        keyframe(0, 0.0, region=None, ratio=1.0, image=first),
        keyframe(1, 1.0, region=Box(x=0, y=0, w=900, h=640), ratio=0.2, image=scrolled),
    ]
    ocr_keyframes(keyframes, spy)
    assert fuzzy_contains(texts(keyframes[:1]), "ALPHA ORDERS 2041") >= MATCH
    second = keyframes[1].lines
    assert fuzzy_contains([ln.text for ln in second], "KILO STATEMENT 9931") >= MATCH
    assert fuzzy_contains([ln.text for ln in second], "ALPHA ORDERS 2041") < MATCH
    moved = [
        ln
        for ln in second
        if any(ln.text == p.text and ln.box.y == p.box.y - 60 for p in keyframes[0].lines)
    ]
    assert len(moved) >= 6, "lines still on screen are carried, moved up by the scroll"
    assert sum(spy.areas[1:]) < 0.2 * 900 * 640, "only the newly exposed strip is read"


@pytest.mark.parametrize("scroll", [61, 143, 400])
def test_lines_are_carried_whatever_the_scroll_length(ocr_engine, scroll: int) -> None:
    """An odd number of pixels (between two half-resolution shifts) and a scroll longer than
    half the screen (the phase correlation wraps it around) still carry what stayed."""
    words = [f"{name} ITEM {1000 + 37 * i}" for i, name in enumerate(NAMES)]
    document = page_image(words, top=40, gap=60, size=(900, 40 + 60 * len(words)))
    first, second = document[:640], document[scroll : scroll + 640]
    spy = _Spy(ocr_engine)
    keyframes = [
        keyframe(0, 0.0, region=None, ratio=1.0, image=first.copy()),
        keyframe(1, 1.0, region=Box(x=0, y=0, w=900, h=640), ratio=0.5, image=second.copy()),
    ]
    ocr_keyframes(keyframes, spy)
    kept = [p for p in keyframes[0].lines if p.box.y - scroll >= 0]
    moved = [
        ln
        for ln in keyframes[1].lines
        if any(ln.text == p.text and ln.box.y == p.box.y - scroll for p in kept)
    ]
    assert len(kept) >= 3
    assert len(moved) >= len(kept) - 1, "lines still on screen are carried, moved by the scroll"
    # Blocks are read around the text only: well under the newly exposed strip. Without the
    # carry (every line re-read) the second keyframe cost 108k, 160k and 173k pixels.
    assert sum(spy.areas[1:]) <= 0.4 * scroll * 900, "only the newly exposed strip is read"
    assert fuzzy_contains(texts(keyframes[1:]), words[(scroll + 640) // 60 - 1]) >= MATCH


def test_a_screen_shown_again_takes_the_lines_read_before(ocr_engine) -> None:
    """Back to the top of a page, or back from another page: nothing is read again."""
    home = page_image([f"{name} HOME {i}" for i, name in enumerate(NAMES[:9])])
    other = page_image([f"{name} PRICING {i}" for i, name in enumerate(NAMES[5:14])], top=70)
    noise = np.random.default_rng(5).integers(-6, 7, home.shape)
    again = np.clip(home.astype(int) + noise, 0, 255).astype(np.uint8)  # re-encoded
    full = Box(x=0, y=0, w=900, h=640)
    keyframes = [
        keyframe(0, 0.0, region=None, ratio=1.0, image=home),
        keyframe(1, 2.0, region=full, ratio=0.5, image=other),
        keyframe(2, 4.0, region=full, ratio=0.5, image=again),
    ]
    spy = _Spy(ocr_engine)
    ocr_keyframes(keyframes, spy)
    assert [ln.text for ln in keyframes[2].lines] == [ln.text for ln in keyframes[0].lines]
    assert fuzzy_contains(texts(keyframes[2:]), "ALPHA HOME 0") >= MATCH
    assert fuzzy_contains(texts(keyframes[2:]), "PRICING") < MATCH
    assert sum(1 for image in spy.images if image is again) == 0, "nothing read again"


def test_a_line_that_scrolled_and_changed_in_part_is_read_whole(ocr_engine) -> None:
    words = [f"{name} {noun} {1000 + 37 * i}" for i, (name, noun) in enumerate(_ROWS)]
    changed = [*words[1:11]]
    changed[2] = "DELTA MONTHLY BILLING 9999"  # was 1111: the rest matches the moved old line
    keyframes = [
        keyframe(0, 0.0, region=None, ratio=1.0, image=page_image(words[:10])),
        keyframe(1, 1.0, region=Box(x=0, y=0, w=900, h=640), ratio=0.2, image=page_image(changed)),
    ]
    ocr_keyframes(keyframes, ocr_engine)
    second = [ln.text for ln in keyframes[1].lines]
    assert fuzzy_contains(second, "DELTA MONTHLY BILLING 9999") >= MATCH, second
    assert fuzzy_contains(second, "KILO STATEMENT 1370") >= MATCH, second


_ROWS = [
    ("ALPHA", "ORDERS"),
    ("BRAVO", "INVOICE"),
    ("CHARLIE", "REFUND"),
    ("DELTA", "MONTHLY BILLING"),
    ("ECHO", "ACCOUNT"),
    ("FOXTROT", "PAYMENT"),
    ("GOLF", "RECEIPT"),
    ("HOTEL", "CREDIT"),
    ("INDIA", "TRANSFER"),
    ("JULIET", "BALANCE"),
    ("KILO", "STATEMENT"),
]


@pytest.mark.parametrize("scenario", SCENARIOS)
def test_no_place_on_screen_keeps_two_reads(scenario: str, read_keyframes) -> None:
    """A fragment read by a block cut through a carried line must not be carried on beside it."""
    for kf in read_keyframes(scenario):
        for i, a in enumerate(kf.lines):
            for b in kf.lines[i + 1 :]:
                assert overlap(a.box, b.box) <= 0.5, (kf.timestamp, a.text, b.text)


def test_a_keyframe_is_read_against_the_one_submitted_before_it_even_if_that_one_is_dropped(
    ocr_engine,
) -> None:
    """The keyframe pass may drop a keyframe after OCR saw it and re-measure its follower against
    an older one; the reader keeps the region it was given, so no line leaks across the drop."""
    words = ["ORDER HISTORY", "INVOICE 7730", "REFUND 118"]
    plain = page_image(words)
    toast = plain.copy()
    cv2.rectangle(toast, (420, 520), (880, 600), (60, 60, 200), -1)
    cv2.putText(
        toast, "PAYMENT FAILED", (440, 575), cv2.FONT_HERSHEY_DUPLEX, 1.0, (255, 255, 255), 2
    )
    toast_box = Box(x=410, y=510, w=480, h=100)
    keyframes = [
        keyframe(0, 0.0, region=None, ratio=1.0, image=plain),
        keyframe(1, 1.0, region=toast_box, ratio=0.08, image=toast),
        keyframe(2, 2.0, region=toast_box, ratio=0.08, image=plain.copy()),
    ]
    reader = KeyframeReader(ocr_engine)
    for kf in keyframes:
        reader.submit(kf)
    # What the pass does when it drops keyframe 1: keyframe 2 equals keyframe 0, nothing changed.
    keyframes[2].changed_region = Box(x=0, y=0, w=0, h=0)
    reader.finish()
    assert fuzzy_contains([ln.text for ln in keyframes[1].lines], "PAYMENT FAILED") >= MATCH
    assert fuzzy_contains([ln.text for ln in keyframes[2].lines], "PAYMENT FAILED") < MATCH
    assert fuzzy_contains([ln.text for ln in keyframes[2].lines], "INVOICE 7730") >= MATCH


def test_the_reader_reports_a_failed_read_and_stops_taking_keyframes() -> None:
    class Broken:
        name = "broken"

        def read(self, image: np.ndarray, region: Box | None = None) -> list[OcrLine]:
            raise RuntimeError("engine crashed")

        def forget(self) -> None:
            pass

    reader = KeyframeReader(Broken())

    def feed() -> None:
        try:  # the error surfaces at a later submit, at the latest at finish
            for i in range(200):
                reader.submit(
                    keyframe(
                        i,
                        float(i),
                        region=None if i == 0 else Box(x=0, y=0, w=10, h=10),
                        ratio=0.1,
                        image=page_image(["A"]),
                    )
                )
        except BaseException:
            reader.close()
            raise
        reader.finish()

    with pytest.raises(RuntimeError, match="engine crashed"):
        feed()


def test_an_engine_that_cannot_load_fails_the_reader() -> None:
    def load() -> OcrEngine:
        raise StageError("no Tesseract data for language 'xx'")

    reader = KeyframeReader(load)

    def feed() -> None:
        try:  # the error surfaces at a submit once the load has failed, at the latest at finish
            reader.submit(keyframe(0, 0.0, region=None, ratio=1.0, image=page_image(["A"])))
        except BaseException:
            reader.close()
            raise
        reader.finish()

    with pytest.raises(StageError, match="no Tesseract data"):
        feed()


def test_once_the_keyframe_pass_drops_keyframes_only_the_survivors_are_read(ocr_engine) -> None:
    """A long recording must not cost one OCR read per screen state it ever showed."""
    import dataclasses

    from app.pipeline.media.keyframes import KeyframeHints, extract_keyframes, keyframe_cap
    from app.pipeline.media.probe import probe
    from app.pipeline.options import KeyframeOptions, MediaLimits

    video = media_path("upgrade-checkout", "webm")
    info = probe(video, MediaLimits())
    options = KeyframeOptions(max_keyframes=5)
    cap = keyframe_cap(options, info.width, info.height)
    reader = KeyframeReader(ocr_engine, stream_limit=cap)
    submitted: list[Keyframe] = []

    def submit(kf: Keyframe) -> None:
        submitted.append(kf)
        reader.submit(kf)

    final = extract_keyframes(
        video, info, options, MediaLimits(), KeyframeHints(), on_keyframe=submit
    )
    reader.finish(final)
    assert cap == 5 and len(final) == 5 and len(submitted) > 2 * cap  # the pass did drop many
    assert reader.reads <= 2 * cap
    # Each survivor reads as it would in a pass over the final list alone.
    fresh = [dataclasses.replace(kf, lines=[]) for kf in final]
    ocr_keyframes(fresh, ocr_engine)
    for streamed, alone in zip(final, fresh, strict=True):
        a, b = {ln.text for ln in streamed.lines}, {ln.text for ln in alone.lines}
        assert len(a & b) >= 0.8 * len(a | b), (streamed.timestamp, a ^ b)


def test_closing_a_reader_stops_its_thread_and_is_harmless_once_finished(ocr_engine) -> None:
    import threading

    def readers() -> int:
        return sum(t.name == "ocr-reader" for t in threading.enumerate())

    before = readers()
    frame = keyframe(0, 0.0, region=None, ratio=1.0, image=page_image(["ORDER HISTORY"]))
    finished = KeyframeReader(ocr_engine)
    finished.submit(frame)
    finished.finish([frame])
    finished.close()  # after finish: nothing to stop, returns at once
    assert fuzzy_contains([ln.text for ln in frame.lines], "ORDER HISTORY") >= MATCH
    stopped = KeyframeReader(ocr_engine)
    stopped.submit(keyframe(0, 0.0, region=None, ratio=1.0, image=page_image(["A"])))
    stopped.close()
    assert readers() == before

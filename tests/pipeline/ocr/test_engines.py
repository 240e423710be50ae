"""The OCR engines: Tesseract, PP-OCR's lean line recogniser, and the hybrid of the two with
its memory of lines already recognised."""

from __future__ import annotations

import itertools

import cv2
import numpy as np
import pytest

from app.pipeline.ocr import make_ocr
from app.pipeline.ocr.hybrid import _line_strips, _LineMemory
from app.pipeline.ocr.rapid import LineRecogniser, RapidOcr
from app.pipeline.options import OcrOptions
from app.pipeline.types import Box
from tests.pipeline.factories import MATCH, page_image
from tests.support.text import fuzzy_contains


def test_hybrid_reads_light_text_on_a_coloured_button() -> None:
    img = np.full((200, 700, 3), 255, np.uint8)
    cv2.putText(
        img, "Order summary", (30, 60), cv2.FONT_HERSHEY_DUPLEX, 0.9, (20, 20, 20), 2, cv2.LINE_AA
    )
    cv2.rectangle(img, (30, 100), (330, 160), (229, 70, 79), -1)  # a blue-violet button (BGR)
    cv2.putText(
        img,
        "Save settings",
        (50, 142),
        cv2.FONT_HERSHEY_DUPLEX,
        0.9,
        (255, 255, 255),
        2,
        cv2.LINE_AA,
    )
    lines = make_ocr(OcrOptions(engine="hybrid")).read(img)
    seen = [ln.text for ln in lines]
    assert fuzzy_contains(seen, "Order summary") >= MATCH
    assert fuzzy_contains(seen, "Save settings") >= MATCH, seen


def test_tesseract_engine_reads_plain_text_with_word_boxes() -> None:
    img = page_image(["Invoice total 42"], top=60, size=(500, 100))
    lines = make_ocr(OcrOptions(engine="tesseract")).read(img)
    assert fuzzy_contains([ln.text for ln in lines], "Invoice total 42") >= MATCH
    words = [w for ln in lines for w in ln.words]
    assert len(words) == 3 and words[0].box.x < words[1].box.x < words[2].box.x
    # A region limits the reading, and boxes stay in full-image coordinates.
    right = make_ocr(OcrOptions(engine="tesseract")).read(img, Box(x=150, y=0, w=350, h=100))
    assert all(w.box.x >= 150 for ln in right for w in ln.words)


def test_an_unknown_engine_name_is_refused() -> None:
    with pytest.raises(ValueError):
        make_ocr(OcrOptions(engine="nonsense"))  # type: ignore[arg-type]


def test_line_recogniser_reads_like_rapidocr() -> None:
    """The lean recogniser gives rapidocr's own readings and scores for the same line images.

    Lines narrower than 320 px at 48 px high are padded less than rapidocr pads them: the same
    text, a score a little off."""
    from rapidocr.ch_ppocr_rec import TextRecInput

    image = page_image(["Upgrade to Pro", "Card number is invalid", "$59/mo", "OK"], top=60, gap=70)
    boxes = [Box(x=30, y=30 + i * 70, w=w, h=44) for i, w in enumerate((300, 420, 160, 80))]
    lean = LineRecogniser(OcrOptions()).recognise(image, boxes)
    reference = RapidOcr(OcrOptions())._engine._load_rec_model()(
        TextRecInput(img=[image[b.y : b.y + b.h, b.x : b.x + b.w].copy() for b in boxes])
    )
    assert [t for t, _ in lean] == [t.strip() for t in reference.txts]
    assert [t for t, _ in lean][:3] == ["Upgrade to Pro", "Card number is invalid", "$59/mo"]
    assert np.allclose([s for _, s in lean][:2], reference.scores[:2], atol=1e-3)
    assert np.allclose([s for _, s in lean][2:], reference.scores[2:], atol=0.05)


def test_a_block_of_several_lines_is_cut_into_its_lines() -> None:
    image = page_image(["FIRST LINE", "SECOND LINE", "THIRD"], top=60, gap=40)
    strips = _line_strips(image, Box(x=20, y=20, w=500, h=140))
    assert len(strips) == 3
    assert all(s.h < 40 for s in strips)
    assert [s.y < t.y for s, t in itertools.pairwise(strips)] == [True, True]
    assert strips[2].w < strips[1].w  # tight around the ink: "THIRD" is shorter


def test_a_line_seen_again_is_recognised_once_per_recording() -> None:
    calls: list[int] = []

    def recognise(image: np.ndarray, boxes: list[Box]) -> list[tuple[str, float]]:
        calls.append(len(boxes))
        return [(f"line {len(calls)}.{i}", 0.9) for i in range(len(boxes))]

    page = page_image(["SAML single sign-on", "Pay $59.00"], top=60, gap=60)
    boxes = [Box(x=30, y=30, w=360, h=44), Box(x=30, y=90, w=220, h=44)]
    memory = _LineMemory()
    first = memory.recognise(page, boxes, recognise)
    # The same lines scrolled up by 17 px and re-encoded (noise) come back with the first
    # readings, without a call; a changed digit does not.
    noise = np.random.default_rng(3).integers(-12, 13, page.shape)
    moved = np.clip(np.roll(page, -17, axis=0).astype(int) + noise, 0, 255).astype(np.uint8)
    shifted = [Box(x=b.x, y=b.y - 17, w=b.w, h=b.h) for b in boxes]
    assert memory.recognise(moved, shifted, recognise) == first
    assert calls == [2]
    changed = page_image(["SAML single sign-on", "Pay $58.00"], top=60, gap=60)
    again = memory.recognise(changed, boxes, recognise)
    assert again[0] == first[0] and again[1] != first[1]
    assert calls == [2, 1]


def test_the_hybrid_engine_forgets_its_lines_between_recordings(ocr_engine) -> None:
    page = page_image(["Start free trial", "$59/mo"], top=60, gap=60)
    boxes = [Box(x=30, y=30, w=300, h=44)]
    seen: list[int] = []

    def recognise(image: np.ndarray, wanted: list[Box]) -> list[tuple[str, float]]:
        seen.append(len(wanted))
        return [("x", 0.9)] * len(wanted)

    ocr_engine.forget()
    ocr_engine._seen.recognise(page, boxes, recognise)
    ocr_engine._seen.recognise(page, boxes, recognise)
    ocr_engine.forget()
    ocr_engine._seen.recognise(page, boxes, recognise)
    assert seen == [1, 1]
    ocr_engine.forget()

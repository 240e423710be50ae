"""Planning what to read: a change in faint print is read again, encoder noise is not, and
one place on screen keeps one reading."""

from __future__ import annotations

import cv2
import numpy as np

from app.pipeline.ocr.planning import plan_reads, reconcile
from app.pipeline.types import Box, OcrLine
from tests.pipeline.factories import NAMES, page_image


def test_a_change_in_light_grey_small_print_is_read_again() -> None:
    def page(text: str) -> np.ndarray:
        img = np.full((300, 700, 3), 255, np.uint8)
        cv2.putText(img, "Account settings", (30, 60), cv2.FONT_HERSHEY_DUPLEX, 1.0, (30,) * 3, 2)
        cv2.putText(img, text, (30, 120), cv2.FONT_HERSHEY_SIMPLEX, 0.45, (170,) * 3, 1)
        return img

    before, after = page("Saved 2 minutes ago"), page("Saved 3 minutes ago")
    plan = plan_reads(before, after, Box(x=0, y=0, w=700, h=300), [])
    assert any(b.y <= 112 <= b.y + b.h and b.x <= 70 <= b.x + b.w for b in plan.read), plan.read


def test_lone_pixels_of_encoder_noise_are_not_read(ocr_engine) -> None:
    """Ringing that flips isolated pixels of an unchanged screen makes nothing to read."""
    before = page_image([f"{name} ORDERS {1000 + 37 * i}" for i, name in enumerate(NAMES[:9])])
    lines = ocr_engine.read(before)
    after = before.copy()
    rng = np.random.default_rng(11)
    for y, x in zip(rng.integers(0, 320, 60) * 2, rng.integers(0, 450, 60) * 2, strict=True):
        after[y : y + 2, x : x + 2] = 255 - after[y : y + 2, x : x + 2] // 3  # a 2x2 speck
    plan = plan_reads(before, after, Box(x=0, y=0, w=900, h=640), lines)
    assert plan.read == []
    assert len(plan.carried) == len(lines)


def test_reconcile_keeps_the_wider_read_of_one_place() -> None:
    whole = OcrLine(text="Acme Cloud", box=Box(x=10, y=10, w=100, h=20), confidence=0.9)
    tail = OcrLine(text="ie Cloud", box=Box(x=40, y=10, w=70, h=20), confidence=0.8)
    reread = OcrLine(text="Acme Cloud Pro", box=Box(x=10, y=10, w=140, h=20), confidence=0.9)
    elsewhere = OcrLine(text="Pricing", box=Box(x=300, y=10, w=60, h=20), confidence=0.9)
    kept = reconcile([whole, elsewhere], [tail])
    assert sorted(line.text for line in kept) == ["Acme Cloud", "Pricing"]
    assert [line.text for line in reconcile([whole], [reread])] == ["Acme Cloud Pro"]

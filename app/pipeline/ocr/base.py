"""What every OCR engine offers, and the box arithmetic the engines and the reader share.

Boxes are in full-resolution pixels of the image read (:class:`app.pipeline.types.Box`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Protocol

import cv2
import numpy as np

from app.pipeline.types import Box, OcrLine


class OcrEngine(Protocol):
    """Reads text from a BGR image. ``read`` may be called from several threads at once."""

    name: str

    def read(self, image: np.ndarray, region: Box | None = None) -> list[OcrLine]:
        """The lines of text in ``region`` (whole image when None), boxes in image coordinates."""
        ...

    def forget(self) -> None:
        """Drop what the engine remembers of earlier reads; called before each recording."""
        ...


def clip(region: Box | None, image: np.ndarray) -> Box | None:
    """``region`` cut to the image (all of it when None); None when less than 4 px is left."""
    h, w = image.shape[:2]
    if region is None:
        return Box(x=0, y=0, w=w, h=h)
    x0, y0 = max(0, region.x), max(0, region.y)
    x1, y1 = min(w, region.x + region.w), min(h, region.y + region.h)
    if x1 - x0 < 4 or y1 - y0 < 4:
        return None
    return Box(x=x0, y=y0, w=x1 - x0, h=y1 - y0)


def union(boxes: Iterable[Box]) -> Box:
    """The smallest box holding every one of ``boxes``."""
    bs = list(boxes)
    x0 = min(b.x for b in bs)
    y0 = min(b.y for b in bs)
    x1 = max(b.x + b.w for b in bs)
    y1 = max(b.y + b.h for b in bs)
    return Box(x=x0, y=y0, w=x1 - x0, h=y1 - y0)


def overlap(a: Box, b: Box) -> float:
    """Intersection area over the smaller box's area."""
    ix = max(0, min(a.x + a.w, b.x + b.w) - max(a.x, b.x))
    iy = max(0, min(a.y + a.h, b.y + b.h) - max(a.y, b.y))
    small = min(a.w * a.h, b.w * b.h)
    return (ix * iy) / small if small else 0.0


def merge_nearby(boxes: list[Box], width: int, height: int, gap: int = 8) -> list[Box]:
    """Grow boxes by a margin and merge overlapping ones, so PP-OCR sees whole lines."""
    grown = [
        Box(
            x=max(0, b.x - gap),
            y=max(0, b.y - gap // 2),
            w=min(width, b.x + b.w + gap) - max(0, b.x - gap),
            h=min(height, b.y + b.h + gap // 2) - max(0, b.y - gap // 2),
        )
        for b in boxes
    ]
    merged: list[Box] = []
    for b in sorted(grown, key=lambda b: (b.y, b.x)):
        for i, m in enumerate(merged):
            if overlap(b, m) > 0 or (
                abs(b.y - m.y) < 6
                and abs(b.h - m.h) < 8
                and (b.x - (m.x + m.w)) < 2 * gap
                and b.x >= m.x
            ):
                merged[i] = union((m, b))
                break
        else:
            merged.append(b)
    return merged


def to_gray(image: np.ndarray) -> np.ndarray:
    """``image`` in grey levels (a grey image as it is)."""
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image

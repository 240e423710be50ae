"""The hybrid engine: Tesseract first, then PP-OCR's recogniser only where Tesseract doubted its
reading or read nothing; a line image recognised once in a recording is not recognised again."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable

import cv2
import numpy as np

from app.pipeline.ocr.base import clip, merge_nearby, overlap, to_gray
from app.pipeline.ocr.rapid import LineRecogniser
from app.pipeline.ocr.tesseract import TesseractOcr
from app.pipeline.options import OcrOptions
from app.pipeline.types import Box, OcrLine, OcrWord


def _text_blocks(gray: np.ndarray, offset: Box) -> list[Box]:
    """Find text-like blocks by morphology: gradient, binarise, close horizontally.

    A classic, engine-free detector that finds text whatever its colours
    (white on blue as well as grey on white), used to spot what an OCR engine
    left unread.
    """
    grad = cv2.morphologyEx(gray, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8))
    _, bw = cv2.threshold(grad, 0, 255, cv2.THRESH_BINARY | cv2.THRESH_OTSU)
    closed = cv2.morphologyEx(
        bw, cv2.MORPH_CLOSE, cv2.getStructuringElement(cv2.MORPH_RECT, (9, 1))
    )
    count, _, stats, _ = cv2.connectedComponentsWithStats(closed, connectivity=8)
    blocks: list[Box] = []
    for i in range(1, count):
        x, y, w, h, area = (int(v) for v in stats[i])
        # Text lines: a few pixels to a few tens tall, clearly wider than tall (icons and
        # check marks are squarish), reasonably filled.
        if 6 <= h <= 64 and w >= max(32, 2 * h) and area >= 0.25 * w * h:
            blocks.append(Box(x=x + offset.x, y=y + offset.y, w=w, h=h))
    return blocks


def _line_strips(image: np.ndarray, block: Box) -> list[Box]:
    """Cut a block into its lines of text at the rows without ink (screen text is level)."""
    gray = to_gray(image[block.y : block.y + block.h, block.x : block.x + block.w])
    grad = cv2.morphologyEx(gray, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8))
    ink = (grad > 40).sum(axis=1) >= 2
    strips: list[Box] = []
    y = 0
    while y < len(ink):
        if not ink[y]:
            y += 1
            continue
        end = y
        while end < len(ink) and ink[end]:
            end += 1
        if end - y >= 6:  # a line of text, not a rule or a border
            top, bottom = max(0, y - 3), min(block.h, end + 3)
            cols = np.flatnonzero((grad[y:end] > 40).any(axis=0))
            left, right = max(0, int(cols[0]) - 4), min(block.w, int(cols[-1]) + 5)
            strips.append(Box(x=block.x + left, y=block.y + top, w=right - left, h=bottom - top))
        y = end
    return strips or [block]


class HybridOcr:
    """Tesseract first; PP-OCR re-reads only the lines Tesseract doubted and the text it missed.

    Doubted: a real word (two or more letters or digits) under ``recheck_confidence``,
    or an ellipsis, which Tesseract's LSTM emits for glyphs it cannot resolve
    (small print next to large type). Missed: text-like blocks found by
    morphology that no Tesseract line covers (light text on a coloured button).
    Each is re-read by PP-OCR's recogniser alone (a block of several lines cut into
    its lines first); PP-OCR's detector is never needed.
    """

    name = "hybrid"

    def __init__(self, options: OcrOptions) -> None:
        self.options = options
        self.fast = TesseractOcr(options)
        self.accurate = LineRecogniser(options)
        self.workers = self.fast.workers
        self._seen = _LineMemory()

    def forget(self) -> None:
        """Forget the lines recognised so far (another recording's lines will not come back)."""
        self._seen = _LineMemory()

    def _doubtful(self, line: OcrLine) -> bool:
        if "..." in line.text or "\u2026" in line.text:
            return True
        return any(
            w.confidence < self.options.recheck_confidence
            for w in line.words
            if sum(ch.isalnum() for ch in w.text) >= 2
        )

    def read(self, image: np.ndarray, region: Box | None = None) -> list[OcrLine]:
        """Read the lines in ``region`` of a BGR image."""
        box = clip(region, image)
        if box is None:
            return []
        h_img, w_img = image.shape[:2]
        lines = self.fast.read(image, box)
        doubtful = [ln for ln in lines if self._doubtful(ln)]
        sure = [ln for ln in lines if not self._doubtful(ln)]
        crop = image[box.y : box.y + box.h, box.x : box.x + box.w]
        blocks = _text_blocks(cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY), box)
        missed = [b for b in blocks if not any(overlap(b, ln.box) > 0.5 for ln in lines)]
        missed = merge_nearby(missed, w_img, h_img, gap=6)

        single = [_pad(ln.box, 6, 4, w_img, h_img) for ln in doubtful]
        single += [line for b in missed for line in (_line_strips(image, b) if b.h > 40 else [b])]
        out = list(sure)
        for (text, score), target, origin in zip(
            self._seen.recognise(image, single, self.accurate.recognise),
            single,
            doubtful + [None] * (len(single) - len(doubtful)),
            strict=True,
        ):
            if origin is not None and (score < self.options.min_confidence or not text):
                out.append(origin)  # PP-OCR could not do better: keep Tesseract's reading
            elif score >= self.options.recheck_confidence and sum(ch.isalnum() for ch in text) >= 2:
                out.append(_line_from_text(text, score, target if origin is None else origin.box))
            elif origin is not None:
                out.append(origin)
        return _dedupe(out)


class _LineMemory:
    """Line images of one recording recognised before, so that a line seen again is not
    recognised again.

    A doubted line stays doubted: when it scrolls, or a change next to it makes its block be
    read again, the same pixels come back, a little re-encoded. A box of the same size whose
    pixels agree with a remembered one (almost no pixel off by more than the encoder's noise)
    takes the remembered reading; recognition is by far the dearest step of a re-read.
    """

    _NOISE = 48  # grey levels a re-encoded pixel may move
    _MAX_OFF = 0.002  # share of pixels allowed beyond that; one changed character is ~2%
    _SHAPES = 256
    _PER_SHAPE = 8

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._by_shape: OrderedDict[tuple[int, int], list[tuple[np.ndarray, tuple[str, float]]]]
        self._by_shape = OrderedDict()

    def recognise(
        self,
        image: np.ndarray,
        boxes: list[Box],
        recognise: Callable[[np.ndarray, list[Box]], list[tuple[str, float]]],
    ) -> list[tuple[str, float]]:
        crops = [to_gray(image[b.y : b.y + b.h, b.x : b.x + b.w]) for b in boxes]
        found = [self._recall(crop) for crop in crops]
        missing = [i for i, hit in enumerate(found) if hit is None]
        if missing:
            fresh = recognise(image, [boxes[i] for i in missing])
            for i, reading in zip(missing, fresh, strict=True):
                found[i] = reading
                self._remember(crops[i], reading)
        return [hit if hit is not None else ("", 0.0) for hit in found]

    def _recall(self, crop: np.ndarray) -> tuple[str, float] | None:
        with self._lock:
            entries = self._by_shape.get(crop.shape)
            if not entries:
                return None
            self._by_shape.move_to_end(crop.shape)
            for seen, reading in entries:
                off = cv2.absdiff(seen, crop) > self._NOISE
                if np.count_nonzero(off) <= self._MAX_OFF * crop.size:
                    return reading
        return None

    def _remember(self, crop: np.ndarray, reading: tuple[str, float]) -> None:
        with self._lock:
            entries = self._by_shape.setdefault(crop.shape, [])
            self._by_shape.move_to_end(crop.shape)
            entries.insert(0, (crop.copy(), reading))
            del entries[self._PER_SHAPE :]
            while len(self._by_shape) > self._SHAPES:
                self._by_shape.popitem(last=False)


def _pad(box: Box, px: int, py: int, width: int, height: int) -> Box:
    x0, y0 = max(0, box.x - px), max(0, box.y - py)
    x1, y1 = min(width, box.x + box.w + px), min(height, box.y + box.h + py)
    return Box(x=x0, y=y0, w=x1 - x0, h=y1 - y0)


def _line_from_text(text: str, score: float, box: Box) -> OcrLine:
    """A line whose words get boxes in proportion to their length (the recogniser gives none)."""
    tokens = text.split()
    total = sum(len(t) for t in tokens) + max(0, len(tokens) - 1)
    words: list[OcrWord] = []
    pos = 0
    for token in tokens:
        x0 = box.x + int(box.w * pos / total)
        x1 = box.x + int(box.w * (pos + len(token)) / total)
        words.append(
            OcrWord(
                text=token, box=Box(x=x0, y=box.y, w=max(1, x1 - x0), h=box.h), confidence=score
            )
        )
        pos += len(token) + 1
    return OcrLine(text=" ".join(tokens), box=box, confidence=score, words=tuple(words))


def _dedupe(lines: list[OcrLine]) -> list[OcrLine]:
    out: list[OcrLine] = []
    for ln in sorted(lines, key=lambda ln: -ln.confidence):
        if any(overlap(ln.box, o.box) > 0.7 and ln.text.lower() == o.text.lower() for o in out):
            continue
        out.append(ln)
    return sorted(out, key=lambda ln: (ln.box.y, ln.box.x))

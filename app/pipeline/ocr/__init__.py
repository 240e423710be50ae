"""OCR of keyframes: words and lines with boxes and confidence.

Only the region that changed since the previous keyframe is read; lines
outside it are carried forward from the previous keyframe. Three engines sit
behind one protocol:

* ``tesseract`` — Tesseract 5 (LSTM) through tesserocr: fast, but it misses
  light-on-dark button labels and faint small print.
* ``rapidocr`` — PP-OCR models on ONNX Runtime: reads nearly everything, many times slower.
* ``hybrid`` — Tesseract first, then PP-OCR only on the small text blocks that
  Tesseract left unread or read with low confidence.

``auto`` picks the engine that measured best on the project's fixtures
(docs/ocr-comparison.md).
"""

from __future__ import annotations

from app.pipeline.ocr.base import OcrEngine
from app.pipeline.ocr.hybrid import HybridOcr
from app.pipeline.ocr.rapid import RapidOcr
from app.pipeline.ocr.reader import KeyframeReader, ocr_keyframes
from app.pipeline.ocr.tesseract import TesseractOcr
from app.pipeline.options import OcrOptions

__all__ = ["AUTO_ENGINE", "KeyframeReader", "OcrEngine", "make_ocr", "ocr_keyframes"]

AUTO_ENGINE = "hybrid"
"""What ``engine="auto"`` means; chosen by measurement (docs/ocr-comparison.md)."""


def make_ocr(options: OcrOptions) -> OcrEngine:
    """Create the OCR engine ``options.engine`` names (``auto``: the measured best); reuse it."""
    name = AUTO_ENGINE if options.engine == "auto" else options.engine
    if name == "tesseract":
        return TesseractOcr(options)
    if name == "rapidocr":
        return RapidOcr(options)
    if name == "hybrid":
        return HybridOcr(options)
    raise ValueError(f"unknown OCR engine {options.engine!r}")

"""PP-OCR on ONNX Runtime: rapidocr's whole pipeline (text detection and recognition), and its
line recogniser alone, which the hybrid engine runs on the lines it found itself."""

from __future__ import annotations

import importlib.util
import threading
from pathlib import Path

import cv2
import numpy as np

from app.pipeline.errors import StageError
from app.pipeline.ocr.base import clip
from app.pipeline.options import OcrOptions
from app.pipeline.types import Box, OcrLine, OcrWord


class RapidOcr:
    """PP-OCR (detection + recognition) on ONNX Runtime via rapidocr; models ship in the wheel."""

    name = "rapidocr"

    def __init__(self, options: OcrOptions) -> None:
        from rapidocr import RapidOCR

        self.options = options
        self.workers = 1  # one ONNX session, run under a lock
        self._lock = threading.Lock()
        self._engine = RapidOCR(
            params={
                "Global.log_level": "critical",
                "Global.use_cls": False,  # screen text is never upside down
                "Det.limit_type": "max",
                "Det.limit_side_len": options.rapidocr_max_side,
                # One line per run: batches are padded to their widest line, and the
                # recogniser's cost grows faster than linearly with width (docs/performance.md).
                "Rec.rec_batch_num": 1,
                "EngineConfig.onnxruntime.intra_op_num_threads": options.threads,
                "EngineConfig.onnxruntime.inter_op_num_threads": 1,
            }
        )

    def read(self, image: np.ndarray, region: Box | None = None) -> list[OcrLine]:
        """Read the lines in ``region`` of a BGR image."""
        box = clip(region, image)
        if box is None:
            return []
        crop = np.ascontiguousarray(image[box.y : box.y + box.h, box.x : box.x + box.w])
        pad = 0
        if min(box.w, box.h) < 48:
            # The detector needs some margin around a tight crop to find its text.
            pad = 16
            crop = cv2.copyMakeBorder(crop, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
        with self._lock:
            result = self._engine(crop, return_word_box=True)
        return _lines_from_rapid(result, box, pad, self.options.min_confidence)

    def forget(self) -> None:
        """Nothing is remembered between reads."""


def _lines_from_rapid(result: object, offset: Box, pad: int, min_conf: float) -> list[OcrLine]:
    boxes = getattr(result, "boxes", None)
    txts = getattr(result, "txts", None)
    scores = getattr(result, "scores", None)
    if boxes is None or txts is None or scores is None:
        return []
    word_results = getattr(result, "word_results", None) or ()
    lines: list[OcrLine] = []
    for i, (quad, text, score) in enumerate(zip(boxes, txts, scores, strict=False)):
        text = str(text).strip()
        if not text or float(score) < min_conf:
            continue
        line_box = _quad_box(quad, offset, pad)
        words: list[OcrWord] = []
        if i < len(word_results):
            for item in word_results[i]:
                try:
                    wtext, wscore, wquad = item
                except (TypeError, ValueError):
                    continue
                if str(wtext).strip():
                    words.append(
                        OcrWord(
                            text=str(wtext).strip(),
                            box=_quad_box(wquad, offset, pad),
                            confidence=float(wscore),
                        )
                    )
        if not words or " ".join(w.text for w in words).replace(" ", "") != text.replace(" ", ""):
            words = [OcrWord(text=t, box=line_box, confidence=float(score)) for t in text.split()]
        lines.append(OcrLine(text=text, box=line_box, confidence=float(score), words=tuple(words)))
    return lines


def _quad_box(quad: object, offset: Box, pad: int) -> Box:
    pts = np.asarray(quad, dtype=np.float64).reshape(-1, 2)
    x0, y0 = pts.min(axis=0)
    x1, y1 = pts.max(axis=0)
    return Box(
        x=offset.x + max(0, int(x0) - pad),
        y=offset.y + max(0, int(y0) - pad),
        w=max(1, int(np.ceil(x1 - x0))),
        h=max(1, int(np.ceil(y1 - y0))),
    )


class LineRecogniser:
    """PP-OCR's text-line recogniser, the model the rapidocr wheel ships, on ONNX Runtime.

    The hybrid engine needs recognition alone, on lines it has already found. Going through
    rapidocr's pipeline for that costs every process a long start-up with the GIL held
    (rapidocr parses its whole model catalogue with OmegaConf on import) and a detection
    model it never runs. The input and output are rapidocr's own: the line resized to 48 px
    high and padded with zeros, normalised to [-1, 1]; greedy CTC decoding, the
    score being the mean probability of the characters kept.

    One difference: rapidocr pads every line to at least 320 px, the width of its training
    crops, and the cost grows with the width. Here a line is padded to at least 96 px: less
    time, the same text for every real line of the fixtures (docs/performance.md).
    """

    MODEL = "PP-OCRv6_rec_small.onnx"
    _HEIGHT = 48
    _MIN_WIDTH = 96

    def __init__(self, options: OcrOptions) -> None:
        import onnxruntime as ort

        path = _rapidocr_models() / self.MODEL
        if not path.exists():
            raise StageError(f"no text recognition model at {path}")
        settings = ort.SessionOptions()
        settings.log_severity_level = 3
        settings.intra_op_num_threads = max(1, options.threads)
        settings.inter_op_num_threads = 1
        settings.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # ONNX Runtime sessions are safe to run from several threads.
        self._session = ort.InferenceSession(
            str(path), settings, providers=["CPUExecutionProvider"]
        )
        self._input = self._session.get_inputs()[0].name
        meta = self._session.get_modelmeta().custom_metadata_map
        # Index 0 is CTC's blank; the model's dictionary follows, then the space.
        self._characters = ["", *meta["character"].splitlines(), " "]

    def recognise(self, image: np.ndarray, boxes: list[Box]) -> list[tuple[str, float]]:
        """One line of text per box of a BGR image; ("", 0.0) for a box off the image."""
        out: list[tuple[str, float]] = []
        for box in boxes:
            b = clip(box, image)
            if b is None:
                out.append(("", 0.0))
                continue
            crop = image[b.y : b.y + b.h, b.x : b.x + b.w]
            if crop.ndim == 2:
                crop = cv2.cvtColor(crop, cv2.COLOR_GRAY2BGR)
            # One line per run: a batch is padded to its widest line, and the cost grows
            # with the width (docs/performance.md).
            probs = self._session.run(None, {self._input: self._tensor(crop)})[0][0]
            out.append(self._decode(probs))
        return out

    def _tensor(self, crop: np.ndarray) -> np.ndarray:
        h, w = crop.shape[:2]
        width = max(self._MIN_WIDTH, int(self._HEIGHT * w / h))
        resized_w = min(width, int(np.ceil(self._HEIGHT * w / h)))
        resized = cv2.resize(crop, (resized_w, self._HEIGHT)).astype(np.float32)
        tensor = np.zeros((1, 3, self._HEIGHT, width), np.float32)
        tensor[0, :, :, :resized_w] = resized.transpose(2, 0, 1) / 127.5 - 1.0
        return tensor

    def _decode(self, probs: np.ndarray) -> tuple[str, float]:
        best = probs.argmax(axis=1)
        keep = best != 0
        keep[1:] &= best[1:] != best[:-1]
        if not keep.any():
            return "", 0.0
        text = "".join(self._characters[i] for i in best[keep])
        return text.strip(), float(probs.max(axis=1)[keep].mean())


def _rapidocr_models() -> Path:
    spec = importlib.util.find_spec("rapidocr")
    if spec is None or not spec.submodule_search_locations:
        raise StageError("rapidocr, which carries the text recognition model, is not installed")
    return Path(next(iter(spec.submodule_search_locations))) / "models"

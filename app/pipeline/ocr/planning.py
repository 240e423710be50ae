"""What of a keyframe to read afresh, and which lines of the keyframe before it carry over.

Two keyframes are compared pixel by pixel at half resolution, as they are and moved by the
page's scroll: lines whose pixels still match carry over (moved with the scroll), and only the
blocks that really changed are read again.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import cv2
import numpy as np

from app.pipeline.ocr.base import merge_nearby, overlap, to_gray
from app.pipeline.types import Box, OcrLine, OcrWord

_PLAN_SCALE = 0.5  # keyframes are compared at half resolution: cheap, still sharp enough for text
# Grey-level difference (half resolution) that counts as changed: above the encoder's ringing
# around unchanged text, below what a changed glyph differs by, faint grey print included
# (docs/performance.md).
_PLAN_THRESHOLD = 32
_MIN_CHANGE_PX = 2  # a changed area smaller than this (half-resolution pixels) is noise
_MIN_SHIFT_RESPONSE = 0.03  # phase-correlation peak worth checking (sticky headers lower it)
_MIN_SHIFT_GAIN = 0.3  # a scroll must explain this share of the changed pixels


@dataclass(slots=True)
class ReadPlan:
    """What of a keyframe to read afresh, and which lines of the keyframe before it carry over."""

    read: list[Box]  # regions to OCR afresh
    carried: list[OcrLine]  # previous lines still on screen (moved by a scroll where needed)


def _small_gray(image: np.ndarray) -> np.ndarray:
    return cv2.resize(
        to_gray(image), None, fx=_PLAN_SCALE, fy=_PLAN_SCALE, interpolation=cv2.INTER_AREA
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
        matched = np.count_nonzero(fits & text) / max(1, int(np.count_nonzero(text)))
        if best == 0 or matched > best_matched + 0.1:
            best, best_matched = candidate, matched
            best_explained = int(np.count_nonzero(changed & fits & rows))
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


def plan_reads(
    prev_img: np.ndarray, cur_img: np.ndarray, region: Box, previous: list[OcrLine]
) -> ReadPlan:
    """Decide what to read afresh and which previous lines carry forward.

    Pixels equal to the previous keyframe keep their lines; pixels equal to
    the previous keyframe moved by the scroll offset keep their lines, moved;
    only the rest (inside ``region``) is read. A previous line that touches a
    region to read is dropped and the region grown to cover it, so a partly
    changed line is read whole.
    """
    h, w = cur_img.shape[:2]
    if prev_img.shape != cur_img.shape:
        return ReadPlan([Box(x=0, y=0, w=w, h=h)], [])
    a, b = _small_gray(prev_img), _small_gray(cur_img)
    same = cv2.absdiff(a, b) <= _PLAN_THRESHOLD
    moved = np.zeros_like(same)
    full_dy = 0
    if dy := _scroll_shift(a, b):
        # The scroll is found at half resolution; an odd number of pixels falls between two
        # half-resolution shifts, and every edge of the text would then count as changed.
        # Refine it on the full frames and compare them moved by exactly that much.
        prev_gray = to_gray(prev_img)
        full_dy = _refine_shift(prev_gray, to_gray(cur_img), round(dy / _PLAN_SCALE))
        moved = cv2.absdiff(_small_gray(_shifted(prev_gray, full_dy)), b) <= _PLAN_THRESHOLD
        edge = int(np.ceil(abs(full_dy) * _PLAN_SCALE))
        if full_dy > 0:
            moved[:edge] = False
        else:
            moved[moved.shape[0] - edge :] = False
    need: np.ndarray = (~(same | moved)).astype(np.uint8) * 255
    # Only inside the detector's changed region (cursor blobs are already excluded there).
    s = _PLAN_SCALE
    mask = np.zeros_like(need)
    x0, y0 = int(region.x * s), int(region.y * s)
    x1, y1 = int(np.ceil((region.x + region.w) * s)), int(np.ceil((region.y + region.h) * s))
    mask[y0:y1, x0:x1] = 255
    need = cv2.bitwise_and(need, mask)
    # Lone changed pixels are the encoder's ringing, not text, while a changed character
    # differs on connected pixels even at half resolution (docs/performance.md).
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
        if candidate is None or any(overlap(candidate.box, b) > 0 for b in blocks):
            # Changed or cut by a changed block: read it again with the block, wherever it
            # stands now (in place, or moved by the scroll: a block may hold the part of a
            # line that changed while the rest still matches the moved old line).
            places = [candidate.box] if candidate is not None else [line.box]
            if candidate is None and full_dy:
                places.append(_move(line.box, full_dy))
            blocks.extend(p for p in places if any(overlap(p, b) > 0 for b in blocks))
            continue
        carried.append(candidate)
    return ReadPlan(merge_nearby(blocks, w, h, gap=4), carried)


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


def split_bands(image: np.ndarray, region: Box, parts: int) -> list[Box]:
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


def reconcile(carried: list[OcrLine], fresh: list[OcrLine]) -> list[OcrLine]:
    """One line per place on screen: where a fresh read and a carried line overlap, keep one.

    A block cut through a line that was carried whole reads a fragment of it (the tail of a
    word); a block grown over a carried line reads it again. Without this, both copies would be
    carried on from keyframe to keyframe. The wider read wins (it saw more of the line); on a
    tie, the fresh one (it is what the screen shows now).
    """
    kept: list[OcrLine] = []
    # Fresh reads first, so that on a tie they win; overlapping blocks can also read a line twice.
    for line in [*fresh, *carried]:
        rivals = [k for k in kept if overlap(line.box, k.box) > 0.5]
        if not rivals:
            kept.append(line)
        elif all(line.box.w > k.box.w for k in rivals):
            kept = [k for k in kept if k not in rivals] + [line]
    return kept

"""OCR of keyframes while the keyframe pass goes on: one reading thread, changed regions only.

Only the region that changed since the previous keyframe is read; lines
outside it are carried forward from the previous keyframe
(:mod:`app.pipeline.ocr.planning`).
"""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

import cv2
import numpy as np

from app.pipeline.media.priority import lower_thread_priority
from app.pipeline.ocr.base import OcrEngine, to_gray
from app.pipeline.ocr.planning import ReadPlan, plan_reads, reconcile, split_bands
from app.pipeline.progress import ProgressCallback, no_progress
from app.pipeline.types import Box, Keyframe, OcrLine

if TYPE_CHECKING:
    from typing_extensions import TypeIs

_LOOK_BACK_ABOVE = 0.2  # a plan reading more than this share of the frame looks further back
_LOOK_BACK_KEYFRAMES = 8
_LOOK_BACK_DIFF = 4.0  # mean grey difference of thumbnails showing the same screen


@dataclass(slots=True)
class _Read:
    thumb: np.ndarray
    image: np.ndarray
    lines: list[OcrLine]


def _thumbnail(image: np.ndarray) -> np.ndarray:
    return cv2.resize(to_gray(image), (96, 54), interpolation=cv2.INTER_AREA)


def _is_engine(engine: OcrEngine | Callable[[], OcrEngine]) -> TypeIs[OcrEngine]:
    """An engine, told from a function that loads one by its ``read``."""
    return hasattr(engine, "read")


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
        self._get_engine: Callable[[], OcrEngine]
        if _is_engine(engine):
            self._get_engine = lambda: engine
        else:
            self._get_engine = engine
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

    def _look_back(self, image: np.ndarray, plan: ReadPlan) -> ReadPlan:
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
        other = plan_reads(older.image, image, Box(x=0, y=0, w=w, h=h), older.lines)
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
            plan = plan_reads(self._prev_img, kf.image, region, self._previous)
            if _area(plan.read) > _LOOK_BACK_ABOVE * w * h:
                plan = self._look_back(kf.image, plan)
            targets, carried = plan.read, plan.carried
        if self._pool is not None:
            targets = [
                band for t in targets for band in split_bands(kf.image, t, 2 * self._workers)
            ]
            results = list(self._pool.map(lambda box, img=kf.image: engine.read(img, box), targets))
        else:
            results = [engine.read(kf.image, box) for box in targets]
        fresh = [ln for lines in results for ln in lines]
        kf.lines = sorted(reconcile(carried, fresh), key=lambda ln: (ln.box.y, ln.box.x))
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

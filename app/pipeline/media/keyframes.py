"""Keyframe selection: one decoding pass, a cheap change detector on small grey frames.

Every frame is reduced to a small greyscale image read straight from the Y
plane and area-averaged (thin lines such as an inline error survive, unlike
pixel skipping). The detector compares each frame with the *last keyframe*
rather than with its neighbour, ignores cursor-sized blobs, and takes a
keyframe once the screen has held still for ``settle_s``. Frames shown just
after recorded clicks and around recorded errors are looked at as well.
Only the frames that are kept are converted to full-resolution BGR.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import av
import cv2
import numpy as np

from app.pipeline.errors import MediaInputError
from app.pipeline.media.decode import iter_video_frames
from app.pipeline.options import KeyframeOptions, MediaLimits
from app.pipeline.progress import ProgressCallback, no_progress
from app.pipeline.types import Box, Keyframe, ProbeInfo

# Pixel formats whose first plane is 8-bit luma that can be read without conversion.
_Y8_FORMATS = frozenset(
    {
        "yuv420p",
        "yuvj420p",
        "yuv422p",
        "yuvj422p",
        "yuv444p",
        "yuvj444p",
        "nv12",
        "nv21",
        "yuva420p",
        "gray",
    }
)
_DILATE = np.ones((3, 3), np.uint8)


@dataclass(frozen=True, kw_only=True)
class KeyframeHints:
    """Moments the event log says are worth a look, in seconds from the video start."""

    click_times: Sequence[float] = ()
    error_times: Sequence[float] = ()


@dataclass(slots=True)
class _Change:
    ratio: float  # fraction of small pixels changed, cursor-sized blobs excluded
    box: tuple[int, int, int, int] | None  # x0, y0, x1, y1 in small pixels


@dataclass(slots=True)
class _Candidate:
    frame: av.VideoFrame
    small: np.ndarray
    time: float


class _Detector:
    """Compares small grey frames, ignoring blobs no larger than a mouse cursor."""

    def __init__(self, options: KeyframeOptions, width: int, height: int) -> None:
        self.options = options
        scale = max(1.0, width / options.small_width)
        self.small_size = (max(16, round(width / scale)), max(16, round(height / scale)))
        self.scale = scale
        self.cursor_small = max(1, int(np.ceil(options.cursor_px / scale)))

    def small(self, frame: av.VideoFrame) -> np.ndarray:
        """Area-averaged greyscale copy of ``frame``, read from the luma plane when possible."""
        if frame.format.name in _Y8_FORMATS:
            plane = frame.planes[0]
            # A memoryview: numpy's stubs take only the standard buffer types (no copy is made).
            luma: np.ndarray = np.frombuffer(memoryview(plane), np.uint8).reshape(
                plane.height, plane.line_size
            )
            luma = luma[: frame.height, : frame.width]
        else:
            luma = frame.to_ndarray(format="gray")
        # Halve by 2x2 averaging while that stays above the target size: it averages (a thin
        # error line survives, unlike pixel skipping), and OpenCV has a vectorised path for
        # an exact half, faster than a pyramid or one large area resize (docs/performance.md);
        # an area resize makes up the rest.
        while luma.shape[1] >= 2 * self.small_size[0] and luma.shape[0] >= 2 * self.small_size[1]:
            luma = cv2.resize(
                luma, (luma.shape[1] // 2, luma.shape[0] // 2), interpolation=cv2.INTER_AREA
            )
        if (luma.shape[1], luma.shape[0]) != self.small_size:
            luma = cv2.resize(luma, self.small_size, interpolation=cv2.INTER_AREA)
        return luma

    def moved(self, a: np.ndarray, b: np.ndarray) -> bool:
        """Cheap test: did anything beyond cursor-sized blobs change between a and b?"""
        diff = cv2.absdiff(a, b)
        if int(diff.max()) <= self.options.pixel_threshold:
            return False
        return self.change(a, b, diff).ratio > 0

    def change(self, a: np.ndarray, b: np.ndarray, diff: np.ndarray | None = None) -> _Change:
        """Measure how much of the frame changed between a and b, and where."""
        if diff is None:
            diff = cv2.absdiff(a, b)
        _, mask = cv2.threshold(diff, self.options.pixel_threshold, 255, cv2.THRESH_BINARY)
        if not cv2.countNonZero(mask):
            return _Change(0.0, None)
        # Everything that changed fits in a cursor-sized box (the usual case between two
        # frames while the mouse moves): nothing to label.
        _, _, bw, bh = cv2.boundingRect(mask)
        if bw + 2 <= self.cursor_small and bh + 2 <= self.cursor_small:
            return _Change(0.0, None)
        # Dilate so the letters of a word join into one blob and survive the cursor filter.
        joined = cv2.dilate(mask, _DILATE)
        count, labels, stats, _ = cv2.connectedComponentsWithStats(joined, connectivity=8)
        c = self.cursor_small
        big = [
            i
            for i in range(1, count)
            if stats[i, cv2.CC_STAT_WIDTH] > c or stats[i, cv2.CC_STAT_HEIGHT] > c
        ]
        if not big:
            return _Change(0.0, None)
        if len(big) < count - 1:
            big = _with_neighbours(stats, big, c)
        if len(big) == count - 1:
            kept = mask
        else:
            keep = np.zeros(count, np.uint8)
            keep[big] = 1
            kept = cv2.bitwise_and(mask, mask, mask=keep[labels])
        ratio = cv2.countNonZero(kept) / kept.size
        x0 = int(min(stats[i, cv2.CC_STAT_LEFT] for i in big))
        y0 = int(min(stats[i, cv2.CC_STAT_TOP] for i in big))
        x1 = int(max(stats[i, cv2.CC_STAT_LEFT] + stats[i, cv2.CC_STAT_WIDTH] for i in big))
        y1 = int(max(stats[i, cv2.CC_STAT_TOP] + stats[i, cv2.CC_STAT_HEIGHT] for i in big))
        return _Change(ratio, (x0, y0, x1, y1))

    def significant(self, change: _Change) -> bool:
        return change.ratio >= self.options.min_change_ratio

    def full_box(
        self, box: tuple[int, int, int, int] | None, width: int, height: int
    ) -> Box | None:
        """Scale a small-pixel box to full resolution, padded and clipped to the frame."""
        if box is None:
            return None
        sx = width / self.small_size[0]
        sy = height / self.small_size[1]
        m = self.options.region_margin_px
        x0 = max(0, int(box[0] * sx) - m)
        y0 = max(0, int(box[1] * sy) - m)
        x1 = min(width, int(np.ceil(box[2] * sx)) + m)
        y1 = min(height, int(np.ceil(box[3] * sy)) + m)
        return Box(x=x0, y=y0, w=x1 - x0, h=y1 - y0)


def _with_neighbours(stats: np.ndarray, big: list[int], gap: int) -> list[int]:
    """``big`` and the cursor-sized blobs that continue its rows, within ``gap`` across,
    transitively.

    A short word is no larger than a cursor once the letters are joined ("Error:" before
    "payment failed" on a narrow screen): on the rows of a change that is kept, it is part of
    that line, not a pointer, and leaving it out would cut the line the region is read by.
    Only the same rows: the pointer that just clicked sits above or below what it opened,
    and a region grown by it reads as a bigger block than the one that appeared.
    """
    x0 = stats[:, cv2.CC_STAT_LEFT]
    y0 = stats[:, cv2.CC_STAT_TOP]
    x1 = x0 + stats[:, cv2.CC_STAT_WIDTH]
    y1 = y0 + stats[:, cv2.CC_STAT_HEIGHT]
    kept = np.zeros(len(stats), bool)
    kept[big] = True
    kept[0] = False  # the background
    pending = ~kept
    pending[0] = False
    while pending.any():
        k, p = np.flatnonzero(kept), np.flatnonzero(pending)
        # On the same rows, within ``gap`` across: [pending, kept].
        near = (
            (x0[p, None] <= x1[None, k] + gap)
            & (x0[None, k] <= x1[p, None] + gap)
            & (y0[p, None] < y1[None, k])
            & (y0[None, k] < y1[p, None])
        ).any(axis=1)
        if not near.any():
            break
        kept[p[near]] = True
        pending[p[near]] = False
    return [int(i) for i in np.flatnonzero(kept)]


def _hint_schedule(hints: KeyframeHints, options: KeyframeOptions) -> list[tuple[float, str]]:
    targets = [(float(t) + options.click_delay_s, "click") for t in hints.click_times]
    targets += [
        (float(t) + off, "error") for t in hints.error_times for off in options.error_offsets_s
    ]
    return sorted((t, r) for t, r in targets if t >= 0)


class _Selector:
    """Accumulates keyframes within ``max_keyframes`` and ``max_image_bytes``."""

    def __init__(
        self,
        detector: _Detector,
        options: KeyframeOptions,
        on_keyframe: Callable[[Keyframe], None] | None = None,
    ) -> None:
        self.detector = detector
        self.options = options
        self.on_keyframe = on_keyframe
        self.keyframes: list[Keyframe] = []
        self.smalls: list[np.ndarray] = []

    @property
    def ref(self) -> np.ndarray:
        """The newest keyframe's small copy, what changes are measured against: the first frame
        is always kept, and never dropped, so there is one from then on."""
        return self.smalls[-1]

    def add(self, cand: _Candidate, reasons: tuple[str, ...], change: _Change | None) -> None:
        frame = cand.frame
        w, h = frame.width, frame.height
        region: Box | None
        if change is None:
            region, ratio = Box(x=0, y=0, w=w, h=h), 1.0
        else:
            region, ratio = self.detector.full_box(change.box, w, h), change.ratio
        last = self.keyframes[-1] if self.keyframes else None
        if last is not None and abs(last.timestamp - cand.time) < 1e-6:
            # The same frame picked for another reason: remember why, keep one copy.
            last.reasons = _merge(last.reasons, reasons)
            return
        image = frame.to_ndarray(format="bgr24")
        self.keyframes.append(
            Keyframe(
                index=len(self.keyframes),
                timestamp=round(cand.time, 3),
                reasons=reasons,
                changed_region=region,
                change_ratio=round(float(ratio), 5),
                image=image,
            )
        )
        self.smalls.append(cand.small)
        if self.on_keyframe is not None:
            self.on_keyframe(self.keyframes[-1])
        if len(self.keyframes) > self._cap(image.nbytes):
            self._drop_least()

    def _cap(self, frame_bytes: int) -> int:
        return _cap(self.options, frame_bytes)

    def note(self, reason: str) -> None:
        """Attach a hint reason to the newest keyframe: the screen it shows is still up."""
        if self.keyframes:
            self.keyframes[-1].reasons = _merge(self.keyframes[-1].reasons, (reason,))

    def _drop_least(self) -> None:
        # Never the first (the opening state) nor the newest (the detector's reference).
        def weight(kf: Keyframe) -> float:
            # Big changes (new pages) first; moments the event log flagged get a small,
            # additive head start so they beat noise but not a page change.
            w = kf.change_ratio
            if "error" in kf.reasons:
                w += 0.05
            if "click" in kf.reasons:
                w += 0.02
            return w

        victim = min(range(1, len(self.keyframes) - 1), key=lambda i: weight(self.keyframes[i]))
        del self.keyframes[victim]
        del self.smalls[victim]
        # The follower now differs from an older keyframe: measure it again.
        follower = self.keyframes[victim]
        change = self.detector.change(self.smalls[victim - 1], self.smalls[victim])
        h, w = follower.image.shape[:2]
        follower.changed_region = self.detector.full_box(change.box, w, h) or Box(
            x=0, y=0, w=0, h=0
        )
        follower.change_ratio = round(float(change.ratio), 5)
        for i, kf in enumerate(self.keyframes):
            kf.index = i


def _cap(options: KeyframeOptions, frame_bytes: int) -> int:
    by_memory = options.max_image_bytes // max(1, frame_bytes)
    return max(2, min(options.max_keyframes, by_memory))


def keyframe_cap(options: KeyframeOptions, width: int, height: int) -> int:
    """How many keyframes the pass holds before it starts dropping the least telling ones."""
    return _cap(options, width * height * 3)  # BGR


def _merge(a: tuple[str, ...], b: tuple[str, ...]) -> tuple[str, ...]:
    return a + tuple(r for r in b if r not in a)


def _hint(selector: _Selector, detector: _Detector, shown: _Candidate, reason: str) -> None:
    """Keep the frame shown at a hinted moment if it shows anything new, else tag the last one."""
    change = detector.change(selector.ref, shown.small)
    if change.ratio > 0:
        selector.add(shown, (reason,), change)
    else:
        selector.note(reason)


def extract_keyframes(
    path: str | os.PathLike[str],
    info: ProbeInfo,
    options: KeyframeOptions,
    limits: MediaLimits,
    hints: KeyframeHints,
    progress: ProgressCallback = no_progress,
    on_keyframe: Callable[[Keyframe], None] | None = None,
) -> list[Keyframe]:
    """Decode the video once and return the keyframes, oldest first.

    A keyframe is taken for the first frame, whenever the screen settles
    (holds still ``settle_s``) in a state that differs from the previous
    keyframe beyond cursor-sized blobs, when it keeps changing for
    ``max_unsettled_s``, at the frames shown just after each click and around
    each error in ``hints`` (when they show something new), and for the final
    state. Each keyframe records the region that changed since the previous
    one. Raises :class:`MediaInputError` for corrupt or truncated data and
    exceeded bounds.

    ``on_keyframe`` sees each keyframe as it is kept (its ``changed_region`` then measured
    against the keyframe kept before it), so that OCR can run while decoding goes on; the cap
    may drop some of them from the returned list later.
    """
    detector = _Detector(options, info.width, info.height)
    selector = _Selector(detector, options, on_keyframe)
    schedule = _hint_schedule(hints, options)
    next_hint = 0
    duration = max(info.duration, 1e-6)
    next_report = 0.0

    cand: _Candidate | None = None  # the frame on screen now
    still: _Candidate | None = None  # the first frame of the current still period
    settled_checked = False
    moving_since: float | None = None

    for frame in iter_video_frames(path, limits, options.decode_threads):
        t = float(frame.time)
        small = detector.small(frame)
        if cand is None or still is None:
            cand = still = _Candidate(frame, small, t)
            selector.add(cand, ("first",), None)
            settled_checked = True
            continue

        # The picture has not moved since still.time and stays up until t.
        if not settled_checked and t - still.time >= options.settle_s:
            settled_checked = True
            change = detector.change(selector.ref, still.small)
            if detector.significant(change):
                # Stamped with the moment the state appeared, not when it was judged still; the
                # picture is the latest of the still period, the same screen once the encoder has
                # sharpened it (the first frames after a big change are its blurriest).
                selector.add(_Candidate(cand.frame, still.small, still.time), ("change",), change)
        while next_hint < len(schedule) and schedule[next_hint][0] < t:
            _, reason = schedule[next_hint]
            next_hint += 1
            _hint(selector, detector, cand, reason)

        current = _Candidate(frame, small, t)
        if detector.moved(cand.small, small):
            if moving_since is None or settled_checked:
                moving_since = t
            still = current
            settled_checked = False
            if t - moving_since >= options.max_unsettled_s:
                # Continuous motion (a video, an animation): sample it anyway.
                moving_since = t
                change = detector.change(selector.ref, small)
                if detector.significant(change):
                    selector.add(current, ("moving",), change)
        cand = current

        if t >= next_report:
            next_report = t + options.progress_every_s
            fraction = min(1.0, t / duration)
            progress("decode", fraction, f"decoded {t:.1f} of {duration:.1f} s")
            progress("keyframes", fraction, f"keyframes so far: {len(selector.keyframes)}")

    if cand is None or still is None:
        raise MediaInputError("no video frame could be decoded (the data is corrupt or truncated)")
    # The last picture stays up until the end of the recording.
    while next_hint < len(schedule):
        _, reason = schedule[next_hint]
        next_hint += 1
        _hint(selector, detector, cand, reason)
    change = detector.change(selector.ref, still.small)
    if detector.significant(change):
        selector.add(_Candidate(cand.frame, still.small, still.time), ("last",), change)
    progress("decode", 1.0, f"decoded {duration:.1f} s")
    progress("keyframes", 1.0, f"keyframes: {len(selector.keyframes)}")
    return selector.keyframes

"""Scheduling priority of the engine's own threads.

Transcription is one thread of serial work: Whisper's decoder cannot use a second core. The
keyframe pass and OCR are two threads (plus OCR's readers) that can use whatever the speech
leaves. Under the kernel's fair share each runnable thread gets an equal slice, so on a small
machine transcription runs at two thirds of a core while decoding and OCR go on, and then
alone on one core, with the other idle, for its last stretch. Run at a lower priority, the
keyframe pass and OCR take what the speech leaves and finish right after it. OCR stays above
the keyframe pass that feeds it: held back as far, it falls behind and reads its last
keyframes alone. The measurements are in docs/performance.md.
"""

from __future__ import annotations

import logging
import os
import sys
import threading

log = logging.getLogger(__name__)

_MAX_NICENESS = 19


def lower_thread_priority(by: int) -> None:
    """Lower the calling thread's priority by ``by`` nice levels (threads it starts inherit it).

    Only on Linux, where a nice value belongs to a thread; elsewhere it would apply to the whole
    process. A thread cannot raise its priority again without privileges, so call it only on a
    thread that ends with the work it was started for. Failures are logged, never raised: the
    priority is an optimisation.
    """
    if by <= 0 or not sys.platform.startswith("linux"):
        return
    tid = threading.get_native_id()
    try:
        current = os.getpriority(os.PRIO_PROCESS, tid)
        os.setpriority(os.PRIO_PROCESS, tid, min(_MAX_NICENESS, current + by))
    except OSError as exc:  # pragma: no cover - e.g. a seccomp profile forbidding it
        log.debug("could not lower the priority of thread %s: %s", tid, exc)

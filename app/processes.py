"""Child processes that end with the process that started them."""

from __future__ import annotations

import os
import threading

WATCHDOG_INTERVAL_S = 0.5


def die_with_parent(parent_pid: int) -> None:
    """Make this process end when ``parent_pid`` does (call first thing in the child)."""
    if hasattr(os, "sched_getaffinity"):  # Linux: the kernel sends SIGKILL when the parent dies
        try:
            import ctypes
            import signal

            libc = ctypes.CDLL(None, use_errno=True)
            PR_SET_PDEATHSIG = 1
            libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        except (OSError, AttributeError):
            pass
    if os.getppid() != parent_pid:  # the parent died before the line above
        os._exit(1)

    def watchdog() -> None:
        # Also where prctl does not exist, and should the parent thread that started us end
        # before the process does (the death signal follows the thread).
        while True:
            if os.getppid() != parent_pid:
                os._exit(1)
            threading.Event().wait(WATCHDOG_INTERVAL_S)

    threading.Thread(target=watchdog, name="parent-watchdog", daemon=True).start()

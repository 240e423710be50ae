"""Supervision of the worker's engine process: one spawned process, kept warm, that dies with us.

The worker starts the process itself (``multiprocessing``, spawned) and talks to it over a pipe,
so it knows its pid, can measure its memory, and can kill it when an analysis runs past its
limits or is cancelled. The process ends with the worker whatever the way the worker ends: on
Linux the kernel kills it when the worker dies (``PR_SET_PDEATHSIG``), and everywhere a watchdog
thread in it exits as soon as its parent is gone (an orphan would otherwise finish its analysis
and block forever writing the answer to a pipe nobody reads, holding its memory).
"""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import traceback
from concurrent.futures import ThreadPoolExecutor
from multiprocessing.connection import Connection
from typing import Any

import psutil
import structlog

from app.config import Settings
from app.processes import die_with_parent

log = structlog.get_logger(__name__)

STOP_GRACE_S = 5.0


class EngineLimitExceeded(Exception):
    """The engine process ran past its memory or time limit, or died, and was stopped."""


class EnginePool:
    """One engine process, started on first use, replaced when it dies or must be stopped."""

    def __init__(self, settings: Settings) -> None:
        self._settings = settings
        self._process: multiprocessing.process.BaseProcess | None = None
        self._conn: Connection | None = None
        # The blocking receive runs here, so the event loop (and arq's heartbeat) keeps going.
        self._receiver = ThreadPoolExecutor(max_workers=1, thread_name_prefix="engine-recv")

    @property
    def pid(self) -> int | None:
        """The engine process's pid while it runs."""
        process = self._process
        return process.pid if process is not None and process.is_alive() else None

    def _ensure(self) -> Connection:
        if self._process is not None and self._process.is_alive() and self._conn is not None:
            return self._conn
        self.kill()
        context = multiprocessing.get_context("spawn")
        parent_end, child_end = context.Pipe(duplex=True)
        process = context.Process(
            target=_child_main, args=(child_end, os.getpid()), name="recordings-engine", daemon=True
        )
        process.start()
        child_end.close()
        self._process, self._conn = process, parent_end
        log.info("engine.started", pid=process.pid)
        return parent_end

    def _rss(self) -> int:
        if self._process is None or self._process.pid is None:
            return 0
        try:
            root = psutil.Process(self._process.pid)
            return sum(_rss(p) for p in (root, *root.children(recursive=True)))
        except psutil.Error:
            return 0

    async def run(self, **request: Any) -> Any:
        """Run one analysis in the engine process and return its outcome.

        Raises :class:`EngineLimitExceeded` when the process runs too long, uses too much memory
        or dies; the process is then gone and the next call starts a fresh one.
        """
        loop = asyncio.get_running_loop()
        conn = self._ensure()
        conn.send(request)
        answer = loop.run_in_executor(self._receiver, conn.recv)
        limit = self._settings.analysis_memory_limit_mb * 1024 * 1024
        deadline = loop.time() + self._settings.analysis_timeout_seconds
        try:
            while True:
                done, _ = await asyncio.wait({answer}, timeout=0.5)
                if done:
                    return answer.result()
                if loop.time() > deadline:
                    raise EngineLimitExceeded(
                        f"the analysis took longer than {self._settings.analysis_timeout_seconds} s"
                    )
                if self._rss() > limit:
                    raise EngineLimitExceeded(
                        "the analysis used more than "
                        f"{self._settings.analysis_memory_limit_mb} MiB of memory"
                    )
        except (EOFError, OSError):
            self.kill()
            raise EngineLimitExceeded(
                "the analysis process died (out of memory or killed)"
            ) from None
        except BaseException:
            # Over a limit, cancelled (the worker is stopping) or anything else: the process may
            # be mid-analysis, and only killing it stops that.
            self.kill()
            with contextlib.suppress(BaseException):
                await asyncio.wait_for(asyncio.shield(answer), 5)
            raise

    def kill(self) -> None:
        """Stop the engine process now (with anything it started)."""
        process, conn = self._process, self._conn
        self._process, self._conn = None, None
        if process is not None and process.pid is not None:
            try:
                root = psutil.Process(process.pid)
                for child in (*root.children(recursive=True), root):
                    with contextlib.suppress(psutil.Error):
                        child.kill()
            except psutil.Error:
                pass
            process.join(STOP_GRACE_S)
        if conn is not None:
            conn.close()

    def close(self) -> None:
        """Ask the engine process to exit, and kill it if it does not in time."""
        process, conn = self._process, self._conn
        if process is not None and conn is not None and process.is_alive():
            with contextlib.suppress(OSError):
                conn.send(None)
            process.join(STOP_GRACE_S)
        self.kill()
        self._receiver.shutdown(wait=False, cancel_futures=True)


def _rss(process: psutil.Process) -> int:
    try:
        return int(process.memory_info().rss)
    except psutil.Error:
        return 0


def _child_main(conn: Connection, parent_pid: int) -> None:
    die_with_parent(parent_pid)
    from workers import engine_process

    engine_process.init_process()
    while True:
        try:
            request = conn.recv()
        except (EOFError, OSError):
            return
        if request is None:
            return
        try:
            outcome = engine_process.run_analysis(**request)
        except Exception as exc:
            # A bug, not the input's fault: the analysis ends with a reason, the process goes on.
            traceback.print_exc()
            outcome = engine_process.EngineOutcome(
                error=f"internal error in the analysis ({type(exc).__name__})", internal=True
            )
        try:
            conn.send(outcome)
        except (BrokenPipeError, OSError):
            return

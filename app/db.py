"""Tortoise ORM configuration and lifecycle."""

from __future__ import annotations

import os
from typing import Any
from urllib.parse import parse_qs, unquote, urlsplit

from tortoise import Tortoise
from tortoise.backends.base.client import BaseDBAsyncClient

MODEL_MODULES = ["app.recordings.models", "app.analysis.models"]
DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/recordings"


def credentials_from_url(url: str) -> dict[str, Any]:
    """Turn ``postgres://user:pass@host:port/db?host=/socket/dir`` into asyncpg credentials.

    Parsed here rather than by Tortoise because a Unix-socket host (what the embedded
    server gives) has no place in Tortoise's own URL syntax.
    """
    parts = urlsplit(url)
    if parts.scheme not in {"postgres", "postgresql", "asyncpg"}:
        raise ValueError(f"unsupported database URL scheme {parts.scheme!r}: use postgres://")
    query = parse_qs(parts.query)
    host = query.get("host", [parts.hostname or "127.0.0.1"])[0]
    return {
        "host": unquote(host),
        "port": parts.port or int(query.get("port", ["5432"])[0]),
        "user": unquote(parts.username or "postgres"),
        "password": unquote(parts.password or ""),
        "database": unquote(parts.path.lstrip("/") or "postgres"),
        "minsize": 1,
        "maxsize": 10,
    }


def tortoise_config(database_url: str) -> dict[str, Any]:
    """The Tortoise config for the service's models and migrations."""
    return {
        "connections": {
            "default": {
                "engine": "tortoise.backends.asyncpg",
                "credentials": credentials_from_url(database_url),
            }
        },
        "apps": {
            "models": {
                "models": MODEL_MODULES,
                "migrations": "migrations",
                "default_connection": "default",
            }
        },
        "use_tz": True,
        "timezone": "UTC",
    }


async def init_db(database_url: str) -> None:
    """Open the ORM for this process.

    The global fallback makes the context visible to every task, not only the one that ran
    the lifespan (ASGI servers run requests in other tasks).
    """
    await Tortoise.init(config=tortoise_config(database_url), _enable_global_fallback=True)


async def close_db() -> None:
    await Tortoise.close_connections()


async def migrate(database_url: str) -> None:
    """Apply every migration in ``migrations/`` that the database lacks."""
    from tortoise.migrations.api import migrate as run_migrations

    await run_migrations(config=tortoise_config(database_url))
    await Tortoise.close_connections()


# For the ``tortoise`` command-line tool (``tortoise -c app.db.TORTOISE_ORM makemigrations``).
TORTOISE_ORM = tortoise_config(os.environ.get("RECORDINGS_DATABASE_URL", DEFAULT_DATABASE_URL))


def connection() -> BaseDBAsyncClient:
    """The default connection (for health checks and raw queries)."""
    return Tortoise.get_connection("default")

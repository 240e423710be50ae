"""Failures of the services the API and workers depend on, told apart from bugs.

PostgreSQL, Redis and storage can be down for a while (a restart, a failover, a network
partition). Requests that need them answer 503 with ``Retry-After`` (REST) or a typed,
retryable error (GraphQL); jobs wait for them with a capped backoff. Such an outage is logged
once when it starts and once when it ends — never a traceback per request.
"""

from __future__ import annotations

import time

import asyncpg
import structlog
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from tortoise.exceptions import DBConnectionError

from app.errors import Unavailable
from app.storage import StorageError

log = structlog.get_logger(__name__)

RETRY_AFTER_SECONDS = 5

DATABASE_DOWN: tuple[type[BaseException], ...] = (
    DBConnectionError,
    asyncpg.PostgresConnectionError,  # the connection broke
    asyncpg.InterfaceError,  # a pooled connection that is closed
    asyncpg.exceptions.OperatorInterventionError,  # the server shuts down, or is starting up
    asyncpg.TooManyConnectionsError,
)
REDIS_DOWN: tuple[type[BaseException], ...] = (RedisConnectionError, RedisTimeoutError)
# Socket-level failures (refused, reset, timed out, a Unix socket that is gone) reach us
# unwrapped from every client.
NETWORK_DOWN: tuple[type[BaseException], ...] = (OSError,)
UNAVAILABLE: tuple[type[BaseException], ...] = (
    *DATABASE_DOWN,
    *REDIS_DOWN,
    *NETWORK_DOWN,
    StorageError,
    Unavailable,
)


def unavailable(exc: BaseException) -> bool:
    """Whether ``exc`` (or what it wraps) says a dependency is down, rather than a bug."""
    seen = 0
    current: BaseException | None = exc
    while current is not None and seen < 5:
        if isinstance(current, PermissionError):
            return False  # an OSError, but a refusal (GraphQL resolvers raise it to say no)
        if isinstance(current, UNAVAILABLE):
            return True
        current = current.__cause__ or current.__context__
        seen += 1
    return False


_CLIENT_MODULES = (
    ("asyncpg", "database"),
    ("tortoise", "database"),
    ("redis", "redis"),
    ("botocore", "storage"),
    ("boto3", "storage"),
    ("app.storage", "storage"),
)


def dependency_of(exc: BaseException) -> str:
    """Which dependency an :func:`unavailable` failure is about, for logs."""
    current: BaseException | None = exc
    while current is not None:
        if isinstance(current, DATABASE_DOWN):
            return "database"
        if isinstance(current, REDIS_DOWN):
            return "redis"
        if isinstance(current, StorageError):
            return "storage"
        if isinstance(current, OSError):
            # A bare socket error: the client library it came out of says whose it is.
            frame = current.__traceback__
            while frame is not None:
                module = str(frame.tb_frame.f_globals.get("__name__", ""))
                for prefix, name in _CLIENT_MODULES:
                    if module.startswith(prefix):
                        return name
                frame = frame.tb_next
        current = current.__cause__ or current.__context__
    return "dependency"


class OutageLog:
    """Logs the first failure of an outage and stays quiet while it lasts.

    An outage is over when no failure has been seen for ``quiet_seconds``; the next failure
    after that is logged again, as a new outage.
    """

    def __init__(self, quiet_seconds: float = 30.0) -> None:
        self._quiet = quiet_seconds
        self._last: dict[str, float] = {}

    def failed(self, exc: BaseException, **context: object) -> None:
        name = dependency_of(exc)
        now = time.monotonic()
        last = self._last.get(name)
        self._last[name] = now
        if last is None or now - last > self._quiet:
            log.warning(
                "dependency.unavailable",
                dependency=name,
                error=str(exc) or type(exc).__name__,
                **context,
            )


outages = OutageLog()

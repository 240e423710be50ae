"""Reading a recorder's create body: limits, parsing and validation, off the event loop when large.

Parsing and validating JSON holds the interpreter: a body of a million tiny actions took 4.7 s
of one API process's event loop, and every other client of that process waited. So:

- a body is bounded (``schemas``: list lengths, values in all, the byte limit of the route);
- a small body (up to :data:`INLINE_BYTES`) is read in the request, where it costs a few ms;
- a larger one is read in a process of its own (:class:`BodyReader`), which hands back the
  capture as compact JSON text, ready to store: the event loop never decodes, validates or
  encodes it. One such process per API process, so large bodies also queue there instead of
  all at once.
"""

from __future__ import annotations

import asyncio
import json
import multiprocessing
import os
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from typing import Any

from app import jsontext
from app.errors import DomainError, InvalidInput, PayloadTooLarge, Unavailable
from app.processes import die_with_parent
from app.recordings.models import RawJSON
from app.recordings.schemas import validate_create

INLINE_BYTES = 64 * 1024


@dataclass(frozen=True, kw_only=True, slots=True)
class PreparedCreate:
    """A create body, checked: what the service stores."""

    metadata: dict[str, Any]
    actions: RawJSON
    browser_state: RawJSON
    elements: RawJSON | None
    video_content_type: str
    session_id: str | None
    duration: float


@dataclass(frozen=True, kw_only=True, slots=True)
class _Refused:
    """A domain error, as values that cross a process boundary (exceptions with keyword
    arguments do not survive pickling)."""

    kind: str
    message: str
    field: str | None
    details: list[dict[str, Any]] | None

    def error(self) -> DomainError:
        kind = PayloadTooLarge if self.kind == "too_large" else InvalidInput
        return kind(self.message, field=self.field, details=self.details)


def _dumps(value: Any) -> RawJSON:
    return RawJSON(json.dumps(value, ensure_ascii=False, separators=(",", ":")))


def prepare(body: bytes | Any, *, parsed: bool = False) -> PreparedCreate | _Refused:
    """Parse (unless ``parsed``) and validate a create body; never raises for bad input."""
    data: Any = body  # the body as JSON: decoded here, or already by the caller
    try:
        if not parsed:
            try:
                data = jsontext.loads(body)
            except (ValueError, UnicodeDecodeError) as exc:
                raise InvalidInput(f"the body is not valid JSON: {exc}", field="body") from None
        validated = validate_create(data)
    except (InvalidInput, PayloadTooLarge) as exc:
        kind = "too_large" if isinstance(exc, PayloadTooLarge) else "invalid"
        return _Refused(kind=kind, message=exc.message, field=exc.field, details=exc.details)
    metadata = data["metadata"]
    elements = data.get("elements")
    return PreparedCreate(
        metadata=metadata,
        actions=_dumps(data.get("actions", [])),
        browser_state=_dumps(data.get("browserState", {})),
        elements=None if elements is None else _dumps(elements),
        video_content_type=validated.videoContentType,
        session_id=data.get("sessionId") or metadata.get("sessionId"),
        duration=float(metadata["duration"]),
    )


def _warm() -> None:
    """Run in the reader's process at start: imports done before the first body arrives."""


class BodyReader:
    """Reads create bodies: small ones in this process, large ones in a process of its own."""

    def __init__(self) -> None:
        self._pool: ProcessPoolExecutor | None = None

    def _ensure(self) -> ProcessPoolExecutor:
        if self._pool is None:
            # Spawned: the API process's event loop, sockets and threads are not copied into it.
            self._pool = ProcessPoolExecutor(
                max_workers=1,
                mp_context=multiprocessing.get_context("spawn"),
                initializer=die_with_parent,
                initargs=(os.getpid(),),
            )
        return self._pool

    def start(self) -> None:
        """Start the reader's process now (in the background), so the first large body does not
        wait for it."""
        self._ensure().submit(_warm)

    async def _elsewhere(self, body: bytes) -> PreparedCreate | _Refused:
        try:
            return await asyncio.get_running_loop().run_in_executor(self._ensure(), prepare, body)
        except BrokenProcessPool:
            # The reader's process died (killed, or out of memory): the next body gets a new one.
            self.close()
            raise Unavailable("the request could not be read; retry shortly") from None

    async def read(self, body: bytes) -> PreparedCreate:
        """The checked body; :class:`InvalidInput` or :class:`PayloadTooLarge` if it is not one."""
        outcome = prepare(body) if len(body) <= INLINE_BYTES else await self._elsewhere(body)
        if isinstance(outcome, _Refused):
            raise outcome.error()
        return outcome

    async def read_parsed(self, body: Any, *, size_hint: int) -> PreparedCreate:
        """The same for a body already decoded (GraphQL's input); ``size_hint`` is its size in
        bytes as it arrived, which decides where it is validated."""
        if size_hint <= INLINE_BYTES:
            outcome = prepare(body, parsed=True)
        else:
            # ASCII with escapes: a lone surrogate survives the trip, to be named as unstorable.
            outcome = await self._elsewhere(json.dumps(body).encode())
        if isinstance(outcome, _Refused):
            raise outcome.error()
        return outcome

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)
            self._pool = None

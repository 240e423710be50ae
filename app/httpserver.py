"""The HTTP protocol uvicorn runs: httptools, with a bound on request headers and on their time.

uvicorn's httptools protocol reads headers of any size, for as long as a client cares to send
them: one 32 MB header is accepted, and connections that send half a request and stop stay open
for good (a few hundred of them hold a process's file descriptors). Here:

- headers larger than ``max_header_bytes`` are answered with 431 and the connection closed;
- a request whose headers are not complete ``header_timeout`` seconds after its first byte (or
  after the connection opened) is closed, with 408.

Bodies are not affected: uploads stream for as long as they take.
"""

from __future__ import annotations

import asyncio
from typing import Any, ClassVar

from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from app.config import Settings

PROTOCOL = "app.httpserver:GuardedHttpToolsProtocol"


class GuardedHttpToolsProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with header size and header time limits."""

    max_header_bytes: ClassVar[int] = 64 * 1024
    header_timeout: ClassVar[float] = 10.0

    @classmethod
    def configure(cls, settings: Settings) -> None:
        cls.max_header_bytes = settings.http_max_header_bytes
        cls.header_timeout = settings.http_header_timeout_seconds

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._header_bytes = 0
        self._awaiting_headers = True
        self._header_timer: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._arm_header_timer()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm_header_timer()
        super().connection_lost(exc)

    def _arm_header_timer(self) -> None:
        if self._header_timer is None:
            self._header_timer = self.loop.call_later(self.header_timeout, self._headers_too_slow)

    def _disarm_header_timer(self) -> None:
        if self._header_timer is not None:
            self._header_timer.cancel()
            self._header_timer = None

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        # Counted once parsed, while the head is still incomplete after a chunk (a chunk that
        # completes it may carry body bytes, which are not the head's): a head may thus run
        # over the limit by at most one read (256 KiB) before it is refused.
        if self._awaiting_headers and not self.transport.is_closing():
            self._arm_header_timer()
            self._header_bytes += len(data)
            if self._header_bytes > self.max_header_bytes:
                self._refuse(431, b"Request Header Fields Too Large")

    def on_message_begin(self) -> None:
        # The next request on a kept-alive connection: its head is bounded afresh (keep-alive
        # covers the idle time before its first byte; a body still arriving is not a head).
        self._awaiting_headers = True
        self._header_bytes = 0
        self._arm_header_timer()
        super().on_message_begin()

    def on_headers_complete(self) -> None:
        self._awaiting_headers = False
        self._header_bytes = 0
        self._disarm_header_timer()
        super().on_headers_complete()

    def _headers_too_slow(self) -> None:
        self._header_timer = None
        if self._awaiting_headers and not self.transport.is_closing():
            if self.cycle is not None and not self.cycle.response_complete:
                return  # a request is still being answered; its successor's bytes wait
            self._refuse(408, b"Request Timeout")

    def _refuse(self, status: int, reason: bytes) -> None:
        self._disarm_header_timer()
        if self.transport.is_closing():
            return
        body = reason + b"\n"
        self.transport.write(
            b"HTTP/1.1 %d %s\r\ncontent-type: text/plain; charset=utf-8\r\ncontent-length: %d\r\n"
            b"connection: close\r\n\r\n%s" % (status, reason, len(body), body)
        )
        self.transport.close()

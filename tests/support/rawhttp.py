"""Hand-written HTTP/1.1 requests, for what a well-behaved client library will not send."""

from __future__ import annotations

import socket
from urllib.parse import urlsplit


def raw_request(
    url: str, head: str, body: bytes = b"", *, half_close: bool = False, timeout: float = 10
) -> tuple[int | None, bytes]:
    """Send ``head`` (request line and headers, no blank line) and ``body``: (status, raw reply).

    ``half_close`` shuts our side down after sending, as a client that gives up mid-body does.
    The status is None when the server closed without answering.
    """
    parts = urlsplit(url)
    with socket.create_connection((parts.hostname, parts.port), timeout=timeout) as sock:
        sock.sendall(head.encode() + b"\r\n\r\n" + body)
        if half_close:
            sock.shutdown(socket.SHUT_WR)
        chunks = []
        try:
            while True:
                data = sock.recv(65536)
                if not data:
                    break
                chunks.append(data)
                if not half_close and _complete(b"".join(chunks)):
                    break
        except (TimeoutError, ConnectionResetError):
            pass
    reply = b"".join(chunks)
    if not reply.startswith(b"HTTP/1.1 "):
        return None, reply
    return int(reply[9:12]), reply


def _complete(reply: bytes) -> bool:
    head, sep, body = reply.partition(b"\r\n\r\n")
    if not sep:
        return False
    for line in head.split(b"\r\n")[1:]:
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            return len(body) >= int(value.strip())
    return True

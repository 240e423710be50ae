"""The test suite stops every service process it started: at its end, and when interrupted."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil
import pytest

from tests.support.services import PROCESS_LOG, running_after

ROOT = Path(__file__).resolve().parent.parent


def _session(tmp: Path, *, wait: bool) -> tuple[subprocess.Popen[bytes], Path, Path]:
    log, ready = tmp / "processes.log", tmp / "ready"
    # Nothing configured: the session starts its own PostgreSQL, Redis and S3 server.
    env = {k: v for k, v in os.environ.items() if not k.startswith("RECORDINGS_")}
    env[PROCESS_LOG] = str(log)
    if wait:
        env["RECORDINGS_PROBE_READY"] = str(ready)
    out = open(tmp / "session.log", "wb")  # noqa: SIM115 - the child holds it
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-q",
            "tests/support/probe_session.py",
        ],
        cwd=ROOT,
        env=env,
        stdout=out,
        stderr=out,
        start_new_session=True,
        # SIGINT as a terminal sends it: handled, whatever this process inherited
        preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
    )
    out.close()
    return proc, log, ready


def _recorded(log: Path) -> list[psutil.Process]:
    found = []
    for line in log.read_text().split():
        try:
            found.append(psutil.Process(int(line)))
        except psutil.NoSuchProcess:
            continue  # gone already
    return found


def test_a_finished_session_leaves_no_process_behind():
    with tempfile.TemporaryDirectory(prefix="recordings-session-") as tmp:
        proc, log, _ = _session(Path(tmp), wait=False)
        assert proc.wait(300) == 0, (Path(tmp) / "session.log").read_text()[-3000:]
        assert len(log.read_text().split()) >= 6  # PostgreSQL, Redis, S3, two APIs, a worker
        _, alive = running_after(_recorded(log), timeout=10)
        assert not alive, [(p.pid, p.name()) for p in alive]


@pytest.mark.parametrize("signum", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_session_leaves_no_process_behind(signum):
    with tempfile.TemporaryDirectory(prefix="recordings-session-") as tmp:
        proc, log, ready = _session(Path(tmp), wait=True)
        deadline = time.monotonic() + 300
        while not ready.exists():
            assert proc.poll() is None and time.monotonic() < deadline, (
                Path(tmp) / "session.log"
            ).read_text()
            time.sleep(0.2)
        started = _recorded(log)
        os.kill(proc.pid, signum)
        try:
            proc.wait(180)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise AssertionError((Path(tmp) / "session.log").read_text()[-5000:]) from None
        _, alive = running_after(started, timeout=10)
        assert not alive, [(p.pid, p.name()) for p in alive]

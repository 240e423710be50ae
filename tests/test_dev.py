"""`recordings dev`: the whole service on one machine with nothing installed but Python."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

from tests.conftest import DATA
from tests.support import services
from tests.support.factories import BASE, create_body


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
    finally:
        os.killpg(proc.pid, signal.SIGINT)
        try:
            proc.wait(30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
        log.close()

"""The analyze command: JSON out on success, one-line reasons and non-zero exits on bad input."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from app.pipeline.cli import run_analyze
from tests.pipeline.factories import FIXTURE_DATA, media_path

ROOT = Path(__file__).resolve().parents[2]
META = FIXTURE_DATA / "login-500" / "create.json"


def test_writes_the_documented_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "result.json"
    assert run_analyze(media_path("login-500", "mp4"), META, out) == 0
    result = json.loads(out.read_text())
    assert list(result) == [
        "recording",
        "sections",
        "summary",
        "findings",
        "frames",
        "transcript",
        "evidence",
        "timings",
    ]
    assert result["summary"]["keyFindings"]
    assert any(f["kind"] == "network_error" for f in result["findings"])
    captured = capsys.readouterr()
    assert captured.out == ""
    assert "summarize" in captured.err and "findings" in captured.err


def _cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "app.pipeline.cli", *map(str, args)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
    )


def test_broken_video_exits_non_zero_with_a_reason(tmp_path: Path) -> None:
    video = tmp_path / "broken.webm"
    video.write_bytes((media_path("login-500", "webm")).read_bytes()[:30_000])
    done = _cli(video, "--meta", META, "--out", tmp_path / "out.json")
    assert done.returncode == 2
    reason = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(reason) == 1 and "video" in reason[0]
    assert not (tmp_path / "out.json").exists()
    assert done.stdout == ""


@pytest.mark.parametrize("content", ["{not json", "[1, 2]", None])
def test_bad_metadata_exits_non_zero_with_a_reason(
    tmp_path: Path, content: str | None, capsys: pytest.CaptureFixture[str]
) -> None:
    meta = tmp_path / "create.json"
    if content is not None:
        meta.write_text(content)
    assert run_analyze(media_path("login-500", "mp4"), meta, None) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error:") and "metadata" in err[0]


def test_missing_video(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert run_analyze(tmp_path / "nope.webm", META, None) == 2
    assert "no such video" in capsys.readouterr().err


def test_an_output_path_that_cannot_be_written_is_refused_before_the_analysis(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    out = tmp_path / "missing" / "result.json"
    assert run_analyze(media_path("login-500", "mp4"), META, out) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"error: cannot write {out}: no folder {out.parent}"]  # no progress: not started
    assert run_analyze(media_path("login-500", "mp4"), META, tmp_path) == 2
    assert capsys.readouterr().err.strip().splitlines() == [
        f"error: cannot write {tmp_path}: it is a folder"
    ]

"""Shared fixtures of the pipeline tests."""

from __future__ import annotations

# --- analysis engine (reasoning stages) -----------------------------------------------
import json as _json
from collections.abc import Callable as _Callable
from pathlib import Path as _Path
from typing import Any as _Any

import pytest as _pytest

FIXTURE_DATA = _Path(__file__).resolve().parents[1] / "data"
SCENARIOS = ("upgrade-checkout", "login-500")
CONTAINERS = ("webm", "mp4")


@_pytest.fixture(scope="session")
def engine() -> _Any:
    """One warm analysis engine (OCR engine and Whisper model loaded once) for the session."""
    from app.pipeline.engine import Engine

    created = Engine().ready()
    yield created
    created.close()


@_pytest.fixture(scope="session")
def analyse(engine: _Any) -> _Callable[[str, str], tuple[_Any, list[tuple[str, float, str]]]]:
    """``analyse(scenario, container)`` -> (AnalysisResult, progress events), cached per session."""
    cache: dict[tuple[str, str], tuple[_Any, list[tuple[str, float, str]]]] = {}

    def run(scenario: str, container: str) -> tuple[_Any, list[tuple[str, float, str]]]:
        key = (scenario, container)
        if key not in cache:
            folder = FIXTURE_DATA / scenario
            events: list[tuple[str, float, str]] = []
            meta = _json.loads((folder / "create.json").read_text())
            result = engine.analyze(
                folder / f"recording.{container}",
                meta,
                progress=lambda s, f, m: events.append((s, f, m)),
            )
            cache[key] = (result, events)
        return cache[key]

    return run


@_pytest.fixture(scope="session")
def truth() -> _Callable[[str], dict[str, _Any]]:
    """``truth(scenario)`` -> the fixture's ground truth (truth.json)."""
    return lambda scenario: _json.loads((FIXTURE_DATA / scenario / "truth.json").read_text())


# --- media stages (probe, keyframes, OCR, transcription) ------------------------------
# Each fixture recording is decoded, read and transcribed at most once per session.

from app.pipeline.keyframes import KeyframeHints as _KeyframeHints  # noqa: E402
from app.pipeline.keyframes import extract_keyframes as _extract_keyframes  # noqa: E402
from app.pipeline.media import probe as _probe  # noqa: E402
from app.pipeline.options import KeyframeOptions as _KeyframeOptions  # noqa: E402
from app.pipeline.options import MediaLimits as _MediaLimits  # noqa: E402
from app.pipeline.options import OcrOptions as _OcrOptions  # noqa: E402
from app.pipeline.options import TranscribeOptions as _TranscribeOptions  # noqa: E402
from app.pipeline.types import Keyframe as _Keyframe  # noqa: E402
from app.pipeline.types import ProbeInfo as _ProbeInfo  # noqa: E402
from app.pipeline.types import TranscriptSegment as _TranscriptSegment  # noqa: E402


def media_path(scenario: str, container: str) -> _Path:
    """The fixture recording of ``scenario`` in ``container`` (webm or mp4)."""
    return FIXTURE_DATA / scenario / f"recording.{container}"


def create_body(scenario: str) -> dict[str, _Any]:
    """The recorder's upload body (create.json) of ``scenario``."""
    return _json.loads((FIXTURE_DATA / scenario / "create.json").read_text())


def hints_for(scenario: str) -> _KeyframeHints:
    """Click times and error times (console errors, failed requests) from create.json, in seconds."""
    body = create_body(scenario)
    state = body.get("browserState", {})
    clicks = [a["timestamp"] / 1000 for a in body.get("actions", []) if a.get("type") == "click"]
    errors = [
        c["timestamp"] / 1000 for c in state.get("consoleLogs", []) if c.get("level") == "error"
    ]
    errors += [
        r["timestamp"] / 1000
        for r in state.get("networkRequests", [])
        if int(r.get("status") or 0) >= 400
    ]
    return _KeyframeHints(click_times=clicks, error_times=sorted(errors))


def screen_vocabulary(scenario: str) -> list[str]:
    """What the screen and the event log know, as the orchestrator would pass it to transcription."""
    truth_doc = _json.loads((FIXTURE_DATA / scenario / "truth.json").read_text())
    body = create_body(scenario)
    words = [p["title"] for p in truth_doc["pages"]]
    words += [k for p in truth_doc["pages"] for k in p["keyText"]]
    words += [a["text"] for a in body.get("actions", []) if a.get("text")]
    return words


@_pytest.fixture(scope="session")
def probed() -> _Callable[[str, str], _ProbeInfo]:
    """``probed(scenario, container)`` -> ProbeInfo, cached."""
    cache: dict[tuple[str, str], _ProbeInfo] = {}

    def get(scenario: str, container: str) -> _ProbeInfo:
        if (scenario, container) not in cache:
            cache[(scenario, container)] = _probe(media_path(scenario, container), _MediaLimits())
        return cache[(scenario, container)]

    return get


@_pytest.fixture(scope="session")
def keyframes_of(
    probed: _Callable[[str, str], _ProbeInfo],
) -> _Callable[[str, str], list[_Keyframe]]:
    """``keyframes_of(scenario, container)`` -> keyframes (default options, create.json hints), cached."""
    cache: dict[tuple[str, str], list[_Keyframe]] = {}

    def get(scenario: str, container: str) -> list[_Keyframe]:
        if (scenario, container) not in cache:
            cache[(scenario, container)] = _extract_keyframes(
                media_path(scenario, container),
                probed(scenario, container),
                _KeyframeOptions(),
                _MediaLimits(),
                hints_for(scenario),
            )
        return cache[(scenario, container)]

    return get


@_pytest.fixture(scope="session")
def ocr_engine() -> _Any:
    """The default (auto) OCR engine, created once."""
    from app.pipeline.ocr import make_ocr

    return make_ocr(_OcrOptions())


@_pytest.fixture(scope="session")
def read_keyframes(keyframes_of: _Any, ocr_engine: _Any) -> _Callable[[str], list[_Keyframe]]:
    """``read_keyframes(scenario)`` -> the WebM's keyframes with OCR lines filled, cached."""
    from app.pipeline.ocr import ocr_keyframes

    done: set[str] = set()

    def get(scenario: str) -> list[_Keyframe]:
        keyframes = keyframes_of(scenario, "webm")
        if scenario not in done:
            ocr_keyframes(keyframes, ocr_engine)
            done.add(scenario)
        return keyframes

    return get


@_pytest.fixture(scope="session")
def transcriber() -> _Any:
    """The default transcriber (faster-whisper, bundled tiny.en), loaded once."""
    from app.pipeline.transcribe import make_transcriber

    return make_transcriber(_TranscribeOptions())


@_pytest.fixture(scope="session")
def transcript_of(transcriber: _Any) -> _Callable[..., list[_TranscriptSegment]]:
    """``transcript_of(scenario, container, vocabulary=True)`` -> segments, cached."""
    cache: dict[tuple[str, str, bool], list[_TranscriptSegment]] = {}

    def get(scenario: str, container: str, vocabulary: bool = True) -> list[_TranscriptSegment]:
        key = (scenario, container, vocabulary)
        if key not in cache:
            words = screen_vocabulary(scenario) if vocabulary else ()
            cache[key] = transcriber.transcribe(media_path(scenario, container), vocabulary=words)
        return cache[key]

    return get

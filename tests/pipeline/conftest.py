"""Shared fixtures of the pipeline tests: warm models and each fixture file analysed once.

Each fixture recording is probed, decoded, read and transcribed at most once per session.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest

from app.pipeline import KeyframeOptions, MediaLimits, OcrOptions, TranscribeOptions
from app.pipeline.media.keyframes import extract_keyframes
from app.pipeline.media.probe import probe
from app.pipeline.types import Keyframe, ProbeInfo, TranscriptSegment
from tests.pipeline import factories
from tests.pipeline.factories import hints_for, media_path, screen_vocabulary
from tests.support.factories import create_body


@pytest.fixture(scope="session")
def engine() -> Iterator[Any]:
    """One warm analysis engine (OCR engine and Whisper model loaded once) for the session."""
    from app.pipeline import Engine

    created = Engine().ready()
    yield created
    created.close()


@pytest.fixture(scope="session")
def analyse(engine: Any) -> Callable[[str, str], tuple[Any, list[tuple[str, float, str]]]]:
    """``analyse(scenario, container)`` -> (AnalysisResult, progress events), cached per session."""
    cache: dict[tuple[str, str], tuple[Any, list[tuple[str, float, str]]]] = {}

    def run(scenario: str, container: str) -> tuple[Any, list[tuple[str, float, str]]]:
        key = (scenario, container)
        if key not in cache:
            events: list[tuple[str, float, str]] = []
            result = engine.analyze(
                media_path(scenario, container),
                create_body(scenario),
                progress=lambda s, f, m: events.append((s, f, m)),
            )
            cache[key] = (result, events)
        return cache[key]

    return run


@pytest.fixture(scope="session")
def truth() -> Callable[[str], dict[str, Any]]:
    """``truth(scenario)`` -> the fixture's ground truth (truth.json)."""
    return factories.truth


@pytest.fixture(scope="session")
def probed() -> Callable[[str, str], ProbeInfo]:
    """``probed(scenario, container)`` -> ProbeInfo, cached."""
    cache: dict[tuple[str, str], ProbeInfo] = {}

    def get(scenario: str, container: str) -> ProbeInfo:
        if (scenario, container) not in cache:
            cache[(scenario, container)] = probe(media_path(scenario, container), MediaLimits())
        return cache[(scenario, container)]

    return get


@pytest.fixture(scope="session")
def keyframes_of(
    probed: Callable[[str, str], ProbeInfo],
) -> Callable[[str, str], list[Keyframe]]:
    """``keyframes_of(scenario, container)`` -> keyframes (default options, create.json hints),
    cached."""
    cache: dict[tuple[str, str], list[Keyframe]] = {}

    def get(scenario: str, container: str) -> list[Keyframe]:
        if (scenario, container) not in cache:
            cache[(scenario, container)] = extract_keyframes(
                media_path(scenario, container),
                probed(scenario, container),
                KeyframeOptions(),
                MediaLimits(),
                hints_for(scenario),
            )
        return cache[(scenario, container)]

    return get


@pytest.fixture(scope="session")
def ocr_engine() -> Any:
    """The default (auto) OCR engine, created once."""
    from app.pipeline.ocr import make_ocr

    return make_ocr(OcrOptions())


@pytest.fixture(scope="session")
def read_keyframes(keyframes_of: Any, ocr_engine: Any) -> Callable[[str], list[Keyframe]]:
    """``read_keyframes(scenario)`` -> the WebM's keyframes with OCR lines filled, cached."""
    from app.pipeline.ocr import ocr_keyframes

    done: set[str] = set()

    def get(scenario: str) -> list[Keyframe]:
        keyframes = keyframes_of(scenario, "webm")
        if scenario not in done:
            ocr_keyframes(keyframes, ocr_engine)
            done.add(scenario)
        return keyframes

    return get


@pytest.fixture(scope="session")
def transcriber() -> Any:
    """The default transcriber (faster-whisper, bundled tiny.en), loaded once."""
    from app.pipeline.speech import make_transcriber

    return make_transcriber(TranscribeOptions())


@pytest.fixture(scope="session")
def transcript_of(transcriber: Any) -> Callable[..., list[TranscriptSegment]]:
    """``transcript_of(scenario, container, vocabulary=True)`` -> segments, cached."""
    cache: dict[tuple[str, str, bool], list[TranscriptSegment]] = {}

    def get(scenario: str, container: str, vocabulary: bool = True) -> list[TranscriptSegment]:
        key = (scenario, container, vocabulary)
        if key not in cache:
            words = screen_vocabulary(scenario) if vocabulary else ()
            cache[key] = transcriber.transcribe(media_path(scenario, container), vocabulary=words)
        return cache[key]

    return get

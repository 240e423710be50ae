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

    created = Engine()
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
            result = engine.analyze(folder / f"recording.{container}", meta,
                                    progress=lambda s, f, m: events.append((s, f, m)))
            cache[key] = (result, events)
        return cache[key]

    return run


@_pytest.fixture(scope="session")
def truth() -> _Callable[[str], dict[str, _Any]]:
    """``truth(scenario)`` -> the fixture's ground truth (truth.json)."""
    return lambda scenario: _json.loads((FIXTURE_DATA / scenario / "truth.json").read_text())

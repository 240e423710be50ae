"""The overall progress of an analysis: stage weights, never backwards, below 1 until the end."""

from __future__ import annotations

import io
import itertools

import pytest

from app.pipeline.cli import ProgressBar
from app.pipeline.progress import STAGE_WEIGHTS, STAGES, OverallProgress


def test_every_stage_has_a_weight_and_the_weights_make_the_whole() -> None:
    assert set(STAGE_WEIGHTS) == set(STAGES)
    assert sum(STAGE_WEIGHTS.values()) == pytest.approx(1.0)


def test_the_overall_value_weighs_each_stage_and_never_goes_back() -> None:
    overall = OverallProgress()
    assert overall.update("decode", 0.5) == pytest.approx(0.5 * STAGE_WEIGHTS["decode"])
    after_ocr = overall.update("ocr", 1.0)
    assert after_ocr == pytest.approx(0.5 * STAGE_WEIGHTS["decode"] + STAGE_WEIGHTS["ocr"])
    # A stage reporting less than before, or nonsense, does not move it back.
    assert overall.update("decode", 0.1) == after_ocr
    assert overall.update("ocr", -3.0) == after_ocr
    assert overall.update("no such stage", 1.0) == after_ocr
    assert overall.value == after_ocr


def test_it_stays_below_one_until_the_analysis_is_finished() -> None:
    overall = OverallProgress()
    for stage in STAGES:
        value = overall.update(stage, 2.0)  # fractions above 1 count as 1
    assert value == overall.value == 0.99


def test_the_command_lines_bar_shows_the_overall_value() -> None:
    stream = io.StringIO()
    bar = ProgressBar(stream)
    bar("probe", 0.0, "probing the video")
    bar("probe", 1.0, "webm 1280x720, 42.0 s")
    for stage in STAGES[1:]:
        bar(stage, 1.0, "done")
    lines = stream.getvalue().splitlines()
    assert lines[0] == "  0% probe: probing the video"
    assert lines[1] == "  2% probe: webm 1280x720, 42.0 s"
    assert lines[-1] == " 99% summarize: done"


class _Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_the_time_left_is_unknown_at_first_then_only_shrinks() -> None:
    from app.pipeline.progress import RemainingTime

    clock = _Clock()
    remaining = RemainingTime(clock=clock)
    clock.now = 0.5
    assert remaining.update(0.2) is None  # too early to say
    clock.now = 2.0
    assert remaining.update(0.02) is None  # too little done to say
    clock.now = 4.0
    first = remaining.update(0.2)
    assert first == pytest.approx(16.0)  # 4 s for a fifth: 16 s to go
    reported = [first]
    # A quick stage, then a slow one: the naive estimate jumps down, then up; this one never
    # grows, and moves only part of the way down at once.
    for now, progress in [(5.0, 0.6), (9.0, 0.62), (14.0, 0.7), (20.0, 0.9), (26.0, 0.99)]:
        clock.now = now
        reported.append(remaining.update(progress))
    assert all(b <= a for a, b in itertools.pairwise(reported)), reported
    assert reported[1] > 5.0 * 0.4 / 0.6  # not all the way to the naive 3.3 s at once
    assert reported[-1] >= 1.0  # holds at a second rather than claiming it is done

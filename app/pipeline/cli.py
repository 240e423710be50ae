"""Command-line analysis of one recording: ``recordings analyze VIDEO --meta CREATE.json``.

Also runnable as ``python -m app.pipeline.cli VIDEO --meta CREATE.json [--out RESULT.json]``.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import TextIO

import click

from app.pipeline.engine import Engine
from app.pipeline.errors import MediaInputError, PipelineError
from app.pipeline.progress import OverallProgress


class ProgressBar:
    """One overall progress bar on a terminal stream; one line per stage otherwise."""

    def __init__(self, stream: TextIO, width: int = 30) -> None:
        self.stream = stream
        self.width = width
        self._overall = OverallProgress()
        self.tty = stream.isatty()
        self._started: set[str] = set()
        self._finished: set[str] = set()

    def __call__(self, stage: str, fraction: float, message: str) -> None:
        total = self._overall.update(stage, fraction)
        if self.tty:
            filled = round(total * self.width)
            bar = "#" * filled + "-" * (self.width - filled)
            self.stream.write(f"\r[{bar}] {total * 100:3.0f}% {stage}: {message[:50]:<50}")
        elif stage not in self._started or (fraction >= 1.0 and stage not in self._finished):
            # Not a terminal (a log): one line when a stage starts and one when it ends.
            self._started.add(stage)
            if fraction >= 1.0:
                self._finished.add(stage)
            self.stream.write(f"{total * 100:3.0f}% {stage}: {message}\n")
        self.stream.flush()

    def finish(self) -> None:
        """End the bar's line."""
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()


def run_analyze(video: Path, meta: Path, out: Path | None) -> int:
    """Analyse ``video`` with the recorder JSON ``meta``; write the result to ``out`` or stdout.

    Returns 0 on success; 2 with a one-line reason on stderr when the input is
    bad (unreadable or invalid metadata, a video that cannot be analysed); 1
    when a stage fails for an internal reason.
    """
    try:
        raw = json.loads(Path(meta).read_text(encoding="utf-8"))
    except OSError as exc:
        return _fail(2, f"cannot read the metadata file {meta}: {exc.strerror or exc}")
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return _fail(2, f"the metadata file {meta} is not valid JSON: {exc}")
    if not isinstance(raw, dict):
        return _fail(2, f"the metadata file {meta} must hold a JSON object")
    if not Path(video).is_file():
        return _fail(2, f"no such video file: {video}")
    # Found now rather than after the analysis: its work would be lost.
    if out is not None and not Path(out).parent.is_dir():
        return _fail(2, f"cannot write {out}: no folder {Path(out).parent}")
    if out is not None and Path(out).is_dir():
        return _fail(2, f"cannot write {out}: it is a folder")

    bar = ProgressBar(sys.stderr)
    started = time.perf_counter()
    try:
        engine = Engine()
        try:
            result = engine.analyze(video, raw, progress=bar)
        finally:
            engine.close()
    except MediaInputError as exc:
        bar.finish()
        return _fail(2, f"the video cannot be analysed: {exc.reason}")
    except PipelineError as exc:
        bar.finish()
        return _fail(1, f"analysis failed: {exc.reason}")
    bar.finish()
    text = json.dumps(result.to_dict(), indent=2, ensure_ascii=False)
    if out is None:
        sys.stdout.write(text + "\n")
    else:
        try:
            Path(out).write_text(text + "\n", encoding="utf-8")
        except OSError as exc:
            return _fail(1, f"cannot write {out}: {exc.strerror or exc}")
    sys.stderr.write(
        f"analysed {video} in {time.perf_counter() - started:.1f} s: "
        f"{len(result.findings)} findings\n"
    )
    return 0


def _fail(code: int, reason: str) -> int:
    sys.stderr.write(f"error: {' '.join(reason.split())}\n")
    return code


@click.command()
@click.argument("video", type=click.Path(path_type=Path))
@click.option(
    "--meta",
    "meta",
    required=True,
    type=click.Path(path_type=Path),
    help="The recorder's create.json.",
)
@click.option(
    "--out",
    "out",
    type=click.Path(path_type=Path),
    default=None,
    help="Write the result JSON here.",
)
def main(video: Path, meta: Path, out: Path | None) -> None:
    """Analyse one recording VIDEO with its recorder metadata."""
    sys.exit(run_analyze(video, meta, out))


if __name__ == "__main__":
    main()

"""The analysis engine: media stages and reasoning stages, orchestrated.

An :class:`Engine` is created once per worker process; it loads the OCR
engine and the speech recogniser up front so every analysis runs warm.
Transcription runs in a thread concurrently with decoding and keyframe
selection, and OCR reads each keyframe on another thread as soon as it is kept
(the native libraries behind them release the GIL); everything after that
(descriptions, evidence, signals, sections, summary) is cheap Python. The keyframe pass and OCR
run at a lower priority than transcription, whose serial decoding would otherwise finish last
(:mod:`app.pipeline.media.priority`).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable, Mapping
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

import cv2

from app.pipeline.capture import Capture, parse_capture
from app.pipeline.errors import PipelineError, StageError
from app.pipeline.media.keyframes import KeyframeHints, extract_keyframes, keyframe_cap
from app.pipeline.media.priority import lower_thread_priority
from app.pipeline.media.probe import probe
from app.pipeline.models.llm import ChatClient, ChatConfig, write_report
from app.pipeline.models.vlm import enrich_descriptions
from app.pipeline.ocr import KeyframeReader, make_ocr
from app.pipeline.options import KeyframeOptions, MediaLimits, OcrOptions, TranscribeOptions
from app.pipeline.progress import STAGES, ProgressCallback, no_progress
from app.pipeline.reasoning.describe import FrameDescription, describe_keyframes
from app.pipeline.reasoning.evidence import EvidenceTable, build_evidence, split_sentences
from app.pipeline.reasoning.findings import Finding, build_findings
from app.pipeline.reasoning.options import (
    DescribeOptions,
    FindingOptions,
    SectionOptions,
    SignalOptions,
)
from app.pipeline.reasoning.sections import Citation, Section, build_sections
from app.pipeline.reasoning.signals import Signal, detect_signals
from app.pipeline.reasoning.summary import Summary, summarize
from app.pipeline.result import AnalysisResult
from app.pipeline.speech import make_transcriber
from app.pipeline.types import Keyframe, TranscriptSegment

log = logging.getLogger(__name__)
T = TypeVar("T")


@dataclass(frozen=True, kw_only=True)
class EngineOptions:
    """Everything tunable about an analysis; the defaults need no model service."""

    limits: MediaLimits = field(default_factory=MediaLimits)
    keyframes: KeyframeOptions = field(default_factory=KeyframeOptions)
    ocr: OcrOptions = field(default_factory=OcrOptions)
    transcribe: TranscribeOptions = field(default_factory=TranscribeOptions)
    describe: DescribeOptions = field(default_factory=DescribeOptions)
    signals: SignalOptions = field(default_factory=SignalOptions)
    findings: FindingOptions = field(default_factory=FindingOptions)
    sections: SectionOptions = field(default_factory=SectionOptions)
    llm: ChatConfig | None = None
    """Optional language model that rewrites the summary prose."""
    vlm: ChatConfig | None = None
    """Optional vision model that enriches keyframe descriptions."""
    vlm_max_frames: int = 8
    keyframe_niceness: int = 10
    """Nice levels the keyframe pass (decoding) runs below transcription, the one serial path
    (:mod:`app.pipeline.media.priority`); 0 shares the CPUs evenly."""
    ocr_niceness: int = 5
    """Nice levels OCR runs below transcription: above the keyframe pass it feeds on, so that
    it does not fall behind and finish alone."""


class _Cancelled(Exception):
    """Raised inside a stage's progress callback to stop it after another stage failed."""


class _Progress:
    """Thread-safe progress relay: per-stage fractions in 0..1 that never go backwards."""

    def __init__(self, callback: ProgressCallback) -> None:
        self._callback = callback
        self._lock = threading.Lock()
        self._seen: dict[str, float] = {}
        self.cancelled = threading.Event()

    def __call__(self, stage: str, fraction: float, message: str) -> None:
        if self.cancelled.is_set():
            raise _Cancelled(stage)
        with self._lock:
            value = min(1.0, max(0.0, float(fraction), self._seen.get(stage, 0.0)))
            self._seen[stage] = value
            try:
                self._callback(stage, value, message)
            except Exception:  # a broken progress sink must not break the analysis
                log.exception("progress callback failed")

    def done(self, stage: str, message: str) -> None:
        self(stage, 1.0, message)


class _Timer:
    def __init__(self) -> None:
        self.timings: dict[str, float] = {}

    def run(self, stage: str, fn: Callable[[], T]) -> T:
        started = time.perf_counter()
        try:
            return fn()
        finally:
            self.timings[stage] = self.timings.get(stage, 0.0) + time.perf_counter() - started


class Engine:
    """Loads the models once; :meth:`analyze` runs one recording through every stage.

    Meant to be one per process: it tunes process-wide threading (OpenCV runs single-threaded;
    see also ``app/pipeline/__init__.py`` for OpenMP).
    """

    def __init__(self, options: EngineOptions | None = None) -> None:
        self.options = options or EngineOptions()
        # The stages already run side by side on every core; OpenCV's own pool of workers,
        # splitting each small resize or diff, only adds hand-offs (docs/performance.md).
        cv2.setNumThreads(1)
        # The models load on two threads while the caller goes on: a one-shot analysis decodes
        # meanwhile (the OCR thread waits for its engine, keyframes queue up); a worker calls
        # ready() to start warm and to fail at start-up when a model cannot be loaded.
        loader = ThreadPoolExecutor(max_workers=2, thread_name_prefix="load")
        self._ocr_loading = loader.submit(make_ocr, self.options.ocr)
        self._transcriber_loading = loader.submit(make_transcriber, self.options.transcribe)
        loader.shutdown(wait=False)
        self._llm = ChatClient(self.options.llm) if self.options.llm else None
        self._vlm = ChatClient(self.options.vlm) if self.options.vlm else None
        # One analysis at a time: the models are shared and sized for the machine.
        self._lock = threading.Lock()

    def ready(self) -> Engine:
        """Wait for the models; raises :class:`StageError` when one cannot be loaded."""
        self._loaded(self._ocr_loading)
        self._loaded(self._transcriber_loading)
        return self

    @staticmethod
    def _loaded(future: Future[T]) -> T:
        try:
            return future.result()
        except PipelineError:
            raise
        except Exception as exc:
            raise StageError(f"a model could not be loaded: {exc}") from exc

    def close(self) -> None:
        """Release HTTP clients of the optional adapters."""
        for client in (self._llm, self._vlm):
            if client is not None:
                client.close()

    def analyze(
        self,
        video_path: str | os.PathLike[str],
        meta: Mapping[str, Any],
        progress: ProgressCallback = no_progress,
    ) -> AnalysisResult:
        """Analyse one recording: the video file and the recorder's JSON (decoded).

        Raises :class:`MediaInputError` when the video cannot be analysed and
        :class:`StageError` when a stage fails for an internal reason.
        """
        with self._lock:
            return self._analyze(video_path, meta, _Progress(progress))

    def _analyze(
        self, video_path: str | os.PathLike[str], meta: Mapping[str, Any], progress: _Progress
    ) -> AnalysisResult:
        options = self.options
        timer = _Timer()
        started = time.perf_counter()
        capture = parse_capture(meta)
        progress("probe", 0.0, "probing the video")
        info = timer.run("probe", lambda: probe(video_path, options.limits))
        progress.done(
            "probe", f"{info.container} {info.width}x{info.height}, {info.duration:.1f} s"
        )

        hints = KeyframeHints(
            click_times=[a.time for a in capture.actions if a.type == "click"],
            error_times=_spread(
                sorted(
                    {r.time + (r.duration or 0.0) for r in capture.network if r.failed}
                    | {c.time for c in capture.console if c.is_error}
                )
            ),
        )
        with (
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="transcribe") as pool,
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="keyframes") as keyframe_pool,
        ):
            transcript_future: Future[list[TranscriptSegment]] | None = None
            if info.has_audio:
                vocabulary = capture.vocabulary()
                transcript_future = pool.submit(
                    timer.run,
                    "transcribe",
                    lambda: self._loaded(self._transcriber_loading).transcribe(
                        video_path, vocabulary=vocabulary, progress=progress, limits=options.limits
                    ),
                )
                # A failed transcription stops decoding and OCR at their next progress report.
                transcript_future.add_done_callback(
                    lambda done: progress.cancelled.set() if done.exception() is not None else None
                )
            # OCR reads each keyframe on its own thread as soon as the keyframe pass keeps it.
            reader = KeyframeReader(
                lambda: self._loaded(self._ocr_loading),
                progress,
                duration=info.duration,
                stream_limit=keyframe_cap(options.keyframes, info.width, info.height),
                niceness=options.ocr_niceness,
            )

            def keyframe_pass() -> list[Keyframe]:
                # A thread of its own (fresh for each analysis), so that its lower priority,
                # and that of the decoder threads it starts, ends with it.
                lower_thread_priority(options.keyframe_niceness)
                return extract_keyframes(
                    video_path,
                    info,
                    options.keyframes,
                    options.limits,
                    hints,
                    progress,
                    on_keyframe=reader.submit,
                )

            try:
                keyframes = timer.run(
                    "keyframes", lambda: keyframe_pool.submit(keyframe_pass).result()
                )
                progress.done("decode", "decoded")
                progress.done("keyframes", f"keyframes: {len(keyframes)}")
                reader.finish(keyframes)
                timer.timings["ocr"] = reader.busy_seconds
                progress.done("ocr", "text read")
                # Descriptions need the screen's text, not the speech: they are written while
                # transcription may still run (its last stretch, on a recording full of speech).
                descriptions = self._describe(keyframes, capture, timer, progress)
            except BaseException as exc:
                # Whichever step failed, the OCR thread stops (a no-op once it has finished).
                reader.close()
                # Stop the transcription at its next progress report, then report the first failure.
                progress.cancelled.set()
                failed = transcript_future is not None and transcript_future.exception() is not None
                if failed and isinstance(exc, _Cancelled):
                    self._transcript(transcript_future)  # raises the transcription's error
                raise
            transcript = split_sentences(self._transcript(transcript_future))
        progress.done("transcribe", f"{len(transcript)} segments")

        duration = info.duration
        progress("fuse", 0.0, "fusing evidence")

        def fuse() -> tuple[EvidenceTable, list[Signal], list[Finding]]:
            evidence = build_evidence(capture, keyframes, descriptions, transcript)
            signals = detect_signals(capture, evidence, keyframes, duration, options.signals)
            page_urls = [p.url for p in capture.pages] + list(capture.visited_urls)
            return evidence, signals, build_findings(signals, evidence, page_urls, options.findings)

        evidence, signals, findings = timer.run("fuse", fuse)
        progress.done("fuse", f"{len(evidence)} evidence items, {len(findings)} findings")

        progress("summarize", 0.0, "writing the summary")

        def write() -> tuple[Summary, list[Finding], list[Section]]:
            summary = summarize(capture, findings, duration, evidence)
            final = list(findings)
            if self._llm is not None:
                summary, final = write_report(
                    self._llm,
                    intent=capture.intent,
                    evidence=evidence,
                    findings=final,
                    summary=summary,
                )
            sections = build_sections(
                capture, descriptions, evidence, signals, final, duration, options.sections
            )
            return summary, final, sections

        summary, findings, sections = timer.run("summarize", write)
        findings, sections = _checked(findings, sections, evidence)
        kept = {f.title for f in findings}
        summary = Summary(
            summary=summary.summary,
            key_findings=tuple(t for t in summary.key_findings if t in kept),
        )
        progress.done("summarize", "done")
        timer.timings["total"] = time.perf_counter() - started
        return AnalysisResult(
            probe=info,
            capture=capture,
            keyframes=keyframes,
            frames=descriptions,
            transcript=transcript,
            evidence=evidence,
            signals=signals,
            findings=findings,
            sections=sections,
            summary=summary,
            timings={k: timer.timings[k] for k in (*STAGES, "total") if k in timer.timings},
        )

    def _describe(
        self, keyframes: list[Keyframe], capture: Capture, timer: _Timer, progress: _Progress
    ) -> list[FrameDescription]:
        progress("describe", 0.0, "describing keyframes")
        options = self.options.describe
        descriptions = timer.run(
            "describe", lambda: describe_keyframes(keyframes, capture, options)
        )
        vlm = self._vlm
        if vlm is not None:
            max_frames = self.options.vlm_max_frames
            descriptions = timer.run(
                "describe",
                lambda: enrich_descriptions(vlm, keyframes, descriptions, max_frames),
            )
        progress.done("describe", f"{len(descriptions)} frames described")
        return descriptions

    @staticmethod
    def _transcript(future: Future[list[TranscriptSegment]] | None) -> list[TranscriptSegment]:
        if future is None:
            return []
        try:
            return list(future.result())
        except PipelineError:
            raise
        except Exception as exc:
            raise StageError(f"transcription failed: {exc}") from exc


def _spread(times: list[float], gap: float = 0.5) -> list[float]:
    """One hint per burst: a failed request and the console lines it causes land within ms."""
    out: list[float] = []
    for t in times:
        if not out or t - out[-1] > gap:
            out.append(t)
    return out


def _checked(
    findings: list[Finding], sections: list[Section], evidence: EvidenceTable
) -> tuple[list[Finding], list[Section]]:
    """Drop any citation or finding evidence id that does not resolve, and findings left bare."""
    kept: list[Finding] = []
    for finding in findings:
        ids = tuple(i for i in finding.evidence_ids if i in evidence)
        if len(ids) != len(finding.evidence_ids):
            log.warning("finding %r cited missing evidence", finding.title)
        if ids:
            kept.append(
                Finding(
                    kind=finding.kind,
                    severity=finding.severity,
                    time=finding.time,
                    confidence=finding.confidence,
                    evidence_ids=ids,
                    title=finding.title,
                )
            )
    checked: list[Section] = []
    for section in sections:
        citations: tuple[Citation, ...] = tuple(
            c for c in section.citations if c.evidence_id in evidence
        )
        if len(citations) != len(section.citations):
            log.warning("section %r cited missing evidence", section.title)
        checked.append(
            Section(
                title=section.title,
                start=section.start,
                end=section.end,
                description=section.description,
                citations=citations,
            )
        )
    return kept, checked

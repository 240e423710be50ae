"""The analysis engine: media stages (decode, keyframes, OCR, speech) and reasoning stages.

What the rest of the service uses is exported here: the :class:`Engine` and its options, the
:class:`AnalysisResult`, the errors, the recorder capture's parser and the progress model.
The stages live in subpackages: :mod:`~app.pipeline.media`, :mod:`~app.pipeline.ocr`,
:mod:`~app.pipeline.speech`, :mod:`~app.pipeline.reasoning` and the optional model adapters
of :mod:`~app.pipeline.models`.
"""

from __future__ import annotations

import importlib
import os
from typing import TYPE_CHECKING, Any

# Whisper runs on CTranslate2, whose OpenMP threads spin while they wait for work. The engine
# runs decoding, OCR and speech side by side on few cores, and spinning threads take the cores
# the others need (docs/performance.md). Read when the OpenMP runtime loads, so it is set
# before anything imports it.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

# Exported lazily: the API process imports the progress model and the capture parser, and
# must not load the engine (OpenCV, the OCR and speech runtimes) to do so.
_EXPORTS = {
    "Capture": "app.pipeline.capture",
    "parse_capture": "app.pipeline.capture",
    "Engine": "app.pipeline.engine",
    "EngineOptions": "app.pipeline.engine",
    "MediaInputError": "app.pipeline.errors",
    "PipelineError": "app.pipeline.errors",
    "StageError": "app.pipeline.errors",
    "ChatConfig": "app.pipeline.models.llm",
    "KeyframeOptions": "app.pipeline.options",
    "MediaLimits": "app.pipeline.options",
    "OcrOptions": "app.pipeline.options",
    "TranscribeOptions": "app.pipeline.options",
    "STAGES": "app.pipeline.progress",
    "STAGE_WEIGHTS": "app.pipeline.progress",
    "OverallProgress": "app.pipeline.progress",
    "ProgressCallback": "app.pipeline.progress",
    "DescribeOptions": "app.pipeline.reasoning.options",
    "FindingOptions": "app.pipeline.reasoning.options",
    "SectionOptions": "app.pipeline.reasoning.options",
    "SignalOptions": "app.pipeline.reasoning.options",
    "AnalysisResult": "app.pipeline.result",
    "AnalysisDocument": "app.pipeline.documents",
    "ResultCitation": "app.pipeline.documents",
    "ResultEvidence": "app.pipeline.documents",
    "ResultFinding": "app.pipeline.documents",
    "ResultFrame": "app.pipeline.documents",
    "ResultProbe": "app.pipeline.documents",
    "ResultSection": "app.pipeline.documents",
    "ResultSummary": "app.pipeline.documents",
    "ResultTranscriptSegment": "app.pipeline.documents",
}
__all__ = [
    "STAGES",
    "STAGE_WEIGHTS",
    "AnalysisDocument",
    "AnalysisResult",
    "Capture",
    "ChatConfig",
    "DescribeOptions",
    "Engine",
    "EngineOptions",
    "FindingOptions",
    "KeyframeOptions",
    "MediaInputError",
    "MediaLimits",
    "OcrOptions",
    "OverallProgress",
    "PipelineError",
    "ProgressCallback",
    "ResultCitation",
    "ResultEvidence",
    "ResultFinding",
    "ResultFrame",
    "ResultProbe",
    "ResultSection",
    "ResultSummary",
    "ResultTranscriptSegment",
    "SectionOptions",
    "SignalOptions",
    "StageError",
    "TranscribeOptions",
    "parse_capture",
]

if TYPE_CHECKING:
    from app.pipeline.capture import Capture, parse_capture
    from app.pipeline.documents import (
        AnalysisDocument,
        ResultCitation,
        ResultEvidence,
        ResultFinding,
        ResultFrame,
        ResultProbe,
        ResultSection,
        ResultSummary,
        ResultTranscriptSegment,
    )
    from app.pipeline.engine import Engine, EngineOptions
    from app.pipeline.errors import MediaInputError, PipelineError, StageError
    from app.pipeline.models.llm import ChatConfig
    from app.pipeline.options import KeyframeOptions, MediaLimits, OcrOptions, TranscribeOptions
    from app.pipeline.progress import STAGE_WEIGHTS, STAGES, OverallProgress, ProgressCallback
    from app.pipeline.reasoning.options import (
        DescribeOptions,
        FindingOptions,
        SectionOptions,
        SignalOptions,
    )
    from app.pipeline.result import AnalysisResult


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value

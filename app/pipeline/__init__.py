"""The analysis engine: media stages (decode, keyframes, OCR, speech) and reasoning stages.

What the rest of the service uses is exported here: the :class:`Engine` and its options, the
:class:`AnalysisResult`, the errors, the recorder capture's parser and the progress model.
The stages live in subpackages: :mod:`~app.pipeline.media`, :mod:`~app.pipeline.ocr`,
:mod:`~app.pipeline.speech`, :mod:`~app.pipeline.reasoning` and the optional model adapters
of :mod:`~app.pipeline.models`.
"""

import os

# Whisper runs on CTranslate2, whose OpenMP threads spin while they wait for work. The engine
# runs decoding, OCR and speech side by side on few cores, and spinning threads take the cores
# the others need (docs/performance.md). Read when the OpenMP runtime loads, so it is set
# before anything imports it.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from app.pipeline.capture import Capture, parse_capture
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

__all__ = [
    "STAGES",
    "STAGE_WEIGHTS",
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
    "SectionOptions",
    "SignalOptions",
    "StageError",
    "TranscribeOptions",
    "parse_capture",
]

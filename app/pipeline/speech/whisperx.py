"""WhisperX on CUDA: batched Whisper, then forced alignment for word times.

Used only when the ``whisperx`` package is importable and a CUDA GPU is present; the package
is imported when the recogniser is created, never before.
"""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import Sequence
from typing import Any

from app.pipeline.media.decode import decode_audio
from app.pipeline.options import MediaLimits, TranscribeOptions
from app.pipeline.progress import ProgressCallback, no_progress
from app.pipeline.speech.base import SAMPLE_RATE, is_silent, make_segment
from app.pipeline.speech.vocabulary import vocabulary_prompt
from app.pipeline.types import TranscriptSegment, TranscriptWord


class WhisperXTranscriber:
    """WhisperX on CUDA: batched transcription, then forced alignment for word times."""

    name = "whisperx"

    def __init__(self, options: TranscribeOptions) -> None:
        import whisperx  # optional dependency, only on GPU machines

        self._whisperx = whisperx
        self.options = options
        self._lock = threading.Lock()
        device = options.device if options.device.startswith("cuda") else "cuda"
        self._device = device
        compute = "float16" if options.compute_type == "int8" else options.compute_type
        self._model = whisperx.load_model(
            options.model_dir or options.model_size,
            device,
            compute_type=compute,
            language=options.language,
        )
        self._align: tuple[Any, Any] | None = None

    def transcribe(
        self,
        path: str | os.PathLike[str],
        *,
        vocabulary: Sequence[str] = (),
        progress: ProgressCallback = no_progress,
        limits: MediaLimits | None = None,
    ) -> list[TranscriptSegment]:
        """Transcribe the first audio stream of ``path``; [] when there is none or it is silent."""
        progress("transcribe", 0.0, "decoding audio")
        audio = decode_audio(path, limits or MediaLimits(), sample_rate=SAMPLE_RATE)
        if is_silent(audio):
            progress("transcribe", 1.0, "no audio")
            return []
        o = self.options
        prompt = vocabulary_prompt(vocabulary, o.max_vocabulary_words) if o.use_vocabulary else ""
        with self._lock:
            asr = self._model
            if prompt and hasattr(asr, "options"):
                # The pipeline keeps its decoding options on the instance; set the prompt per call.
                asr.options = dataclasses.replace(asr.options, initial_prompt=prompt)
            result = asr.transcribe(audio, batch_size=o.batch_size, language=o.language)
            progress("transcribe", 0.6, "aligning words")
            language = result.get("language") or o.language or "en"
            if self._align is None:
                self._align = self._whisperx.load_align_model(
                    language_code=language, device=self._device
                )
            model_a, metadata = self._align
            aligned = self._whisperx.align(
                result["segments"],
                model_a,
                metadata,
                audio,
                self._device,
                return_char_alignments=False,
            )
        segments = []
        for seg in aligned.get("segments", []):
            words = [
                TranscriptWord(
                    start=round(float(w["start"]), 3),
                    end=round(float(w["end"]), 3),
                    text=str(w["word"]).strip(),
                    probability=round(float(w.get("score", 0.0)), 4),
                )
                for w in seg.get("words", [])
                if "start" in w and "end" in w and str(w.get("word", "")).strip()
            ]
            if str(seg.get("text", "")).strip():
                segments.append(
                    make_segment(float(seg["start"]), float(seg["end"]), seg["text"], words)
                )
        progress("transcribe", 1.0, f"{len(segments)} segments")
        return segments


def whisperx_available() -> bool:
    """True when WhisperX can be imported and a CUDA GPU is visible."""
    import importlib.util

    if importlib.util.find_spec("whisperx") is None:
        return False
    try:
        import ctranslate2

        devices: int = ctranslate2.get_cuda_device_count()  # ctranslate2 has no type information
        return devices > 0
    except (ImportError, RuntimeError):
        return False

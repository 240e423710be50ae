"""Speech transcription behind one interface, with two engines.

* ``faster-whisper`` (default): CTranslate2 Whisper on CPU, int8, Silero VAD
  (shipped in the faster-whisper wheel) and word timestamps. The model is the
  bundled ``tiny.en`` unless a model directory is configured.
* ``whisperx``: batched Whisper with forced alignment, used only when the
  ``whisperx`` package is importable and a CUDA GPU is present; imported lazily.

Audio is decoded with PyAV (resampled to 16 kHz mono float32) so that
MediaRecorder WebM without a duration header works, and the array is passed
to the recogniser. Words the screen shows (titles, labels, product names)
can be passed as ``vocabulary``; they are given to the recogniser as its
initial prompt, which fixes mishearings of on-screen terms.
"""

from __future__ import annotations

from app.pipeline.errors import StageError
from app.pipeline.options import TranscribeOptions
from app.pipeline.speech.base import SAMPLE_RATE, Transcriber
from app.pipeline.speech.faster_whisper import FasterWhisperTranscriber
from app.pipeline.speech.vocabulary import vocabulary_prompt
from app.pipeline.speech.whisperx import WhisperXTranscriber, whisperx_available

__all__ = [
    "SAMPLE_RATE",
    "Transcriber",
    "make_transcriber",
    "vocabulary_prompt",
    "whisperx_available",
]


def make_transcriber(options: TranscribeOptions) -> Transcriber:
    """Load the configured recogniser once; ``auto`` takes WhisperX only on a CUDA machine."""
    engine = options.engine
    if engine == "auto":
        engine = "whisperx" if whisperx_available() else "faster-whisper"
    if engine == "whisperx":
        if not whisperx_available():
            raise StageError("WhisperX needs the whisperx package and a CUDA GPU")
        return WhisperXTranscriber(options)
    if engine == "faster-whisper":
        return FasterWhisperTranscriber(options)
    raise ValueError(f"unknown transcription engine {options.engine!r}")

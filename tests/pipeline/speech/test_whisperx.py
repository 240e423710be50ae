"""Choosing the recogniser, and WhisperX (GPU only) driven through a stand-in of its module."""

from __future__ import annotations

import numpy as np
import pytest

from app.pipeline import speech
from app.pipeline.options import TranscribeOptions
from app.pipeline.speech import make_transcriber, whisperx_available
from tests.pipeline.factories import media_path


def test_auto_engine_uses_faster_whisper_without_a_gpu() -> None:
    transcriber = make_transcriber(TranscribeOptions(engine="auto"))
    expected = "whisperx" if whisperx_available() else "faster-whisper"
    assert transcriber.name == expected


def test_whisperx_engine_is_driven_through_its_api(monkeypatch: pytest.MonkeyPatch) -> None:
    """WhisperX is optional (GPU only); a stand-in module checks prompt, batching and alignment."""
    import dataclasses
    import sys
    import types

    @dataclasses.dataclass
    class AsrOptions:
        initial_prompt: str | None = None

    calls: dict[str, object] = {}

    class Pipeline:
        options = AsrOptions()

        def transcribe(self, audio: np.ndarray, batch_size: int, language: str | None) -> dict:
            calls["prompt"] = self.options.initial_prompt
            calls["batch_size"] = batch_size
            calls["samples"] = audio.size
            return {
                "language": "en",
                "segments": [{"start": 2.0, "end": 6.5, "text": " Log in please."}],
            }

    fake = types.ModuleType("whisperx")
    fake.load_model = lambda name, device, compute_type, language: (
        calls.update(  # type: ignore[attr-defined]
            model=(name, device, compute_type, language)
        )
        or Pipeline()
    )
    fake.load_align_model = lambda language_code, device: (
        "align-model",
        {"language": language_code},
    )  # type: ignore[attr-defined]

    def align(segments, model, metadata, audio, device, return_char_alignments):  # type: ignore[no-untyped-def]
        calls["aligned"] = (model, device)
        return {
            "segments": [
                {
                    "start": 2.1,
                    "end": 6.4,
                    "text": " Log in please.",
                    "words": [
                        {"word": "Log", "start": 2.1, "end": 2.4, "score": 0.9},
                        {"word": "in", "start": 2.4, "end": 2.6, "score": 0.8},
                        {"word": "please.", "start": 5.9, "end": 6.4, "score": 0.95},
                        {"word": "7"},  # WhisperX leaves unalignable tokens without times
                    ],
                }
            ]
        }

    fake.align = align  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "whisperx", fake)
    monkeypatch.setattr(speech, "whisperx_available", lambda: True)

    transcriber = make_transcriber(TranscribeOptions(engine="auto"))
    assert transcriber.name == "whisperx"
    assert calls["model"] == ("tiny.en", "cuda", "float16", "en")
    segments = transcriber.transcribe(
        media_path("login-500", "webm"), vocabulary=["Log in", "Sign in"]
    )
    assert calls["prompt"] == "Log in, Sign in."
    assert calls["batch_size"] == 16 and calls["aligned"] == ("align-model", "cuda")
    assert abs(int(calls["samples"]) / 16000 - 42.0) < 0.1
    assert [(s.start, s.end, s.text) for s in segments] == [(2.1, 6.4, "Log in please.")]
    assert [w.text for w in segments[0].words] == ["Log", "in", "please."]

"""Time the media stages on the fixture recordings (models loaded once, as in a warm worker).

Usage: python -m bench.media_stages

Prints, per fixture and container: pure PyAV decode of every video frame,
probe, the keyframe pass (decode + change detection), OCR of the keyframes,
transcription, and the process's peak RSS.
"""

from __future__ import annotations

import json
import resource
import time
from pathlib import Path

import av

from app.pipeline import KeyframeOptions, MediaLimits, OcrOptions, TranscribeOptions
from app.pipeline.media.keyframes import KeyframeHints, extract_keyframes
from app.pipeline.media.probe import probe
from app.pipeline.ocr import make_ocr, ocr_keyframes
from app.pipeline.speech import make_transcriber

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"


def pure_decode(path: Path) -> float:
    """Seconds to decode every video frame with threaded PyAV and nothing else."""
    started = time.perf_counter()
    with av.open(str(path)) as container:
        stream = container.streams.video[0]
        stream.thread_type = "AUTO"
        for _ in container.decode(stream):
            pass
    return time.perf_counter() - started


def hints(create: dict) -> KeyframeHints:
    clicks = [a["timestamp"] / 1000 for a in create.get("actions", []) if a.get("type") == "click"]
    state = create.get("browserState", {})
    errors = [
        c["timestamp"] / 1000 for c in state.get("consoleLogs", []) if c.get("level") == "error"
    ]
    return KeyframeHints(click_times=clicks, error_times=errors)


def main() -> None:
    t0 = time.perf_counter()
    ocr = make_ocr(OcrOptions())
    transcriber = make_transcriber(TranscribeOptions())
    print(
        f"models loaded in {time.perf_counter() - t0:.2f} s "
        f"(ocr={ocr.name}, asr={transcriber.name})"
    )
    print(
        "fixture            ctr  dur(s) decode probe keyframes(n) ocr  transcribe  sum  x-realtime"
    )
    for fx in sorted(p for p in DATA.iterdir() if (p / "truth.json").exists()):
        create = json.loads((fx / "create.json").read_text())
        for ctr in ("webm", "mp4"):
            path = fx / f"recording.{ctr}"
            dec = pure_decode(path)
            t = time.perf_counter()
            info = probe(path, MediaLimits())
            t_probe = time.perf_counter() - t
            t = time.perf_counter()
            kfs = extract_keyframes(path, info, KeyframeOptions(), MediaLimits(), hints(create))
            t_kf = time.perf_counter() - t
            t = time.perf_counter()
            ocr_keyframes(kfs, ocr)
            t_ocr = time.perf_counter() - t
            t = time.perf_counter()
            transcriber.transcribe(path, vocabulary=[create["metadata"].get("title", "")])
            t_asr = time.perf_counter() - t
            total = t_probe + t_kf + t_ocr + t_asr
            print(
                f"{fx.name:18s} {ctr:4s} {info.duration:6.1f} {dec:6.2f} {t_probe:5.2f} "
                f"{t_kf:6.2f}({len(kfs):2d}) {t_ocr:5.2f} {t_asr:8.2f} {total:6.2f} "
                f"{info.duration / total:6.1f}",
                flush=True,
            )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak RSS {peak:.0f} MiB")


if __name__ == "__main__":
    main()

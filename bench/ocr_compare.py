"""Compare the OCR engines on the fixture recordings: speed and recall of the truth strings.

Usage: python -m bench.ocr_compare [--engines tesseract,rapidocr,hybrid] [--out table.md]

For each fixture the keyframes are extracted once (with the click and error
hints from create.json), then every engine reads them the way the pipeline
does (changed regions only, unchanged lines carried forward). Recall counts a
truth string as found when a fuzzy match (>= 85/100, spacing ignored) exists:
page keyText in the keyframes of that page; onScreenText in the keyframes on
screen from its time to 1.5 s later.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from app.pipeline import KeyframeOptions, MediaLimits, OcrOptions
from app.pipeline.media.keyframes import KeyframeHints, extract_keyframes
from app.pipeline.media.probe import probe
from app.pipeline.ocr import make_ocr, ocr_keyframes
from app.pipeline.types import Keyframe
from tests.support.text import fuzzy_contains

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"
THRESHOLD = 85.0


def hints_from_create(create: dict) -> KeyframeHints:
    """Click and error times (seconds) from a recorder upload body."""
    clicks = [a["timestamp"] / 1000 for a in create.get("actions", []) if a.get("type") == "click"]
    state = create.get("browserState", {})
    errors = [
        c["timestamp"] / 1000 for c in state.get("consoleLogs", []) if c.get("level") == "error"
    ]
    errors += [
        r["timestamp"] / 1000
        for r in state.get("networkRequests", [])
        if int(r.get("status", 0)) >= 400
    ]
    return KeyframeHints(click_times=clicks, error_times=sorted(errors))


def frames_between(keyframes: list[Keyframe], start: float, end: float) -> list[Keyframe]:
    """Keyframes on screen at some moment of [start, end]."""
    shown = [k for k in keyframes if k.timestamp <= start]
    current = shown[-1:] if shown else []
    return current + [k for k in keyframes if start < k.timestamp <= end]


def recall(keyframes: list[Keyframe], truth: dict) -> tuple[int, int, list[str]]:
    found, total, missed = 0, 0, []
    for page in truth["pages"]:
        texts = [
            ln.text
            for k in frames_between(keyframes, page["start"], page["end"] - 0.05)
            for ln in k.lines
        ]
        for s in page["keyText"]:
            total += 1
            if fuzzy_contains(texts, s) >= THRESHOLD:
                found += 1
            else:
                missed.append(s)
    for item in truth["onScreenText"]:
        texts = [
            ln.text for k in frames_between(keyframes, item["t"], item["t"] + 1.5) for ln in k.lines
        ]
        total += 1
        if fuzzy_contains(texts, item["text"]) >= THRESHOLD:
            found += 1
        else:
            missed.append(item["text"])
    return found, total, missed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--engines", default="tesseract,rapidocr,hybrid")
    parser.add_argument("--out", default=None, help="write a markdown table here")
    args = parser.parse_args()
    rows = []
    fixtures = sorted(p for p in DATA.iterdir() if (p / "truth.json").exists())
    prepared = []
    for fx in fixtures:
        video = fx / "recording.webm"
        info = probe(video, MediaLimits())
        hints = hints_from_create(json.loads((fx / "create.json").read_text()))
        kfs = extract_keyframes(video, info, KeyframeOptions(), MediaLimits(), hints)
        prepared.append((fx.name, json.loads((fx / "truth.json").read_text()), kfs))
    for engine_name in args.engines.split(","):
        engine = make_ocr(OcrOptions(engine=engine_name))  # type: ignore[arg-type]
        for name, truth, kfs in prepared:
            for k in kfs:
                k.lines = []
            t0 = time.perf_counter()
            ocr_keyframes(kfs, engine)
            elapsed = time.perf_counter() - t0
            found, total, missed = recall(kfs, truth)
            t0 = time.perf_counter()
            engine.read(kfs[0].image)
            full = time.perf_counter() - t0
            rows.append(
                (
                    engine_name,
                    name,
                    len(kfs),
                    elapsed,
                    elapsed / len(kfs),
                    found,
                    total,
                    missed,
                    full,
                )
            )
            print(
                f"{engine_name:10s} {name:18s} keyframes={len(kfs):3d} total={elapsed:6.2f}s "
                f"per_kf={elapsed / len(kfs):5.3f}s full_frame={full:5.2f}s recall={found}/{total} "
                f"missed={missed}",
                flush=True,
            )
    if args.out:
        lines = [
            "| engine | fixture | keyframes | OCR seconds | s / keyframe | s / full frame "
            "| recall | missed |",
            "|---|---|---|---|---|---|---|---|",
        ]
        for e, n, k, el, per, f, t, m, full in rows:
            lines.append(
                f"| {e} | {n} | {k} | {el:.2f} | {per:.3f} | {full:.2f} "
                f"| {f}/{t} ({100 * f / t:.0f}%) | "
                f"{'; '.join(m) or '-'} |"
            )
        Path(args.out).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()

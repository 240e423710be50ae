"""Word error rate of the transcriber with and without the screen's vocabulary.

Usage: python -m bench.wer_vocabulary [--out docs/transcription.md]

The vocabulary is what the orchestrator knows about the screen: page titles,
the truth's key on-screen strings and the labels of clicked elements.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

from app.pipeline import TranscribeOptions
from app.pipeline.speech import make_transcriber, vocabulary_prompt
from tests.support.text import word_error_rate

DATA = Path(__file__).resolve().parent.parent / "tests" / "data"


def vocabulary(folder: Path) -> list[str]:
    truth = json.loads((folder / "truth.json").read_text())
    create = json.loads((folder / "create.json").read_text())
    words = [p["title"] for p in truth["pages"]] + [k for p in truth["pages"] for k in p["keyText"]]
    return words + [a["text"] for a in create.get("actions", []) if a.get("text")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default=None)
    args = parser.parse_args()
    transcriber = make_transcriber(TranscribeOptions())
    rows = []
    for folder in sorted(p for p in DATA.iterdir() if (p / "truth.json").exists()):
        truth = json.loads((folder / "truth.json").read_text())
        reference = " ".join(s["text"] for s in truth["speech"])
        for ctr in ("webm", "mp4"):
            path = folder / f"recording.{ctr}"
            result = {}
            for label, words in (("without", []), ("with", vocabulary(folder))):
                started = time.perf_counter()
                segments = transcriber.transcribe(path, vocabulary=words)
                elapsed = time.perf_counter() - started
                hypothesis = " ".join(s.text for s in segments)
                result[label] = (word_error_rate(reference, hypothesis), elapsed, hypothesis)
            rows.append(
                (
                    folder.name,
                    ctr,
                    truth["duration"],
                    result,
                    vocabulary_prompt(vocabulary(folder), 60),
                )
            )
            print(
                f"{folder.name:18s} {ctr:4s} WER without={result['without'][0]:.3f} "
                f"({result['without'][1]:.2f}s) with={result['with'][0]:.3f} "
                f"({result['with'][1]:.2f}s)",
                flush=True,
            )
    if args.out:
        lines = [
            "| fixture | container | WER without vocabulary | WER with vocabulary "
            "| seconds (without / with) | x realtime (with) |",
            "|---|---|---|---|---|---|",
        ]
        for name, ctr, duration, r, _ in rows:
            lines.append(
                f"| {name} | {ctr} | {100 * r['without'][0]:.1f}% | {100 * r['with'][0]:.1f}% | "
                f"{r['without'][1]:.2f} / {r['with'][1]:.2f} | {duration / r['with'][1]:.0f}x |"
            )
        lines.append("")
        for name, ctr, _, r, prompt in rows:
            lines.append(
                f'- {name} {ctr}: prompt `{prompt}`; without: "{r["without"][2]}"; '
                f'with: "{r["with"][2]}"'
            )
        Path(args.out).write_text("\n".join(lines) + "\n")


if __name__ == "__main__":
    main()

"""Text measures for judging the pipeline's output, shared by its tests and benchmarks.

Normalisation for comparing OCR output and transcripts with reference text,
a fuzzy "does this text contain that string" test, and word error rate.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterable, Sequence

from rapidfuzz import fuzz
from rapidfuzz.distance import Levenshtein

_PUNCT_TRANSLATION = str.maketrans(
    {
        "\u2018": "'",
        "\u2019": "'",
        "\u201c": '"',
        "\u201d": '"',
        "\u2013": "-",
        "\u2014": "-",
        "\u00a0": " ",
    }
)
_ONES = [
    "zero",
    "one",
    "two",
    "three",
    "four",
    "five",
    "six",
    "seven",
    "eight",
    "nine",
    "ten",
    "eleven",
    "twelve",
    "thirteen",
    "fourteen",
    "fifteen",
    "sixteen",
    "seventeen",
    "eighteen",
    "nineteen",
]
_TENS = ["_", "_", "twenty", "thirty", "forty", "fifty", "sixty", "seventy", "eighty", "ninety"]


def normalise(text: str) -> str:
    """Case-fold, unify quotes/dashes and collapse whitespace (for OCR comparisons)."""
    text = unicodedata.normalize("NFKC", text).translate(_PUNCT_TRANSLATION).casefold()
    return " ".join(text.split())


def _number_words(n: int) -> str:
    if n < 20:
        return _ONES[n]
    if n < 100:
        tens, ones = divmod(n, 10)
        return _TENS[tens] + (f" {_ONES[ones]}" if ones else "")
    if n < 1000:
        hundreds, rest = divmod(n, 100)
        return f"{_ONES[hundreds]} hundred" + (f" {_number_words(rest)}" if rest else "")
    if n < 1_000_000:
        thousands, rest = divmod(n, 1000)
        return f"{_number_words(thousands)} thousand" + (f" {_number_words(rest)}" if rest else "")
    return " ".join(_ONES[int(d)] for d in str(n))


def _spell_numbers(text: str) -> str:
    def money(m: re.Match[str]) -> str:
        return f"{m.group(1)} dollars"

    text = re.sub(r"\$(\d+)(?:\.00)?\b", money, text)
    return re.sub(r"\d+", lambda m: _number_words(int(m.group(0))), text)


def speech_words(text: str) -> list[str]:
    """Words of spoken text for WER: case-folded, numbers spelled out, punctuation dropped."""
    text = unicodedata.normalize("NFKC", text).translate(_PUNCT_TRANSLATION).casefold()
    text = _spell_numbers(text)
    text = re.sub(r"[-/]", " ", text)
    text = re.sub(r"[^\w' ]+", " ", text)
    return [w.strip("'") for w in text.split() if w.strip("'")]


def word_error_rate(reference: str | Sequence[str], hypothesis: str | Sequence[str]) -> float:
    """(substitutions + deletions + insertions) / reference words, over :func:`speech_words`."""
    ref = speech_words(reference) if isinstance(reference, str) else list(reference)
    hyp = speech_words(hypothesis) if isinstance(hypothesis, str) else list(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    return Levenshtein.distance(ref, hyp) / len(ref)


def fuzzy_contains(haystack: Iterable[str], needle: str) -> float:
    """Best similarity (0..100) of ``needle`` to a stretch of any haystack text.

    Texts are normalised and compared without spaces, so OCR's spacing
    quirks ("$49 /mo") do not count against a match; adjacent haystack
    entries are also tried joined, for strings an engine split in two.
    """
    target = normalise(needle).replace(" ", "")
    if not target:
        return 100.0
    texts = [normalise(t).replace(" ", "") for t in haystack]
    candidates = texts + [a + b for a, b in itertools.pairwise(texts)]
    best = 0.0
    for text in candidates:
        if not text:
            continue
        if target in text:
            return 100.0
        if len(text) < len(target):
            score = fuzz.ratio(target, text)
        else:
            score = fuzz.partial_ratio(target, text)
        best = max(best, score)
    return best

"""The screen's words as the recogniser's prompt: short on-screen names, no numbers, no prose.

Words the screen shows (titles, labels, product names) are given to the recogniser as its
initial prompt, which fixes mishearings of on-screen terms.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

_PROMPT_MAX_CHARS = 400  # Whisper's prompt is capped at ~224 tokens; keep well under
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

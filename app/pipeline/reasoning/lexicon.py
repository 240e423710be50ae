"""Words the reasoning stages look for: error wording, money, spoken numbers.

Kept in one place so the describe, evidence and signal stages agree on what
an "error-ish" line or a "price" is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from difflib import SequenceMatcher

ERROR_WORDS_RE = re.compile(
    r"\b(error|errors|failed|fails|failure|invalid|incorrect|wrong|denied|unable|cannot|can't|"
    r"couldn't|could not|not found|unavailable|expired|declined|rejected|forbidden|unauthori[sz]ed|"
    r"timed out|timeout|try again|went wrong|something wrong|a problem|oops|not allowed|exception|"
    r"(?:is|are) required|required field)\b",
    re.IGNORECASE,
)
"""Words that make an on-screen line read as an error message."""

PROBLEM_SPEECH_RE = re.compile(
    r"\b(error|errors|failed|fails|failing|broken|broke|invalid|wrong|doesn't work|does not work|"
    r"didn't work|did not work|not working|isn't working|won't (?:load|work|let)|can't|cannot|"
    r"couldn't|unable|stuck|nothing happens|nothing happened|still says|weird|strange|confusing|"
    r"frustrating)\b",
    re.IGNORECASE,
)
"""Words with which a user says aloud that something went wrong."""

# "X, but it said Y": a contrast plus a reference to what was said or expected.
_CONTRAST_RE = re.compile(r"\b(but|though|however|instead)\b", re.IGNORECASE)
_EXPECTATION_RE = re.compile(
    r"\b(said|says|saying|supposed|should|expected|thought|was)\b", re.IGNORECASE
)

_CURRENCY_SYMBOLS = {"$": "USD", "€": "EUR", "£": "GBP", "¥": "JPY", "₹": "INR"}
_CURRENCY_WORDS = {
    "dollar": "USD",
    "dollars": "USD",
    "usd": "USD",
    "bucks": "USD",
    "euro": "EUR",
    "euros": "EUR",
    "eur": "EUR",
    "pound": "GBP",
    "pounds": "GBP",
    "gbp": "GBP",
}

MONEY_RE = re.compile(
    r"(?P<sym>[$€£¥₹])\s?(?P<num>\d{1,3}(?:[,\s]\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)"
    r"|(?P<num2>\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)\s?(?P<word>dollars?|usd|euros?|eur|pounds?|gbp|bucks)\b",
    re.IGNORECASE,
)
_PERIOD_RE = re.compile(
    r"^\s*(?:/|per\s+|a\s+|an\s+|each\s+)\s*(?P<p>mo|month|yr|year|annum|user|seat|day|week|wk)\b",
    re.IGNORECASE,
)
PERCENT_RE = re.compile(r"(?P<num>\d+(?:\.\d+)?)\s?(?:%|percent\b)", re.IGNORECASE)

_PERIODS = {
    "mo": "month",
    "month": "month",
    "yr": "year",
    "year": "year",
    "annum": "year",
    "user": "user",
    "seat": "user",
    "day": "day",
    "week": "week",
    "wk": "week",
}


def normalize(text: str) -> str:
    """Lower-case, punctuation to spaces (keeping money and decimals), spaces collapsed."""
    text = text.lower().replace("’", "'")
    text = re.sub(r"[^\w$€£%.'/]+", " ", text)
    text = re.sub(r"(?<!\d)\.|\.(?!\d)", " ", text)
    return " ".join(text.split())


_STRAY = " \t'\"‘’“”`´|•·»«▶◀›‹~_*"


def tidy(text: str) -> str:
    """OCR text for quoting: spaces collapsed, stray quotes and bullets trimmed from the ends."""
    return " ".join(text.split()).strip(_STRAY)


def similar(a: str, b: str, *, normalized: bool = False, threshold: float = 0.85) -> bool:
    """Whether two readings are the same text up to OCR noise."""
    if not normalized:
        a, b = normalize(a), normalize(b)
    if a == b:
        return True
    if not a or not b:
        return False
    # Length and character-bag bounds reject most pairs before the quadratic ratio.
    if min(len(a), len(b)) * 2 / (len(a) + len(b)) < threshold:
        return False
    matcher = SequenceMatcher(None, a, b, autojunk=False)
    return matcher.quick_ratio() >= threshold and matcher.ratio() >= threshold


def is_problem_speech(text: str) -> bool:
    """Whether a transcript segment says that something went wrong or looks off."""
    if PROBLEM_SPEECH_RE.search(text):
        return True
    return bool(_CONTRAST_RE.search(text)) and bool(_EXPECTATION_RE.search(text))


_UNITS = {
    "zero": 0,
    "oh": 0,
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "thirteen": 13,
    "fourteen": 14,
    "fifteen": 15,
    "sixteen": 16,
    "seventeen": 17,
    "eighteen": 18,
    "nineteen": 19,
}
_TENS = {
    "twenty": 20,
    "thirty": 30,
    "forty": 40,
    "fourty": 40,
    "fifty": 50,
    "sixty": 60,
    "seventy": 70,
    "eighty": 80,
    "ninety": 90,
}
_SCALES = {"hundred": 100, "thousand": 1000, "million": 1_000_000}
_NUMBER_WORD_RE = re.compile(
    r"\b(?:(?:" + "|".join([*_UNITS, *_TENS, *_SCALES, "and", "point"]) + r")(?:[\s-]+|\b))+",
    re.IGNORECASE,
)


def _words_value(words: list[str]) -> float | None:
    total, current, seen = 0, 0, False
    decimals: list[int] | None = None
    for word in words:
        if word == "and":
            continue
        if word == "point":
            decimals = []
            continue
        if decimals is not None:
            if word in _UNITS and _UNITS[word] < 10:
                decimals.append(_UNITS[word])
                continue
            return None
        if word in _UNITS:
            current += _UNITS[word]
        elif word in _TENS:
            current += _TENS[word]
        elif word == "hundred":
            current = max(current, 1) * 100
        elif word in _SCALES:
            total += max(current, 1) * _SCALES[word]
            current = 0
        else:
            return None
        seen = True
    if not seen:
        return None
    value = float(total + current)
    if decimals:
        value += float("0." + "".join(str(d) for d in decimals))
    return value


def spoken_numbers_to_digits(text: str) -> str:
    """Replace runs of number words by digits: "fifty nine dollars" -> "59 dollars"."""

    def repl(match: re.Match[str]) -> str:
        raw = match.group(0)
        words = [w for w in re.split(r"[\s-]+", raw.lower()) if w]
        # Keep a trailing "and"/"point" and lone "oh"/"one" (pronoun use) as words.
        while words and words[-1] in {"and", "point"}:
            words.pop()
        if not words or words in (["oh"], ["one"]) or words[0] in {"and", "point"}:
            return raw
        value = _words_value(words)
        if value is None:
            return raw
        digits = f"{value:g}" if value != int(value) else str(int(value))
        return digits + (" " if raw[-1:].isspace() else "")

    return _NUMBER_WORD_RE.sub(repl, text)


@dataclass(frozen=True, kw_only=True, slots=True)
class Quantity:
    """A money amount or percentage read from text."""

    value: float
    unit: str  # ISO currency code, or "%"
    period: str | None  # "month", "year", "user", ... when the text says "/mo", "per year"
    start: int  # character span in the (digit-normalised) text
    end: int
    explicit_unit: bool = True

    @property
    def display(self) -> str:
        """The value as a person would write it."""
        number = f"{self.value:,.2f}".rstrip("0").rstrip(".")
        if self.unit == "%":
            return f"{number}%"
        symbol = {v: k for k, v in _CURRENCY_SYMBOLS.items()}.get(self.unit, self.unit + " ")
        return f"{symbol}{number}" + (f"/{self.period}" if self.period else "")


def _to_float(raw: str) -> float | None:
    try:
        return float(raw.replace(",", "").replace(" ", ""))
    except ValueError:
        return None


def extract_quantities(text: str, *, spoken: bool = False) -> list[Quantity]:
    """Money amounts and percentages in ``text``.

    With ``spoken`` the text is a transcript: number words become digits, and a
    bare number in a sentence that already names a currency takes that currency
    ("fifty nine dollars, but the homepage said forty nine").
    """
    if spoken:
        text = spoken_numbers_to_digits(text)
    found: list[Quantity] = []
    for match in MONEY_RE.finditer(text):
        if match.group("sym"):
            unit = _CURRENCY_SYMBOLS[match.group("sym")]
            value = _to_float(match.group("num"))
        else:
            unit = _CURRENCY_WORDS[match.group("word").lower()]
            value = _to_float(match.group("num2"))
        if value is None:
            continue
        period_match = _PERIOD_RE.match(text[match.end() :])
        period = _PERIODS[period_match.group("p").lower()] if period_match else None
        found.append(
            Quantity(value=value, unit=unit, period=period, start=match.start(), end=match.end())
        )
    for match in PERCENT_RE.finditer(text):
        value = _to_float(match.group("num"))
        if value is not None:
            found.append(
                Quantity(value=value, unit="%", period=None, start=match.start(), end=match.end())
            )
    if spoken and found:
        currencies = {q.unit for q in found if q.unit != "%"}
        if len(currencies) == 1:
            unit = currencies.pop()
            taken = [(q.start, q.end) for q in found]
            for match in re.finditer(r"(?<![\d.$€£¥₹])\b\d+(?:\.\d+)?\b(?!\s?%)", text):
                if any(s <= match.start() < e for s, e in taken):
                    continue
                value = _to_float(match.group(0))
                if value is not None:
                    found.append(
                        Quantity(
                            value=value,
                            unit=unit,
                            period=None,
                            start=match.start(),
                            end=match.end(),
                            explicit_unit=False,
                        )
                    )
    return sorted(found, key=lambda q: q.start)


# fmt: off
_STOPWORDS = frozenset([
    "a", "an", "the", "and", "or", "but", "of", "to", "for", "from", "in", "on", "at", "by",
    "with", "per", "is", "are", "was", "were", "be", "been", "it", "its", "this", "that", "these",
    "those", "here", "there", "now", "only", "just", "from", "starting", "starts", "start", "as",
    "low", "high", "get", "your", "our", "my", "you", "we", "they", "i", "me", "he", "she", "his",
    "her", "their", "them", "what", "which", "who", "how", "when", "where", "why", "all", "any",
    "some", "no", "not", "so", "if", "then", "than", "too", "very", "can", "will", "would",
    "should", "could", "do", "does", "did", "has", "have", "had", "say", "says", "said", "month",
    "monthly", "mo", "year", "yearly", "annually", "yr", "week", "day", "per", "price", "prices",
    "pricing", "cost", "costs", "plan", "plans", "total", "subtotal", "amount", "pay", "paid",
    "billed", "bill", "billing", "each", "user", "users", "seat", "seats", "off", "save", "only",
    "usd", "eur", "gbp", "dollars", "dollar", "euro", "euros", "pound", "pounds", "hmm", "um",
    "uh", "oh", "well", "like", "okay", "ok", "homepage", "page", "site", "cancel", "anytime"
])
# fmt: on
"""Words too generic to tell one priced thing from another."""


def label_tokens(text: str) -> set[str]:
    """Content words that name what a quantity is about ("Pro", "storage", ...)."""
    words = re.findall(r"[a-zA-Z][a-zA-Z'+-]{1,}", text.lower())
    return {w.strip("'") for w in words if w.strip("'") not in _STOPWORDS and len(w) > 1}

"""Sentence boundaries and citation markers: the one definition every reader of passages and
answers uses (quotes, claim checks, stance, training miners)."""

from __future__ import annotations

import re

# A passage sentence ends at . ! or ? followed by space and a capital, digit or bracket that
# opens the next one ("... 95% CI 0.7-0.9). Mortality ..."); abbreviations such as "e.g. the"
# do not end one (lower case follows).
_PASSAGE_BOUNDARY = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(])")
# Generated text also ends a sentence before a quote, after a citation group followed by a
# capital ("... [1] Mortality ...": small models drop the full stop) and at a line break.
_ANSWER_BOUNDARY = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\"'])|(?<=\])\s+(?=[A-Z])|\n+")
# A citation group: [1], [1, 3], [2-4], [1; 5].
CITATION_GROUP = re.compile(r"\[\s*\d+(?:\s*[,;\u2013\-]\s*\d+)*\s*\]")
_NUMBER = re.compile(r"\d+")
_RANGE = re.compile(r"(\d+)\s*[\u2013\-]\s*(\d+)")


def passage_sentences(text: str) -> list[str]:
    """The sentences of a passage, whitespace collapsed, none empty."""
    return [s.strip() for s in _PASSAGE_BOUNDARY.split(" ".join(text.split())) if s.strip()]


def answer_pieces(text: str) -> list[str]:
    """Generated text cut where a sentence may end (pieces may be empty or a lone citation;
    the caller decides what a statement is)."""
    return _ANSWER_BOUNDARY.split(text)


def citation_numbers(text: str) -> list[int]:
    """Every passage number cited in ``text``, ranges expanded ([2-4] = 2, 3, 4; a range
    wider than 10 is read as its two ends, not a list)."""
    out: list[int] = []
    for group in CITATION_GROUP.findall(text):
        for match in _RANGE.finditer(group):
            lo, hi = int(match.group(1)), int(match.group(2))
            if 0 < hi - lo < 10:
                out.extend(range(lo, hi + 1))
        out.extend(int(n) for n in _NUMBER.findall(_RANGE.sub(" ", group)))
    return out


def without_citations(text: str) -> str:
    return CITATION_GROUP.sub(" ", text)

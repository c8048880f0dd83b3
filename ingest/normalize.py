"""Text normalisation shared by every source (pure functions).

NFKC folds ligatures ("ﬁ" -> "fi") and full-width forms, which otherwise split BM25 terms and
embedder tokens; control characters are dropped; whitespace is made regular.
"""

from __future__ import annotations

import re
import unicodedata

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\u200b\u200c\u200d\ufeff\u00ad]")
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_MANY_NEWLINES = re.compile(r"\n{3,}")


def normalize_text(text: str) -> str:
    """NFKC, no control characters, single spaces, at most one blank line, stripped."""
    text = unicodedata.normalize("NFKC", text)
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _CONTROL.sub("", text)
    text = _SPACES.sub(" ", text)
    text = "\n".join(line.strip() for line in text.split("\n"))
    text = _MANY_NEWLINES.sub("\n\n", text)
    return text.strip()


def normalize_inline(text: str) -> str:
    """Normalise and fold all whitespace, for titles and single-line fields."""
    return " ".join(normalize_text(text).split())

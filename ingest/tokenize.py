"""BM25 tokenisation for biomedical text (pure functions).

Lower-cased NFKC tokens; hyphenated and slashed names ("sglt2-inhibitor", "il-6", "covid-19")
are kept whole *and* split into their parts, so "IL-6" matches both "IL-6" and "IL 6".
Numbers (including decimals) are kept: doses and trial names matter in medicine.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

_TOKEN = re.compile(r"[a-z0-9]+(?:[.,][0-9]+)*(?:[-/][a-z0-9]+(?:[.,][0-9]+)*)*")

STOPWORDS = frozenset(
    """a about above after again against all am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it
    its itself just me more most my myself no nor not now of off on once only or other our ours
    ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself
    yourselves""".split()
)
# "no"/"not"/"nor" matter in clinical questions, but BM25 cannot use negation anyway and they
# are in almost every abstract; keeping them only adds noise to the scores.


@dataclass(frozen=True)
class TokenizerConfig:
    stopwords: bool = True
    stem: bool = False


def tokenize(text: str, config: TokenizerConfig = TokenizerConfig()) -> list[str]:
    text = unicodedata.normalize("NFKC", text).lower()
    tokens: list[str] = []
    for match in _TOKEN.finditer(text):
        token = match.group(0)
        parts = re.split(r"[-/]", token) if ("-" in token or "/" in token) else ()
        for piece in (token, *parts):
            if not piece or (config.stopwords and piece in STOPWORDS):
                continue
            if len(piece) == 1 and not piece.isdigit():
                continue
            tokens.append(light_stem(piece) if config.stem else piece)
    return tokens


def light_stem(token: str) -> str:
    """A conservative English plural stemmer (S-stemmer, Harman 1991)."""
    if len(token) <= 3 or not token.isalpha():
        return token
    if token.endswith("ies") and not token.endswith(("eies", "aies")):
        return token[:-3] + "y"
    if token.endswith("es") and not token.endswith(("aes", "ees", "oes")):
        return token[:-1]
    if token.endswith("s") and not token.endswith(("us", "ss", "is")):
        return token[:-1]
    return token

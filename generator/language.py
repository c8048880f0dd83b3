"""Whether a question is written in a script clinrag's models can read (pure).

Every model clinrag ships (the MiniLM embedder, reranker and heads, SmolLM2) was trained on
English text. A question in Chinese, Arabic or Cyrillic script matches nothing by BM25 and lands
near random passages by embedding; answered anyway, it showed two background sentences with no
verdict and no word of why. Such a question gets an abstention that says so instead.

Only the script is checked, not the language: Latin-script questions in other languages and
terse keyword queries ("aspirin primary prevention elderly") pass, because function-word tests
would refuse legitimate English keyword queries.
"""

from __future__ import annotations

import unicodedata

# Below this share of Latin letters the models cannot read the question. Mixed questions
# ("SGLT2抑制剂 heart failure") fall under it when the non-Latin part carries the meaning.
_MIN_LATIN = 0.5


def _script(char: str) -> str:
    name = unicodedata.name(char, "")
    return name.split(" ")[0] if name else "UNKNOWN"


def unreadable_script(question: str) -> str | None:
    """The script that dominates a question the models cannot read ("CJK", "ARABIC", ...),
    or None when the question is mostly Latin letters (or has too few letters to tell)."""
    letters = [c for c in question if c.isalpha()]
    if len(letters) < 2:
        return None
    scripts = [_script(c) for c in letters]
    if sum(s == "LATIN" for s in scripts) / len(scripts) >= _MIN_LATIN:
        return None
    others = [s for s in scripts if s != "LATIN"]
    return max(set(others), key=others.count)


def language_message(script: str) -> str:
    named = script if len(script) <= 3 else script.title()    # "CJK", "Arabic"
    return (f"the question is written in {named} script; clinrag's models read "
            "English only, so it cannot search or judge the literature for it: please ask "
            "in English")

"""What kind of study a source is, the first thing a clinician weighs (pure).

From PubMed publication types when the record has them; otherwise inferred from the text with
conservative patterns, and marked "(inferred)" so nobody mistakes a guess for curated metadata.
"""

from __future__ import annotations

import re

# Most to least specific: the first match wins.
_FROM_PUBLICATION_TYPE = (
    ("retraction of publication", "retraction notice"),
    ("meta-analysis", "meta-analysis"),
    ("systematic review", "systematic review"),
    ("randomized controlled trial", "randomized controlled trial"),
    ("clinical trial", "clinical trial"),
    ("observational study", "observational study"),
    ("comparative study", "comparative study"),
    ("case reports", "case report"),
    ("practice guideline", "guideline"),
    ("guideline", "guideline"),
    ("review", "review"),
)

_FROM_TEXT = (
    (r"\bmeta-?analys[ie]s\b", "meta-analysis"),
    (r"\bsystematic(ally)? review", "systematic review"),
    (r"\brandomi[sz]ed\b.{0,40}\b(trial|study)\b|\brandomi[sz]ed controlled\b|\bRCT\b",
     "randomized controlled trial"),
    (r"\bcohort (study|analysis)\b|\bprospective(ly)? (followed|cohort|study)\b", "cohort study"),
    (r"\bcase-control\b", "case-control study"),
    (r"\bcross-sectional\b", "cross-sectional study"),
    (r"\bretrospective(ly)?\b", "retrospective study"),
    (r"\bcase report\b|\bwe (report|describe|present) (a|an|the) (case|patient)\b", "case report"),
    (r"\b(mice|murine|rats?|in vitro|cell lines?)\b", "preclinical study"),
)


def study_type(publication_types: tuple[str, ...] | list[str], text: str = "") -> str | None:
    lowered = [t.lower() for t in publication_types]
    for needle, label in _FROM_PUBLICATION_TYPE:
        if any(needle in t for t in lowered):
            return label
    for pattern, label in _FROM_TEXT:
        if re.search(pattern, text, flags=re.IGNORECASE):
            return f"{label} (inferred)"
    return None

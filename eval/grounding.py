"""Citation quality, ALCE-style (Gao et al. 2023), judged by a support model.

For one answer whose sentences cite numbered passages:

- citation recall: the share of sentences that are supported by the concatenation of the
  passages they cite (a sentence citing nothing is unsupported);
- citation precision: the share of citations that are right. A citation of a supported
  sentence is wrong only when it is irrelevant: it does not support the sentence on its own
  and the sentence's other citations support it without it. Every citation of an unsupported
  sentence is wrong.

``judge(pairs)`` returns P(passage supports sentence) for (sentence, passage) pairs; a
probability at or above ``threshold`` counts as support. The judge is passed in, so the
definitions are tested here with a judge whose verdicts are known, and a run pins the name and
version of the real one. The lexical overlap score needs no model: the share of a sentence's
content words found in its cited passages, as a cheap, judge-free cross-check.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from ingest.tokenize import TokenizerConfig, tokenize

Judge = Callable[[list[tuple[str, str]]], np.ndarray]
_WORDS = TokenizerConfig(stopwords=True, stem=True)


@dataclass(frozen=True)
class Cited:
    """An answer sentence and the numbers of the passages it cites."""

    text: str
    citations: tuple[int, ...]


def citation_scores(sentences: Sequence[Cited], passages: dict[int, str], judge: Judge,
                    threshold: float = 0.5) -> dict[str, float | int | None]:
    """ALCE citation recall and precision of one answer (None where undefined)."""
    if not sentences:
        return {"citation_recall": None, "citation_precision": None, "n_sentences": 0,
                "n_citations": 0}
    cites = [tuple(n for n in dict.fromkeys(s.citations) if n in passages) for s in sentences]
    # Round 1: each sentence against all its passages joined, and against each passage alone.
    pairs: list[tuple[str, str]] = []
    joint_at, single_at = {}, {}
    for i, (s, c) in enumerate(zip(sentences, cites)):
        if not c:
            continue
        joint_at[i] = len(pairs)
        pairs.append((s.text, _join(passages, c)))
        if len(c) > 1:
            for n in c:
                single_at[(i, n)] = len(pairs)
                pairs.append((s.text, passages[n]))
    probs = np.asarray(judge(pairs), dtype=float) if pairs else np.zeros(0)
    supported = {i: bool(probs[at] >= threshold) for i, at in joint_at.items()}
    # Round 2: for supported sentences, a citation that fails alone is irrelevant when the
    # sentence stays supported without it.
    loo_pairs: list[tuple[str, str]] = []
    loo_at = {}
    for i, c in enumerate(cites):
        if not supported.get(i) or len(c) < 2:
            continue
        for n in c:
            if probs[single_at[(i, n)]] < threshold:
                loo_at[(i, n)] = len(loo_pairs)
                loo_pairs.append((sentences[i].text, _join(passages, [m for m in c if m != n])))
    loo = np.asarray(judge(loo_pairs), dtype=float) if loo_pairs else np.zeros(0)
    right = 0
    for i, c in enumerate(cites):
        if not supported.get(i):
            continue
        right += sum(1 for n in c if (i, n) not in loo_at or loo[loo_at[(i, n)]] < threshold)
    n_citations = sum(len(c) for c in cites)
    return {
        "citation_recall": sum(supported.values()) / len(sentences),
        "citation_precision": right / n_citations if n_citations else None,
        "n_sentences": len(sentences),
        "n_citations": n_citations,
    }


def lexical_overlap(sentences: Sequence[Cited], passages: dict[int, str]) -> float | None:
    """Mean over sentences of the share of their content words present in their citations."""
    shares = []
    for s in sentences:
        words = set(tokenize(s.text, _WORDS))
        if not words:
            continue
        cited = set(tokenize(_join(passages, [n for n in s.citations if n in passages]), _WORDS))
        shares.append(len(words & cited) / len(words))
    return float(np.mean(shares)) if shares else None


def _join(passages: dict[int, str], numbers) -> str:
    return " ".join(passages[n] for n in numbers)

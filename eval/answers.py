"""Answer scoring: closed labels, exact match, BioASQ factoid/list measures and ROUGE.

Everything here is pure: lists of predictions and golds in, numbers out. Normalisation is the
SQuAD/BioASQ one (lowercase, no punctuation, no articles, single spaces), so "The IL-6." and
"il 6" compare equal.
"""

from __future__ import annotations

import re
import string
from functools import lru_cache

import numpy as np

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_PUNCT = str.maketrans({c: " " for c in string.punctuation})
_ITEM_SPLIT = re.compile(r";|,|\band\b|\bor\b|\n")


def normalize(text: str) -> str:
    text = str(text).lower().translate(_PUNCT)
    return " ".join(_ARTICLES.sub(" ", text).split())


# -- closed labels (yes/no/maybe, multiple choice) ----------------------------------------------
def correct(prediction: str | None, gold: str | None) -> bool:
    return prediction is not None and gold is not None and normalize(prediction) == normalize(gold)


def accuracy(predictions: list[str | None], golds: list[str]) -> float:
    if not golds:
        return float("nan")
    return float(np.mean([correct(p, g) for p, g in zip(predictions, golds)]))


def macro_f1(predictions: list[str | None], golds: list[str], labels: tuple[str, ...]) -> float:
    """Unweighted mean of per-label F1 over ``labels``.

    A prediction outside the labels (an abstention, "insufficient") is wrong for its gold
    label's recall and counts for no label's precision. A label absent from both gold and
    predictions is left out of the mean rather than counted as F1 0 or 1.
    """
    if not golds:
        return float("nan")
    preds = [p if p is None else normalize(p) for p in predictions]
    gold = [normalize(g) for g in golds]
    scores = []
    for label in labels:
        tp = sum(p == label and g == label for p, g in zip(preds, gold))
        n_pred = sum(p == label for p in preds)
        n_gold = sum(g == label for g in gold)
        if n_pred == 0 and n_gold == 0:
            continue
        scores.append(2 * tp / (n_pred + n_gold))
    return float(np.mean(scores)) if scores else float("nan")


def exact_match(prediction: str | None, gold: str | None) -> float:
    return float(correct(prediction, gold))


# -- BioASQ factoid and list ------------------------------------------------------------------
def factoid_scores(candidates: list[str], synonyms: list[list[str]],
                   top: int = 5) -> dict[str, float]:
    """BioASQ factoid measures for one question from a ranked list of candidate answers.

    strict: the first candidate is a gold synonym; lenient: one of the first ``top`` is;
    rr: reciprocal rank of the first correct candidate within ``top`` (0 if none).
    """
    gold = {normalize(s) for group in synonyms for s in group}
    rank = next((i for i, c in enumerate(candidates[:top], start=1) if normalize(c) in gold), None)
    return {"strict": float(rank == 1), "lenient": float(rank is not None),
            "rr": 1.0 / rank if rank else 0.0}


def list_scores(predicted: list[str], items: list[list[str]]) -> dict[str, float]:
    """BioASQ list measures for one question: precision, recall, F1 of predicted items.

    A predicted item is right when it equals a synonym of a gold item not matched before;
    each gold item is matched at most once.
    """
    preds = list(dict.fromkeys(normalize(p) for p in predicted if normalize(p)))
    golds = [{normalize(s) for s in group} for group in items]
    matched: set[int] = set()
    true_pos = 0
    for p in preds:
        hit = next((i for i, g in enumerate(golds) if i not in matched and p in g), None)
        if hit is not None:
            matched.add(hit)
            true_pos += 1
    precision = true_pos / len(preds) if preds else 0.0
    recall = true_pos / len(golds) if golds else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"precision": precision, "recall": recall, "f1": f1}


def mentioned(text: str, synonyms: list[list[str]]) -> list[str]:
    """Gold synonyms (one per gold item) that occur as whole words in ``text``, in text order.

    Used when the answerer gives free text rather than exact answers: each gold item it
    names becomes one predicted item at its first mention.
    """
    norm = f" {normalize(text)} "
    found: list[tuple[int, str]] = []
    for group in synonyms:
        positions = [(norm.find(f" {normalize(s)} "), s) for s in group if normalize(s)]
        positions = [(pos, s) for pos, s in positions if pos >= 0]
        if positions:
            found.append(min(positions))
    return [s for _, s in sorted(found)]


def candidate_items(text: str) -> list[str]:
    """Items a free-text answer lists: its clauses split on , ; and / or (first 100)."""
    return [part.strip() for part in _ITEM_SPLIT.split(str(text)) if part.strip()][:100]


def choose(text: str, choices: tuple[str, ...]) -> str | None:
    """The choice a free-text answer picks: the one whose words it covers best (None: none)."""
    answer = set(normalize(text).split())
    best, best_score = None, 0.0
    for choice in choices:
        words = set(normalize(choice).split())
        score = len(words & answer) / len(words) if words else 0.0
        if score > best_score:
            best, best_score = choice, score
    return best


# -- ROUGE ------------------------------------------------------------------------------------
ROUGE_TYPES = ("rouge1", "rouge2", "rougeL")


@lru_cache(maxsize=1)
def _scorer():
    from rouge_score.rouge_scorer import RougeScorer

    return RougeScorer(list(ROUGE_TYPES), use_stemmer=True)


def rouge(prediction: str, references: tuple[str, ...] | list[str]) -> dict[str, float]:
    """ROUGE-1/2/L F-measure against the best-matching reference (rouge-score, stemmed)."""
    references = [r for r in references if r and r.strip()]
    if not references or not prediction or not prediction.strip():
        return {t: 0.0 for t in ROUGE_TYPES} if references else {}
    scores = _scorer().score_multi(references, prediction)
    return {t: float(scores[t].fmeasure) for t in ROUGE_TYPES}

"""How much of a query a passage covers: a pure retrieval signal over BM25 terms and IDF.

It lives with the retriever because it reads the retriever's tokenizer and IDF; the answerer's
abstention gate (generator/answerability.py) consumes it through ``Retriever.evidence_match``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable


def term_coverage(question_terms: Iterable[str], passage_terms: set[str],
                  idf: Callable[[str], float]) -> float:
    """IDF-weighted share of the distinct question terms that occur in the passage.

    Terms the index has never seen have no IDF and are left out (``idf`` returns 0): a word no
    document uses says nothing about which passage matches. 0.0 when no term carries weight.
    """
    weights = {t: max(0.0, idf(t)) for t in set(question_terms)}
    total = sum(weights.values())
    if total <= 0:
        return 0.0
    return sum(w for t, w in weights.items() if t in passage_terms) / total

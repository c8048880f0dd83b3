"""Retrieval scoring: document rankings against gold documents (ranx) and snippet overlap.

Document metrics are computed by ranx only, never by hand, so the numbers mean what they
mean in every other paper that uses ranx/trec_eval. Snippets are scored the BioASQ way: by
character overlap between retrieved passages and gold snippets in the same document section.
"""

from __future__ import annotations

from collections import defaultdict
from pathlib import Path

import numpy as np

from eval.datasets import GoldSnippet
from retriever.spans import holds_span

DOC_METRICS = ("ndcg@10", "recall@10", "recall@100", "mrr", "mrr@10")
RECALL_CURVE_K = (1, 2, 3, 5, 10, 20, 50, 100)
_EMPTY = "__no_hit__"   # ranx needs at least one document per query


def ranking_scores(doc_ids: list[str]) -> dict[str, float]:
    """A ranked list as ranx scores (strictly decreasing; duplicates keep their first rank)."""
    ranked = list(dict.fromkeys(doc_ids))
    return {d: float(len(ranked) - i) for i, d in enumerate(ranked)} or {_EMPTY: 0.0}


def per_query(qrels: dict[str, dict[str, int]], run: dict[str, dict[str, float]],
              metrics: tuple[str, ...] | list[str] = DOC_METRICS) -> dict[str, dict[str, float]]:
    """metric -> query id -> value, over the queries that have gold documents."""
    from ranx import Qrels, Run, evaluate

    scored = {q: rel for q, rel in qrels.items() if rel}
    if not scored:
        return {m: {} for m in metrics}
    ranx_run = Run({q: run.get(q) or {_EMPTY: 0.0} for q in scored})
    values = evaluate(Qrels(scored), ranx_run, list(metrics), return_mean=False,
                      make_comparable=True)
    if len(metrics) == 1:
        values = {metrics[0]: values}
    # ranx returns arrays in its own (sorted) query order; the run keeps the mapping.
    order = list(ranx_run.scores[metrics[0]].keys())
    return {m: {q: float(v) for q, v in zip(order, np.asarray(values[m]))} for m in metrics}


def write_trec(run: dict[str, dict[str, float]], path: Path, name: str) -> None:
    """The run in TREC format (``qid Q0 doc rank score name``), written by ranx."""
    from ranx import Run

    Run({q: docs or {_EMPTY: 0.0} for q, docs in run.items()}, name=name).save(
        str(path), kind="trec")


# -- snippets ----------------------------------------------------------------------------------
def snippet_overlap(retrieved: list[GoldSnippet], gold: list[GoldSnippet]) -> dict[str, float]:
    """Character-level precision, recall and F1 of retrieved spans against gold snippets.

    Spans are merged per (document, section) first, so overlapping gold snippets are not
    counted twice. Precision is None-free: no retrieved characters gives precision 0.
    """
    got, want = _char_sets(retrieved), _char_sets(gold)
    overlap = sum(len(got[key] & want.get(key, set())) for key in got)
    n_got = sum(len(s) for s in got.values())
    n_want = sum(len(s) for s in want.values())
    precision = overlap / n_got if n_got else 0.0
    recall = overlap / n_want if n_want else 0.0
    f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
    return {"snippet_precision": precision, "snippet_recall": recall, "snippet_f1": f1}


def _char_sets(spans: list[GoldSnippet]) -> dict[tuple[str, str], set[int]]:
    out: dict[tuple[str, str], set[int]] = defaultdict(set)
    for s in spans:
        out[(s.doc_id, s.section.lower())].update(range(s.start, max(s.start, s.end)))
    return out


# -- passages (full-text QA) -------------------------------------------------------------------
PASSAGE_K = (1, 5, 10)


def holds_answer(passage: GoldSnippet, gold: GoldSnippet) -> bool:
    """A passage holds the answer when it covers at least half of the answer's characters,
    or, for an answer longer than the passage, when half of the passage is answer."""
    if (passage.doc_id, passage.section.lower()) != (gold.doc_id, gold.section.lower()):
        return False
    return holds_span((passage.start, passage.end), (gold.start, gold.end))


def passage_scores(ranked: list[GoldSnippet], gold: list[GoldSnippet]) -> dict[str, float]:
    """hit@k (a passage holding an answer span among the first k) and reciprocal rank @10."""
    rank = next((i for i, p in enumerate(ranked[:10], start=1)
                 if any(holds_answer(p, g) for g in gold)), None)
    scores = {f"passage_hit@{k}": float(rank is not None and rank <= k) for k in PASSAGE_K}
    scores["passage_mrr@10"] = 1.0 / rank if rank else 0.0
    return scores

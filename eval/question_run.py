"""One benchmark question through the retriever and the answerer, as one row of a run."""

from __future__ import annotations

import time
from dataclasses import asdict
from typing import TYPE_CHECKING, Any

from eval.corpus import CorpusView
from eval.datasets import Example
from retriever.types import Filters, SearchParams

if TYPE_CHECKING:   # the harness imports this module
    from eval.harness import EvalConfig, Judge


def run_example(example: Example, retriever, doc_params: SearchParams | None,
                passage_params: SearchParams | None, answerer, judge: Judge | None,
                corpus: CorpusView, config: EvalConfig, mode: str, rerank: bool,
                labels: tuple[str, ...]) -> dict[str, Any]:
    """One question's row: the documents and passages ranked for it (with their spans), and
    with answers on, the answer, its scores against the gold answer and its citations
    judged."""
    from retriever.hybrid import QueryError

    row: dict[str, Any] = {
        "id": example.id, "question": example.question, "qtype": example.qtype,
        "gold": example.gold, "relevant_doc_ids": list(example.relevant_doc_ids),
        "gold_snippets": [list(asdict(s).values()) for s in example.gold_snippets] or None,
        "timings_ms": {}, "error": None, "scores": {},
    }
    if doc_params is not None:
        hits = _search(retriever, example.question, doc_params, row, "retrieve", "retrieval")
        row["retrieved"] = [h.doc_id for h in hits]
        row["retrieved_chunk_ids"] = [h.chunk_id for h in hits[:10]]
        row["snippet_spans"] = [corpus.span(h) for h in hits[:10]]
    if passage_params is not None and not row["error"]:
        passages = _search(retriever, example.question, passage_params, row, "passages",
                           "passages")
        row["passage_spans"] = [corpus.span(h) for h in passages]
    if answerer is None:
        return row
    kwargs: dict[str, Any] = {"mode": mode, "rerank": rerank, "verify": config.verify,
                              "max_per_doc": config.max_per_doc}
    if config.setting == "context":
        if not example.relevant_doc_ids:
            row["error"] = "context setting: the question names no gold documents"
            row.update({"prediction": None, "abstained": False, "confidence": None,
                        "correct": False if example.qtype in ("yesno", "multiple_choice")
                        else None})
            return row
        kwargs["filters"] = Filters(doc_ids=tuple(example.relevant_doc_ids))
        kwargs["k"] = min(20, max(1, corpus.chunk_count(example.relevant_doc_ids)))
        # All of a question's own passages must be able to reach the evidence.
        kwargs["max_per_doc"] = 20
    t = time.perf_counter()
    try:
        answer = answerer.answer(example.question, **kwargs)
    except QueryError as exc:
        row["error"] = f"answer: {exc}"
        row.update({"prediction": None, "abstained": False, "confidence": None,
                    "correct": False if example.qtype in ("yesno", "multiple_choice") else None})
        return row
    row["timings_ms"]["answer"] = round((time.perf_counter() - t) * 1000, 1)
    from eval.scoring import score_answer

    t = time.perf_counter()
    row.update(score_answer(example, answer, judge.score if judge else None,
                            judge.threshold if judge else 0.5, labels))
    row["timings_ms"]["judge"] = round((time.perf_counter() - t) * 1000, 1)
    row["answer"] = answer.to_json()
    return row


def _search(retriever, question: str, params: SearchParams, row: dict[str, Any],
            timing: str, stage: str) -> list:
    """The hits of one ranking, timed into ``row``; a refused query is the row's error."""
    from retriever.hybrid import QueryError

    t = time.perf_counter()
    try:
        hits = retriever.search(question, params).hits
    except QueryError as exc:
        hits, row["error"] = [], f"{stage}: {exc}"
    row["timings_ms"][timing] = round((time.perf_counter() - t) * 1000, 1)
    return hits

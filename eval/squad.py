"""SQuAD-format extractive QA (e.g. COVID-QA) as a full-text retrieval benchmark.

Documents are the contexts (ingest/sources/benchmark_json.py reads the same file as a corpus:
one document per context, section "Body", the normalised context as its text). Each question's
gold is its answer span, mapped into that normalised text, so a retrieved chunk "holds the
answer" when its character span covers the answer span (eval/retrieval.py passage metrics).

Answer offsets in the wild are not always exact: in COVID-QA 234 of 1,380 ``answer_start``
values point at the answer without the leading space its ``text`` carries. The span is found
by text, as the occurrence nearest to where the offset says, never trusted blindly
(``answer_span``, shared with the reranker's training data in ingest/sources/benchmark_json.py).
"""

from __future__ import annotations

from typing import Any

from eval.datasets import DatasetError, Example, GoldSnippet
from ingest.normalize import normalize_text
from ingest.sources.benchmark_json import answer_span, is_squad, squad_doc_id

SECTION = "body"


def squad_examples(data: Any, where: str = "squad") -> list[Example]:
    """One example per question; unanswerable (SQuAD 2.0 ``is_impossible``) ones carry no span."""
    if not is_squad(data):
        raise DatasetError(f"{where}: expected SQuAD JSON ({{\"data\": [{{\"paragraphs\": "
                           "[...]}}]}})")
    examples: list[Example] = []
    seen: set[str] = set()
    for a_index, article in enumerate(data["data"], start=1):
        for p_index, paragraph in enumerate(article["paragraphs"], start=1):
            name = f"{where}: article #{a_index} paragraph #{p_index}"
            if not isinstance(paragraph, dict) or not str(paragraph.get("context") or "").strip():
                raise DatasetError(f"{name}: missing field 'context'")
            raw = str(paragraph["context"])
            text = normalize_text(raw)
            doc_id = squad_doc_id(paragraph, text)
            for q_index, qa in enumerate(paragraph.get("qas") or (), start=1):
                examples.append(_example(qa, raw, text, doc_id, f"{name} question #{q_index}",
                                         seen))
    return examples


def _example(qa: Any, raw: str, text: str, doc_id: str, name: str, seen: set[str]) -> Example:
    if not isinstance(qa, dict):
        raise DatasetError(f"{name}: not an object")
    qid = str(qa.get("id") if qa.get("id") is not None else "").strip()
    if not qid:
        raise DatasetError(f"{name}: missing field 'id'")
    name = f"{name} (id {qid})"
    if qid in seen:
        raise DatasetError(f"{name}: duplicate id")
    seen.add(qid)
    question = " ".join(str(qa.get("question") or "").split())
    if not question:
        raise DatasetError(f"{name}: missing field 'question'")
    answers = [a for a in qa.get("answers") or () if isinstance(a, dict)
               and str(a.get("text") or "").strip()]
    if not answers:
        if qa.get("is_impossible"):
            return Example(id=qid, question=question, qtype="open", gold=None,
                           relevant_doc_ids=(doc_id,))
        raise DatasetError(f"{name}: no answer (and not marked is_impossible)")
    spans = []
    for answer in answers:
        span = answer_span(raw, text, str(answer["text"]), answer.get("answer_start"))
        if span is None:
            raise DatasetError(f"{name}: answer {str(answer['text'])[:60]!r} is not in its "
                               "context")
        spans.append(GoldSnippet(doc_id, SECTION, *span))
    gold = normalize_text(str(answers[0]["text"]))
    return Example(id=qid, question=question, qtype="open", gold=gold, ideal=(gold,),
                   relevant_doc_ids=(doc_id,), gold_snippets=tuple(dict.fromkeys(spans)))

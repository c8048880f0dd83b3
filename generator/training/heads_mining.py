"""Mining the verdict and support heads' training pairs from a retrieval index.

Verdict: (question, top passages) labelled with the question's answer where the source
document is among the passages, and "insufficient" where only other documents are. Support:
(sentence, passage) pairs: gold evidence, another document's passage, distorted sentences
against its own gold passage, and sentences quoted from the passage. Splits follow the
question (PubMedQA by PMID, BioASQ by question id), so validation and test questions are never
trained on.
"""

from __future__ import annotations

import csv
import random
import re
from pathlib import Path
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from generator.sentences import passage_sentences
from generator.training.hard_negatives import distortions
from generator.training.held_out import faithfulness_documents
from clinrag.pubmedqa import PubMedQARecord, record_split
from generator.verdict import VERDICT_LABELS, evidence_text
from retriever.bioasq import Question, question_split
from retriever.types import Filters, SearchParams

if TYPE_CHECKING:  # the config lives with the trainer, which imports this module
    from generator.training.heads_train import HeadConfig


@dataclass
class Pair:
    a: str
    b: str
    label: int
    group: str                      # question id, for the split and error analysis
    kind: str = ""                  # where the example came from (for the model card)


@dataclass
class Mined:
    train: list[Pair] = field(default_factory=list)
    val: list[Pair] = field(default_factory=list)
    test: list[Pair] = field(default_factory=list)

    def add(self, split_name: str, pair: Pair) -> None:
        getattr(self, split_name).append(pair)


# -- mining ------------------------------------------------------------------------------
def _gold_passages(retriever, query: str, gold: tuple[str, ...], n: int,
                   vector: np.ndarray | None = None) -> list[str]:
    params = SearchParams(k=n, mode="hybrid", rerank=False, filters=Filters(doc_ids=gold))
    hits = retriever.search(query, params, query_vector=vector).hits
    return [retriever.passage_of(h.chunk_id) for h in hits]


def mine_verdict(retriever, records: list[PubMedQARecord], questions: list[Question],
                 config: HeadConfig) -> Mined:
    """(question, top passages) -> label where the source document is among them; the same
    question with passages from other documents only -> "insufficient"."""
    label_id = {label: i for i, label in enumerate(VERDICT_LABELS)}
    items: list[tuple[str, str, tuple[str, ...], str, str]] = []
    for r in records:
        items.append((r.pmid, r.question, (r.doc_id,), r.decision, record_split(r.pmid)))
    for q in questions:
        answer = q.exact_answer[0] if isinstance(q.exact_answer, list) else q.exact_answer
        answer = str(answer or "").strip().lower()
        if q.qtype == "yesno" and answer in ("yes", "no") and q.gold_doc_ids:
            items.append((q.qid, q.body, q.gold_doc_ids, answer, question_split(q.qid)))
    mined = Mined()
    n = config.evidence_passages
    vectors = retriever.embedder.encode([item[1] for item in items])  # one batched pass
    for (qid, question, gold, label, split_name), vector in zip(items, vectors):
        params = SearchParams(k=config.depth, mode="hybrid", rerank=False)
        hits = retriever.search(question, params, query_vector=vector).hits
        gold_set = set(gold)
        top = hits[:n]
        if any(h.doc_id in gold_set for h in top):
            passages = [retriever.passage_of(h.chunk_id) for h in top]
        else:
            passages = _gold_passages(retriever, question, gold, n, vector)
        if passages:
            mined.add(split_name, Pair(question, evidence_text(passages), label_id[label], qid,
                                       "answerable"))
        others = [retriever.passage_of(h.chunk_id) for h in hits if h.doc_id not in gold_set][:n]
        if others:
            mined.add(split_name, Pair(question, evidence_text(others),
                                       label_id["insufficient"], qid, "distractors"))
    return mined


_WORD = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
def sentences(text: str) -> list[str]:
    return [s for s in passage_sentences(text) if len(s) > 20]


def _overlap(sentence: str, passage: str) -> float:
    words = set(_WORD.findall(sentence.lower()))
    if not words:
        return 0.0
    return len(words & set(_WORD.findall(passage.lower()))) / len(words)


def mine_support(retriever, records: list[PubMedQARecord], questions: list[Question],
                 config: HeadConfig) -> Mined:
    """(sentence, passage) -> 1 when the passage is the sentence's gold evidence; 0 for the
    best-ranked passage of another document and for distorted sentences vs the gold passage.

    Gold passages are looked up directly among the gold documents' chunks and negatives come
    from BM25 (no query embedding), which keeps mining thousands of claims to seconds.
    """
    rng = random.Random(config.seed)
    mined = Mined()
    chunks_of: dict[str, list[str]] = {}
    for chunk in retriever.generation.chunks:
        chunks_of.setdefault(chunk.doc_id, []).append(chunk.chunk_id)
    items: list[tuple[str, list[str], tuple[str, ...], str]] = []
    for r in records:
        items.append((r.pmid, sentences(r.long_answer)[:2], (r.doc_id,), record_split(r.pmid)))
    for q in questions:
        if q.ideal_answer and q.gold_doc_ids:
            items.append((q.qid, sentences(q.ideal_answer)[:2], q.gold_doc_ids,
                          question_split(q.qid)))
    held_out = faithfulness_documents()
    for qid, claims, gold, split_name in items:
        gold_set = set(gold)
        if gold_set & held_out:
            continue    # the faithfulness set's passages are never trained on
        candidates = [retriever.passage_of(c) for d in gold for c in chunks_of.get(d, ())]
        for claim in claims:
            if not candidates:
                break
            best = max(candidates, key=lambda p: _overlap(claim, p))
            if _overlap(claim, best) < 0.35:
                continue  # the gold documents do not visibly carry this sentence
            mined.add(split_name, Pair(claim, best, 1, qid, "gold"))
            hits = retriever.search(claim, SearchParams(k=config.depth, mode="bm25",
                                                        rerank=False)).hits
            other = next((h for h in hits if h.doc_id not in gold_set), None)
            if other is not None:
                mined.add(split_name, Pair(claim, retriever.passage_of(other.chunk_id), 0, qid,
                                           "other document"))
            # Distortions of every kind against the gold passage (generator/training/
            # hard_negatives.py); two kinds per claim, drawn at random, keep the mix balanced.
            other_text = retriever.passage_of(other.chunk_id) if other is not None else ""
            edits = distortions(claim, other_text, rng)
            for kind, edited in rng.sample(edits, min(config.hard_negatives, len(edits))):
                mined.add(split_name, Pair(edited, best, 0, qid, kind))
            # A sentence quoted from the passage itself is supported (extractive answers).
            quoted = [s for s in sentences(best) if len(s) > 40]
            if quoted and rng.random() < 0.6:
                mined.add(split_name, Pair(rng.choice(quoted), best, 1, qid, "quoted"))
    return mined


def healthver_pairs(path: Path) -> Mined:
    """HealthVer (claim, evidence) pairs: Supports -> 1; Refutes and Neutral -> 0 (on-topic
    evidence that does not state the claim). Split by the claim's topic, so no topic is on
    two sides."""
    mined = Mined()
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            label = {"Supports": 1, "Refutes": 0, "Neutral": 0}.get(row["label"].strip())
            if label is None or not row["claim"].strip() or not row["evidence"].strip():
                continue
            topic = f"healthver:{row['topic_ip']}"
            mined.add(question_split(topic), Pair(" ".join(row["claim"].split()),
                                                  " ".join(row["evidence"].split()), label,
                                                  topic, f"healthver {row['label'].lower()}"))
    return mined

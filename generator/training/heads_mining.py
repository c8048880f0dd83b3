"""Mining the verdict and support heads' training pairs from a retrieval index.

Verdict: (question, top passages) labelled with the question's answer where the source
document is among the passages, and "insufficient" where only other documents are. Support:
(sentence, passage) pairs: gold evidence, another document's passage, a perturbed sentence
against its own gold passage, and sentences quoted from the passage. Splits follow the
question (PubMedQA by PMID, BioASQ by question id), so validation and test questions are never
trained on.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from generator.training.pubmedqa import PubMedQARecord, record_split
from generator.verdict import VERDICT_LABELS, evidence_text
from retriever.bioasq import Question, question_split
from retriever.types import Filters

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
    hits = retriever.search(query, n, mode="hybrid", rerank=False,
                            filters=Filters(doc_ids=gold), query_vector=vector)
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
        hits = retriever.search(question, config.depth, mode="hybrid", rerank=False,
                                query_vector=vector)
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


_SENTENCE = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\[])")
_WORD = re.compile(r"[a-z0-9]+(?:-[a-z0-9]+)*")
_NEGATIONS = ((" was not ", " was "), (" were not ", " were "), (" is not ", " is "),
              (" are not ", " are "), (" did not ", " did "), (" does not ", " does "),
              (" no ", " a "), (" increased ", " decreased "), (" decreased ", " increased "),
              (" higher ", " lower "), (" lower ", " higher "), (" improved ", " worsened "),
              (" reduced ", " increased "), (" more ", " less "), (" better ", " worse "))


def sentences(text: str) -> list[str]:
    return [s.strip() for s in _SENTENCE.split(" ".join(text.split())) if len(s.strip()) > 20]


def perturb(sentence: str, rng: random.Random) -> str | None:
    """A minimally edited sentence that the original evidence no longer supports: a flipped
    direction or negation, or a changed number; None if no edit applies."""
    padded = f" {sentence} "
    options = [(a, b) for a, b in _NEGATIONS if a in padded]
    numbers = re.findall(r"\b\d+(?:\.\d+)?\b", sentence)
    if options and (not numbers or rng.random() < 0.6):
        a, b = rng.choice(options)
        return padded.replace(a, b, 1).strip()
    if numbers:
        old = rng.choice(numbers)
        new = str(round(float(old) * rng.choice([2, 3, 0.5]) + 1, 1)).removesuffix(".0")
        return re.sub(rf"\b{re.escape(old)}\b", new, sentence, count=1)
    if " " in sentence and rng.random() < 0.5:
        for verb in (" is ", " are ", " was ", " were ", " can ", " may "):
            if verb in padded:
                return padded.replace(verb, f"{verb.rstrip()} not ", 1).strip()
    return None


def _overlap(sentence: str, passage: str) -> float:
    words = set(_WORD.findall(sentence.lower()))
    if not words:
        return 0.0
    return len(words & set(_WORD.findall(passage.lower()))) / len(words)


def mine_support(retriever, records: list[PubMedQARecord], questions: list[Question],
                 config: HeadConfig) -> Mined:
    """(sentence, passage) -> 1 when the passage is the sentence's gold evidence; 0 for the
    best-ranked passage of another document and for a perturbed sentence vs its gold passage.

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
    for qid, claims, gold, split_name in items:
        gold_set = set(gold)
        candidates = [retriever.passage_of(c) for d in gold for c in chunks_of.get(d, ())]
        for claim in claims:
            if not candidates:
                break
            best = max(candidates, key=lambda p: _overlap(claim, p))
            if _overlap(claim, best) < 0.35:
                continue  # the gold documents do not visibly carry this sentence
            mined.add(split_name, Pair(claim, best, 1, qid, "gold"))
            hits = retriever.search(claim, config.depth, mode="bm25", rerank=False)
            other = next((h for h in hits if h.doc_id not in gold_set), None)
            if other is not None:
                mined.add(split_name, Pair(claim, retriever.passage_of(other.chunk_id), 0, qid,
                                           "other document"))
            edited = perturb(claim, rng)
            if edited and edited != claim:
                mined.add(split_name, Pair(edited, best, 0, qid, "perturbed"))
            # A sentence quoted from the passage itself is supported (extractive answers).
            quoted = [s for s in sentences(best) if len(s) > 40]
            if quoted and rng.random() < 0.3:
                mined.add(split_name, Pair(rng.choice(quoted), best, 1, qid, "quoted"))
    return mined

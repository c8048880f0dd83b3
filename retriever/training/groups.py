"""The reranker's training groups and validation lists, one miner per kind of relevance.

- Abstract snippets (BioASQ): a candidate chunk is relevant when its document is one of the
  question's gold documents.
- Full-text papers (SQuAD format, e.g. COVID-QA): a candidate chunk is relevant when it holds
  the question's answer span (retriever/spans.py, the rule the benchmark scores with). The
  other chunks of the same paper are the hardest negatives there is: same topic, same words,
  no answer; with the per-document cap lifted most candidates are such chunks.

Candidates are the hybrid (dense + BM25) top-N of each question, as the reranker sees them at
query time. Pure functions of a retriever and questions; no training here.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from ingest.sources.benchmark_json import SquadQuestion
from retriever.bioasq import Question
from retriever.spans import chunk_span, holds_span
from retriever.types import SearchParams


ABSTRACTS, FULLTEXT = "abstracts (BioASQ)", "full text (COVID-QA)"


@dataclass
class Example:
    """One training group's material: the query, its relevant and irrelevant passages."""

    query: str
    positives: list[str]
    negatives: list[str]


@dataclass
class RankList:
    """One validation question: its candidates in hybrid order as (chunk id, passage, label)."""

    query: str
    passages: list[tuple[str, str, int]]


@dataclass
class Mined:
    examples: list[Example] = field(default_factory=list)
    lists: dict[str, RankList] = field(default_factory=dict)
    same_doc_negatives: int = 0     # negatives from the paper that holds the answer
    negatives: int = 0


def _candidates(retriever, query: str, depth: int):
    return retriever.search(query, SearchParams(k=depth, mode="hybrid", rerank=False)).hits


def _add(mined: Mined, qid: str, query: str, labelled: list[tuple[str, str, int]]) -> None:
    mined.lists[qid] = RankList(query, labelled)
    pos = [p for _, p, rel in labelled if rel]
    neg = [p for _, p, rel in labelled if not rel]
    if pos and neg:
        mined.examples.append(Example(query, pos, neg))


def mine_documents(retriever, questions: list[Question], depth: int) -> Mined:
    """BioASQ-style: chunks of the gold documents are positives, the rest negatives."""
    mined = Mined()
    for q in questions:
        gold = set(q.gold_doc_ids)
        labelled = [(h.chunk_id, retriever.passage_of(h.chunk_id), int(h.doc_id in gold))
                    for h in _candidates(retriever, q.body, depth)]
        mined.negatives += sum(1 for _, _, rel in labelled if not rel)
        _add(mined, q.qid, q.body, labelled)
    return mined


def mine_spans(retriever, questions: list[SquadQuestion], depth: int) -> Mined:
    """Full text: chunks holding an answer span are positives; every other candidate,
    including the answer paper's other chunks, a negative."""
    generation = retriever.generation
    position = {c.chunk_id: i for i, c in enumerate(generation.chunks)}
    mined = Mined()
    for q in questions:
        labelled = []
        for hit in _candidates(retriever, q.question, depth):
            span = chunk_span(generation, generation.chunks[position[hit.chunk_id]])
            relevant = hit.doc_id == q.doc_id and any(holds_span(span, a) for a in q.spans)
            if not relevant:
                mined.negatives += 1
                mined.same_doc_negatives += hit.doc_id == q.doc_id
            labelled.append((hit.chunk_id, retriever.passage_of(hit.chunk_id), int(relevant)))
        _add(mined, q.qid, q.question, labelled)
    return mined

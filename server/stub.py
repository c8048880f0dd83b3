"""A stand-in answerer that runs no model: for load tests of the service itself.

It answers every question with the same short, cited answer over a two-document in-memory
"index", after an optional fixed delay that plays the part of the models. ``clinrag serve
--stub`` and ``bench/load.py --stub`` use it; what it measures is the HTTP layer, queueing
and limits, never answer quality.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

from clinrag.records import DocumentMeta, Page
from generator.types import Answer, Source, Statement
from ingest.chunk import PageRef
from retriever.hybrid import QueryError
from retriever.types import Filters, Hit, SearchParams, SearchResult, SearchTrace

_DOCS = (
    DocumentMeta("stub:1", "pdf", "Stub trial of drug A in condition B", year=2020,
                 journal="Stub Journal", publication_types=("Randomized Controlled Trial",)),
    DocumentMeta("stub:2", "pubmed", "Stub cohort of drug A", pmid="1", year=2018),
)
_PAGES = {
    "p1": PageRef("p1", "stub:1", Page("Drug A reduced events in condition B. (stub text)", 1)),
    "p2": PageRef("p2", "stub:1", Page("Adverse events were rare. (stub text)", 2)),
    "p3": PageRef("p3", "stub:2", Page("Drug A users had fewer events. (stub text)")),
}


@dataclass
class StubGeneration:
    name: str
    manifest: dict[str, Any] = field(default_factory=lambda: {
        "created": "2026-01-01T00:00:00+00:00", "embedder": {"name": "stub", "dim": 0},
        "counts": {"documents": 2, "pages": 3, "chunks": 3}})
    documents: dict[str, DocumentMeta] = field(
        default_factory=lambda: {d.doc_id: d for d in _DOCS})
    pages: dict[str, PageRef] = field(default_factory=lambda: dict(_PAGES))
    chunks: list[SimpleNamespace] = field(default_factory=lambda: [
        SimpleNamespace(chunk_id=f"c{i}", page_id=page_id)
        for i, page_id in enumerate(_PAGES, 1)])


class StubRetriever:
    def __init__(self, generation: StubGeneration, delay_s: float):
        self.generation = generation
        self.delay_s = delay_s
        self.embedder = None

    def search(self, query: str, params: SearchParams = SearchParams(), *,
               query_vector=None) -> SearchResult:
        if not query.strip():
            raise QueryError("empty query")
        time.sleep(self.delay_s)
        return SearchResult(self.hits(params.k), SearchTrace())

    def hits(self, k: int | None = None) -> list[Hit]:
        hits = []
        for i, ref in enumerate(_PAGES.values(), 1):
            meta = self.generation.documents[ref.doc_id]
            hits.append(Hit(rank=i, chunk_id=f"c{i}", doc_id=ref.doc_id, title=meta.title,
                            text=ref.page.text, page_number=ref.page.number, section=None,
                            start=0, end=len(ref.page.text), score=1.0 / i,
                            source=meta.source, year=meta.year))
        return hits[: k or 10]


class StubAnswerer:
    """Same interface as ``generator.answer.Answerer``; every answer is canned."""

    def __init__(self, delay_s: float = 0.0, generation: str = "g000001"):
        self.delay_s = delay_s
        self.retriever = StubRetriever(StubGeneration(generation), delay_s)
        self.models = {"stub": "0"}
        self.calls = 0

    @property
    def generation_id(self) -> str:
        return self.retriever.generation.name

    def reopen(self) -> StubAnswerer:
        return self

    def answer(self, question: str, *, filters: Filters = Filters(), k: int | None = None,
               mode=None, rerank=None, verify=None, max_per_doc=None) -> Answer:
        if not question.strip():
            raise QueryError("empty question")
        self.calls += 1
        time.sleep(self.delay_s)
        evidence = [Source(n=i, chunk_id=h.chunk_id, doc_id=h.doc_id, title=h.title,
                           text=h.text, page_number=h.page_number, section=h.section,
                           start=h.start, end=h.end, score=h.score, source=h.source,
                           year=h.year)
                    for i, h in enumerate(self.retriever.hits(k or 3), 1)]
        return Answer(
            question=question, verdict="yes", confidence=0.9,
            verdict_probs={"yes": 0.9, "no": 0.05, "maybe": 0.05},
            sentences=[Statement("Drug A reduced events (stub answer).", (1,), 0.95)],
            evidence=evidence, abstained=False, abstention_reason=None,
            index_generation=self.generation_id, models=dict(self.models))

"""The retriever: filters -> dense + BM25 -> reciprocal rank fusion -> cross-encoder -> cap.

``Retriever.open(settings)`` loads one index generation, the query embedder and the reranker
once; ``search`` is then pure computation over them.
"""

from __future__ import annotations

import logging
import math
import time

import numpy as np

from clinrag.models import model_revision
from clinrag.settings import ChunkSettings, RetrieveSettings, Settings
from ingest.chunk import passage_text
from ingest.errors import IndexMismatch
from ingest.store import Generation, IndexStore
from ingest.tokenize import tokenize
from retriever.bm25 import BM25Engine
from retriever.coverage import term_coverage
from retriever.fusion import fuse_rerank, rrf
from retriever.index_view import IndexView
from retriever.types import Filters, Hit, SearchParams, SearchResult, SearchTrace

log = logging.getLogger(__name__)


class QueryError(ValueError):
    """The query itself is unusable (empty, too long)."""


class Retriever:
    """Hybrid search over one opened generation (its ``IndexView``) with the query embedder
    and the reranker. ``Retriever.open(settings)`` opens the current generation and loads the
    models; ``over`` builds the view of a generation already open; the constructor only
    stores, so a view can serve retrievers of other settings (the reranker tests compare
    fusion settings over one view)."""

    def __init__(self, view: IndexView, settings: Settings, embedder, reranker=None):
        self.view = view
        self.settings = settings
        self.config: RetrieveSettings = settings.retrieve
        self.embedder = embedder
        self.reranker = reranker

    @classmethod
    def open(cls, settings: Settings, *, embedder=None, reranker="auto") -> Retriever:
        """Open the current generation; ``reranker``: "auto" (load if enabled), None, or one."""
        generation = IndexStore(settings.index_dir).open()
        if embedder is None:
            from ingest.embed import Embedder

            embedder = Embedder.load(settings.embed)
        if reranker == "auto":
            reranker = load_reranker(settings) if settings.retrieve.rerank else None
        return cls.over(generation, settings, embedder, reranker)

    @classmethod
    def over(cls, generation: Generation, settings: Settings, embedder,
             reranker=None) -> Retriever:
        """A retriever over ``generation``, whose embedder must be the query embedder."""
        check_embedder(generation, settings)
        view = IndexView.build(generation, settings.retrieve.ann_threshold,
                               use_gpu=embedder is not None and embedder.device == "cuda")
        return cls(view, settings, embedder, reranker)

    @property
    def generation(self) -> Generation:
        return self.view.generation

    @property
    def bm25(self) -> BM25Engine:
        return self.view.bm25

    # -- search ----------------------------------------------------------------------------
    def search(self, query: str, params: SearchParams = SearchParams(), *,
               query_vector: np.ndarray | None = None) -> SearchResult:
        """The top ``params.k`` hits and the search's trace; ``query_vector`` is the query's
        embedding when the caller already has it (batch jobs embed all their queries in one
        pass). Nothing of the call is kept on the retriever, so threads may share it."""
        query = " ".join(str(query).split())
        if not query:
            raise QueryError("empty query")
        if len(query) > self.config.max_query_chars:
            raise QueryError(f"query is {len(query)} characters; the limit is "
                             f"{self.config.max_query_chars}")
        k = params.k or self.config.k
        mode = params.mode or self.config.mode
        rerank = self.config.rerank if params.rerank is None else params.rerank
        if rerank and self.reranker is None:
            raise QueryError("reranking was requested but no reranker is loaded")
        filters = params.filters
        trace = SearchTrace()
        depth = max(params.depth or self.config.depth, k)
        mask = self._mask(filters) if filters.active else None
        runs: list[list[int]] = []
        weights: list[float] = []
        scores: dict[str, dict[int, float]] = {"dense": {}, "bm25": {}}

        if mode in ("dense", "hybrid"):
            t = time.perf_counter()
            vector = (self.embedder.encode([query])[0] if query_vector is None
                      else np.asarray(query_vector, dtype=np.float32))
            trace.timings_ms["embed"] = _ms(t)
            t = time.perf_counter()
            allowed = self.view.row_ids[mask] if mask is not None else None
            row_ids, sims = self.view.dense.search(vector, depth, allowed)
            positions = [self.view.row_position[int(r)] for r in row_ids]
            scores["dense"] = dict(zip(positions, map(float, sims)))
            runs.append(positions)
            weights.append(self.config.dense_weight)
            trace.timings_ms["dense"] = _ms(t)
        if mode in ("bm25", "hybrid"):
            t = time.perf_counter()
            positions, bm25_scores = self.bm25.search(query, depth, mask)
            scores["bm25"] = dict(zip(map(int, positions), map(float, bm25_scores)))
            runs.append([int(p) for p in positions])
            weights.append(self.config.bm25_weight)
            trace.timings_ms["bm25"] = _ms(t)
        t = time.perf_counter()
        fused = rrf(runs, k=self.config.rrf_k, weights=weights)
        trace.timings_ms["fuse"] = _ms(t)
        trace.candidates = {"dense": len(scores["dense"]), "bm25": len(scores["bm25"]),
                            "fused": len(fused)}

        ranked: list[tuple[int, float, dict[str, float]]] = []
        for position, fused_score in fused:
            stage = {"rrf": fused_score}
            if position in scores["dense"]:
                stage["dense"] = scores["dense"][position]
            if position in scores["bm25"]:
                stage["bm25"] = scores["bm25"][position]
            ranked.append((position, fused_score, stage))
        if rerank and ranked:
            t = time.perf_counter()
            head = ranked[: params.rerank_top_n or self.config.rerank_top_n]
            passages = [self._passage(p) for p, _, _ in head]
            ce = self.reranker.score(query, passages)
            for (_, _, stage), value in zip(head, ce):
                stage["rerank"] = float(value)
            weight = self.config.rerank_fusion_weight if self.config.rerank_fusion else None
            order = fuse_rerank(list(range(len(head))), ce, weight, self.config.rrf_k)
            # A hit's score is what its rank was decided by: the reranker's logit, or with
            # fusion a score that falls with the fused rank (the logit stays in its stages).
            value = ([float(ce[i]) for i in order] if weight is None else
                     [float(len(order) - r) for r in range(len(order))])
            tail = ranked[len(head):]
            # Candidates past rerank_top_n keep their fused order, scored below every
            # reranked one, so recall at large k is not lost by reranking.
            floor = min(value) - 1.0 if value else 0.0
            ranked = [(head[i][0], v, head[i][2]) for i, v in zip(order, value)] + [
                (p, floor - i / max(1, len(tail)), stage) for i, (p, _, stage) in enumerate(tail)]
            trace.timings_ms["rerank"] = _ms(t)
        hits = self._cap_and_build(ranked, k, params.max_per_doc or self.config.max_per_doc)
        return SearchResult(hits, trace)

    def evidence_match(self, query: str, chunk_ids: list[str],
                       query_vector: np.ndarray | None = None) -> tuple[float, float]:
        """How well the best of these chunks matches the query, as (the largest IDF-weighted
        share of the query's terms found in one chunk, the largest cosine similarity).

        The answerer's abstention gate reads both (generator/answerability.py)."""
        if not chunk_ids:
            return 0.0, 0.0
        bm25 = self.bm25
        query_terms = tokenize(query, bm25.tokenizer)

        def idf(term: str) -> float:
            column = bm25.vocab.get(term)
            return float(bm25.idf[column]) if column is not None else 0.0

        coverage = max(term_coverage(query_terms, set(tokenize(self.passage_of(c),
                                                               bm25.tokenizer)), idf)
                       for c in chunk_ids)
        vector = (self.embedder.encode([query])[0] if query_vector is None
                  else np.asarray(query_vector, dtype=np.float32))
        # The generation's own IndexIDMap2 (never the GPU or HNSW copy) gives stored vectors
        # back by row id; they were normalised at ingest, so the inner product is a cosine.
        index = self.generation.dense
        rows = [self.generation.chunks[self.view.chunk_position[c]].row_id for c in chunk_ids]
        stored = np.stack([index.reconstruct(int(r)) for r in rows])
        similarity = float((stored @ vector.astype(np.float32)).max())
        return coverage, similarity

    def coverage(self, query: str, texts: list[str],
                 context: list[str] | None = None) -> list[float]:
        """For each text, the IDF-weighted share of the query's terms it contains.

        With ``context`` (the evidence passages the texts come from), a term's index IDF is
        also weighted by how few of those passages contain it: every passage retrieved for
        "Should SGLT2 inhibitors be stopped before surgery?" names the drug, so a sentence
        answers the question by naming the surgery, not by naming the drug again."""
        bm25 = self.bm25
        query_terms = tokenize(query, bm25.tokenizer)
        local = [set(tokenize(c, bm25.tokenizer)) for c in context or []]

        def idf(term: str) -> float:
            column = bm25.vocab.get(term)
            weight = float(bm25.idf[column]) if column is not None else 0.0
            if local:
                df = sum(term in terms for terms in local)
                weight *= math.log(1 + len(local) / max(df, 1))
            return weight

        return [term_coverage(query_terms, set(tokenize(t, bm25.tokenizer)), idf)
                for t in texts]

    def passage_of(self, chunk_id: str) -> str:
        """The text the reranker sees for a chunk (title-prefixed like the index text)."""
        return self._passage(self.view.chunk_position[chunk_id])

    def _passage(self, position: int) -> str:
        return self._passage_text(self.generation, position)

    @staticmethod
    def _passage_text(generation: Generation, position: int) -> str:
        """The chunk as the trained models read it (title-prefixed if the index is)."""
        chunk = generation.chunks[position]
        prefix = bool(generation.manifest["chunker"].get("prefix_title", True))
        title = generation.documents[chunk.doc_id].title if prefix else ""
        return passage_text(chunk, title, ChunkSettings(prefix_title=prefix))

    def _cap_and_build(self, ranked, k: int, max_per_doc: int) -> list[Hit]:
        per_doc: dict[str, int] = {}
        hits: list[Hit] = []
        for position, score, stage in ranked:
            chunk = self.generation.chunks[position]
            if per_doc.get(chunk.doc_id, 0) >= max_per_doc:
                continue
            per_doc[chunk.doc_id] = per_doc.get(chunk.doc_id, 0) + 1
            doc = self.view.docs[position]
            hits.append(Hit(
                rank=len(hits) + 1, chunk_id=chunk.chunk_id, doc_id=chunk.doc_id,
                title=doc.title, text=chunk.text, page_number=chunk.page_number,
                section=chunk.section, start=chunk.start, end=chunk.end, score=float(score),
                scores=stage, source=doc.source, year=doc.year, journal=doc.journal,
                pmid=doc.pmid, doi=doc.doi, publication_types=doc.publication_types,
                retracted=doc.retracted,
            ))
            if len(hits) == k:
                break
        return hits

    def _mask(self, filters: Filters) -> np.ndarray:
        n = len(self.view.docs)
        mask = np.ones(n, dtype=bool)
        if filters.year_min is not None:
            mask &= self.view.years >= filters.year_min
        if filters.year_max is not None:
            mask &= (self.view.years <= filters.year_max) & (self.view.years >= 0)
        if filters.sources:
            wanted = set(filters.sources)
            mask &= np.fromiter((d.source in wanted for d in self.view.docs), bool, n)
        if filters.publication_types:
            wanted = {t.lower() for t in filters.publication_types}
            mask &= np.fromiter((any(t.lower() in wanted for t in d.publication_types)
                                 for d in self.view.docs), bool, n)
        if filters.doc_ids:
            wanted = set(filters.doc_ids)
            mask &= np.fromiter((d.doc_id in wanted for d in self.view.docs), bool, n)
        if filters.exclude_retracted:
            mask &= np.fromiter((not d.retracted for d in self.view.docs), bool, n)
        return mask

    def as_langchain_retriever(self, k: int | None = None, **search_kwargs):
        """This retriever as a LangChain ``BaseRetriever``; ``search_kwargs`` are the other
        ``SearchParams`` fields (mode, rerank, filters, ...)."""
        from retriever.langchain import ClinragLangChainRetriever

        return ClinragLangChainRetriever(retriever=self, k=k, search_kwargs=search_kwargs)


def check_embedder(generation: Generation, settings: Settings) -> None:
    """The query embedder must be the one the index was built with."""
    built = generation.manifest["embedder"]
    wanted = {"name": settings.embed.model, "revision": model_revision(settings.embed.model)}
    if (built["name"], built["revision"]) != (wanted["name"], wanted["revision"]):
        raise IndexMismatch(
            f"index {generation.name} was embedded with {built['name']} ({built['revision']}) "
            f"but queries would use {wanted['name']} ({wanted['revision']}); searching would "
            "return wrong results. Use the same embedder or rebuild the index (ingest run "
            "--rebuild).")


def load_reranker(settings: Settings):
    from retriever.rerank import CrossEncoderReranker

    cfg = settings.retrieve
    return CrossEncoderReranker.load(
        cfg.reranker, models_dir=settings.models_dir, device=settings.embed.device,
        precision=settings.embed.precision, max_length=cfg.rerank_max_length,
        batch_size=cfg.rerank_batch_size)


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 3)

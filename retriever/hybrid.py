"""The retriever: filters -> dense + BM25 -> reciprocal rank fusion -> cross-encoder -> cap.

``Retriever.open(settings)`` opens one index generation (a ``ChunkStore``, retriever/store.py:
the local index folder or a Milvus server), the query embedder and the reranker once;
``search`` is then pure computation over them.
"""

from __future__ import annotations

import logging
import math
import time
from dataclasses import replace

import numpy as np

from clinrag.models import model_revision
from clinrag.settings import RetrieveSettings, Settings
from ingest.errors import IndexMismatch
from ingest.store import Generation, IndexStore
from ingest.tokenize import tokenize
from retriever.bm25 import BM25Engine
from retriever.coverage import term_coverage
from retriever.fusion import fuse_rerank
from retriever.index_view import IndexView
from retriever.store import Candidate, ChunkStore, Fusion
from retriever.types import Hit, SearchParams, SearchResult, SearchTrace

log = logging.getLogger(__name__)


class QueryError(ValueError):
    """The query itself is unusable (empty, too long)."""


class Retriever:
    """Hybrid search over one opened generation (its ``IndexView``) with the query embedder
    and the reranker. ``Retriever.open(settings)`` opens the current generation and loads the
    models; ``over`` builds the view of a generation already open; the constructor only
    stores, so a view can serve retrievers of other settings (the reranker tests compare
    fusion settings over one view)."""

    def __init__(self, store: ChunkStore, settings: Settings, embedder, reranker=None):
        self.store = store
        self.settings = settings
        self.config: RetrieveSettings = settings.retrieve
        self.embedder = embedder
        self.reranker = reranker

    @classmethod
    def open(cls, settings: Settings, *, embedder=None, reranker="auto") -> Retriever:
        """Open the current generation of the configured backend (``retrieve.backend``: the
        local index folder, or the generation a Milvus server serves); ``reranker``: "auto"
        (load if enabled), None, or one."""
        if settings.retrieve.backend == "milvus":
            from retriever.milvus_view import MilvusView

            store = MilvusView.open(settings)
            check_embedder(store.name, store.manifest, settings)
        else:
            store = None
            generation = IndexStore(settings.index_dir).open()
        if embedder is None:
            from ingest.embed import Embedder

            embedder = Embedder.load(settings.embed)
        if reranker == "auto":
            reranker = load_reranker(settings) if settings.retrieve.rerank else None
        if store is not None:
            return cls(store, settings, embedder, reranker)
        return cls.over(generation, settings, embedder, reranker)

    @classmethod
    def over(cls, generation: Generation, settings: Settings, embedder,
             reranker=None) -> Retriever:
        """A retriever over a local ``generation``, whose embedder must be the query
        embedder."""
        check_embedder(generation.name, generation.manifest, settings)
        view = IndexView.build(generation, settings.retrieve.ann_threshold,
                               use_gpu=embedder is not None and embedder.device == "cuda")
        return cls(view, settings, embedder, reranker)

    @property
    def view(self) -> IndexView:
        """The local generation's view (training and the evaluation read its tables)."""
        if not isinstance(self.store, IndexView):
            raise IndexMismatch("this needs the local index folder; the retriever reads "
                                f"generation {self.store.name} from Milvus")
        return self.store

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
        trace = SearchTrace()
        depth = max(params.depth or self.config.depth, k)
        vector = None
        if mode in ("dense", "hybrid"):
            t = time.perf_counter()
            vector = (self.embedder.encode([query])[0] if query_vector is None
                      else np.asarray(query_vector, dtype=np.float32))
            trace.timings_ms["embed"] = _ms(t)
        found = self.store.candidates(query, vector, mode, depth, params.filters,
                                      Fusion(self.config.rrf_k, self.config.dense_weight,
                                             self.config.bm25_weight))
        trace.timings_ms.update(found.timings_ms)
        trace.candidates = dict(found.counts)
        ranked = found.ranked
        if rerank and ranked:
            t = time.perf_counter()
            head = ranked[: params.rerank_top_n or self.config.rerank_top_n]
            ce = self.reranker.score(query, [self.store.passage(c.key) for c in head])
            for c, value in zip(head, ce):
                c.stages["rerank"] = float(value)
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
            ranked = [replace(head[i], score=v) for i, v in zip(order, value)] + [
                replace(c, score=floor - i / max(1, len(tail))) for i, c in enumerate(tail)]
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
        tokenizer = self.store.tokenizer
        query_terms = tokenize(query, tokenizer)
        idf = self.store.idf(query_terms)
        coverage = max(term_coverage(query_terms, set(tokenize(self.passage_of(c), tokenizer)),
                                     lambda term: idf.get(term, 0.0))
                       for c in chunk_ids)
        vector = (self.embedder.encode([query])[0] if query_vector is None
                  else np.asarray(query_vector, dtype=np.float32))
        stored = self.store.vectors(chunk_ids)
        similarity = float((stored @ vector.astype(np.float32)).max())
        return coverage, similarity

    def coverage(self, query: str, texts: list[str],
                 context: list[str] | None = None) -> list[float]:
        """For each text, the IDF-weighted share of the query's terms it contains.

        With ``context`` (the evidence passages the texts come from), a term's index IDF is
        also weighted by how few of those passages contain it: every passage retrieved for
        "Should SGLT2 inhibitors be stopped before surgery?" names the drug, so a sentence
        answers the question by naming the surgery, not by naming the drug again."""
        tokenizer = self.store.tokenizer
        query_terms = tokenize(query, tokenizer)
        known = self.store.idf(query_terms)
        local = [set(tokenize(c, tokenizer)) for c in context or []]

        def idf(term: str) -> float:
            weight = known.get(term, 0.0)
            if local:
                df = sum(term in terms for terms in local)
                weight *= math.log(1 + len(local) / max(df, 1))
            return weight

        return [term_coverage(query_terms, set(tokenize(t, tokenizer)), idf) for t in texts]

    def passage_of(self, chunk_id: str) -> str:
        """The text the reranker sees for a chunk (title-prefixed like the index text)."""
        return self.store.passage(self.store.key_of(chunk_id))

    def _cap_and_build(self, ranked: list[Candidate], k: int, max_per_doc: int) -> list[Hit]:
        per_doc: dict[str, int] = {}
        hits: list[Hit] = []
        for c in ranked:
            if per_doc.get(c.doc_id, 0) >= max_per_doc:
                continue
            per_doc[c.doc_id] = per_doc.get(c.doc_id, 0) + 1
            hits.append(self.store.hit(c.key, len(hits) + 1, c.score, c.stages))
            if len(hits) == k:
                break
        return hits

    def as_langchain_retriever(self, k: int | None = None, **search_kwargs):
        """This retriever as a LangChain ``BaseRetriever``; ``search_kwargs`` are the other
        ``SearchParams`` fields (mode, rerank, filters, ...)."""
        from retriever.langchain import ClinragLangChainRetriever

        return ClinragLangChainRetriever(retriever=self, k=k, search_kwargs=search_kwargs)


def check_embedder(name: str, manifest: dict, settings: Settings) -> None:
    """The query embedder must be the one the index was built with."""
    built = manifest["embedder"]
    wanted = {"name": settings.embed.model, "revision": model_revision(settings.embed.model)}
    if (built["name"], built["revision"]) != (wanted["name"], wanted["revision"]):
        raise IndexMismatch(
            f"index {name} was embedded with {built['name']} ({built['revision']}) "
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

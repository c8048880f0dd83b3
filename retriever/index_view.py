"""One index generation opened for search: everything derived from it, computed once.

A view is built when a generation is opened (``Retriever.open``) and never changed after:
the BM25 weights, the dense searcher (the generation's stored HNSW graph, or its exact index
or a GPU copy), and the maps from FAISS row ids and chunk ids to positions. Several
retrievers (other settings, other models) may share one view. It is the local
``ChunkStore`` (retriever/store.py): candidates are found and fused in this process, and a
candidate's key is its chunk's position in the generation's tables.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from clinrag.records import DocumentMeta
from clinrag.settings import ChunkSettings
from ingest.chunk import passage_text
from ingest.store import Generation
from ingest.store.generation import document_paths
from ingest.tokenize import TokenizerConfig
from retriever.bm25 import BM25Engine
from retriever.dense import DenseSearcher
from retriever.fusion import rrf
from retriever.store import Candidate, Candidates, Fusion
from retriever.types import Filters, Hit, Mode


@dataclass(frozen=True)
class IndexView:
    generation: Generation
    bm25: BM25Engine
    dense: DenseSearcher
    row_ids: np.ndarray                 # FAISS row id of each chunk position
    row_position: Any                   # FAISS row id -> chunk position
    chunk_position: dict[str, int]      # chunk id -> chunk position
    years: np.ndarray                   # each chunk's document year (-1: unknown)
    docs: list[DocumentMeta]            # each chunk's document
    paths: dict[str, str]               # doc id -> the file it came from

    @classmethod
    def build(cls, generation: Generation, ann_threshold: int,
              use_gpu: bool = False) -> IndexView:
        sparse = generation.manifest["sparse"]
        chunks = generation.chunks
        docs = [generation.documents[c.doc_id] for c in chunks]
        return cls(
            generation=generation,
            bm25=BM25Engine.build(generation.sparse,
                                  TokenizerConfig(sparse["stopwords"], sparse["stem"])),
            dense=DenseSearcher.build(generation.dense, generation.ann, use_gpu=use_gpu,
                                      ann_threshold=ann_threshold),
            row_ids=np.array([c.row_id for c in chunks], dtype=np.int64),
            row_position=generation.row_position,
            chunk_position={c.chunk_id: i for i, c in enumerate(chunks)},
            years=np.array([d.year if d.year is not None else -1 for d in docs]),
            docs=docs,
            paths=document_paths(generation),
        )

    # -- the ChunkStore interface ----------------------------------------------------------
    @property
    def name(self) -> str:
        return self.generation.name

    @property
    def manifest(self) -> dict[str, Any]:
        return self.generation.manifest

    @property
    def size(self) -> int:
        return len(self.generation.chunks)

    @property
    def tokenizer(self) -> TokenizerConfig:
        return self.bm25.tokenizer

    def candidates(self, query: str, vector: np.ndarray | None, mode: Mode, depth: int,
                   filters: Filters, fusion: Fusion) -> Candidates:
        mask = self.mask(filters) if filters.active else None
        runs: list[list[int]] = []
        weights: list[float] = []
        scores: dict[str, dict[int, float]] = {"dense": {}, "bm25": {}}
        timings: dict[str, float] = {}
        if mode in ("dense", "hybrid"):
            t = time.perf_counter()
            allowed = self.row_ids[mask] if mask is not None else None
            row_ids, sims = self.dense.search(vector, depth, allowed)
            positions = [self.row_position[int(r)] for r in row_ids]
            scores["dense"] = dict(zip(positions, map(float, sims)))
            runs.append(positions)
            weights.append(fusion.dense_weight)
            timings["dense"] = _ms(t)
        if mode in ("bm25", "hybrid"):
            t = time.perf_counter()
            positions, bm25_scores = self.bm25.search(query, depth, mask)
            scores["bm25"] = dict(zip(map(int, positions), map(float, bm25_scores)))
            runs.append([int(p) for p in positions])
            weights.append(fusion.bm25_weight)
            timings["bm25"] = _ms(t)
        t = time.perf_counter()
        fused = rrf(runs, k=fusion.rrf_k, weights=weights)
        timings["fuse"] = _ms(t)
        ranked = []
        for position, fused_score in fused:
            stages = {"rrf": fused_score}
            for run in ("dense", "bm25"):
                if position in scores[run]:
                    stages[run] = scores[run][position]
            ranked.append(Candidate(position, self.generation.chunks[position].doc_id,
                                    fused_score, stages))
        return Candidates(ranked, {"dense": len(scores["dense"]), "bm25": len(scores["bm25"]),
                                   "fused": len(fused)}, timings)

    def passage(self, key: int) -> str:
        return chunk_passage(self.generation, key)

    def hit(self, key: int, rank: int, score: float, stages: dict[str, float]) -> Hit:
        chunk = self.generation.chunks[key]
        doc = self.docs[key]
        return Hit(
            rank=rank, chunk_id=chunk.chunk_id, doc_id=chunk.doc_id,
            title=doc.title, text=chunk.text, page_number=chunk.page_number,
            section=chunk.section, start=chunk.start, end=chunk.end, score=float(score),
            scores=stages, source=doc.source, year=doc.year, journal=doc.journal,
            pmid=doc.pmid, doi=doc.doi, publication_types=doc.publication_types,
            retracted=doc.retracted, path=self.paths.get(chunk.doc_id),
        )

    def key_of(self, chunk_id: str) -> int:
        return self.chunk_position[chunk_id]

    def idf(self, terms: Sequence[str]) -> dict[str, float]:
        vocab = self.bm25.vocab
        return {t: float(self.bm25.idf[vocab[t]]) for t in terms if t in vocab}

    def vectors(self, chunk_ids: Sequence[str]) -> np.ndarray:
        # The generation's own IndexIDMap2 (never the GPU or HNSW copy) gives stored vectors
        # back by row id; they were normalised at ingest, so an inner product is a cosine.
        index = self.generation.dense
        rows = [self.generation.chunks[self.chunk_position[c]].row_id for c in chunk_ids]
        return np.stack([index.reconstruct(int(r)) for r in rows])

    # -- filters ---------------------------------------------------------------------------
    def mask(self, filters: Filters) -> np.ndarray:
        """The chunk positions ``filters`` allow."""
        n = len(self.docs)
        mask = np.ones(n, dtype=bool)
        if filters.year_min is not None:
            mask &= self.years >= filters.year_min
        if filters.year_max is not None:
            mask &= (self.years <= filters.year_max) & (self.years >= 0)
        if filters.sources:
            wanted = set(filters.sources)
            mask &= np.fromiter((d.source in wanted for d in self.docs), bool, n)
        if filters.publication_types:
            wanted = {t.lower() for t in filters.publication_types}
            mask &= np.fromiter((any(t.lower() in wanted for t in d.publication_types)
                                 for d in self.docs), bool, n)
        if filters.doc_ids:
            wanted = set(filters.doc_ids)
            mask &= np.fromiter((d.doc_id in wanted for d in self.docs), bool, n)
        if filters.exclude_retracted:
            mask &= np.fromiter((not d.retracted for d in self.docs), bool, n)
        return mask


def chunk_passage(generation: Generation, position: int) -> str:
    """The chunk at ``position`` as the trained models read it (title-prefixed if the index
    is)."""
    chunk = generation.chunks[position]
    prefix = bool(generation.manifest["chunker"].get("prefix_title", True))
    title = generation.documents[chunk.doc_id].title if prefix else ""
    return passage_text(chunk, title, ChunkSettings(prefix_title=prefix))


def _ms(start: float) -> float:
    return round((time.perf_counter() - start) * 1000, 3)

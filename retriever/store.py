"""The seam between the retriever and where the chunks live.

``Retriever`` (retriever/hybrid.py) asks a ``ChunkStore`` for fused candidates and for what a
hit and the reranker need; everything after that (the cross-encoder, its fusion, the
per-document cap, the answerer) is the same whatever the store. Two stores implement it:

- ``IndexView`` (retriever/index_view.py): one generation of the local index folder, searched
  in process (FAISS + the BM25 matrix, fused here by RRF).
- ``MilvusView`` (retriever/milvus_view.py): one generation published to a Milvus server,
  searched in the engine (a dense and a BM25 request fused by Milvus's RRF ranker).

A candidate's ``key`` is the store's own handle on the chunk (a row position locally, the
chunk id in Milvus); only the store reads it.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from ingest.tokenize import TokenizerConfig
from retriever.types import Filters, Hit, Mode


@dataclass(frozen=True)
class Fusion:
    """How the candidate runs are fused (``retrieve.*``)."""

    rrf_k: int = 60
    dense_weight: float = 1.0
    bm25_weight: float = 1.0


@dataclass
class Candidate:
    key: Hashable                  # the store's handle on the chunk
    doc_id: str
    score: float                   # the fused score
    stages: dict[str, float]       # the score of each stage that found it


@dataclass
class Candidates:
    ranked: list[Candidate]
    counts: dict[str, int] = field(default_factory=dict)     # candidates per run
    timings_ms: dict[str, float] = field(default_factory=dict)


class ChunkStore(Protocol):
    """What the retriever needs of one opened generation, wherever it is stored."""

    name: str                      # the generation ("g000007")
    manifest: dict[str, Any]       # embedder, chunker and tokenizer it was built with
    size: int                      # chunks it holds
    tokenizer: TokenizerConfig     # the BM25 tokenizer (the answerer's term coverage)

    def candidates(self, query: str, vector: np.ndarray | None, mode: Mode, depth: int,
                   filters: Filters, fusion: Fusion) -> Candidates:
        """Up to ``depth`` candidates from each run ``mode`` asks for, fused, best first;
        filtered before ranking, so the top-k is the true top-k of the allowed chunks."""
        ...

    def passage(self, key: Hashable) -> str:
        """The chunk as the trained models read it (title-prefixed where the index is)."""
        ...

    def hit(self, key: Hashable, rank: int, score: float, stages: dict[str, float]) -> Hit:
        ...

    def key_of(self, chunk_id: str) -> Hashable:
        """KeyError for a chunk the generation does not hold."""
        ...

    def idf(self, terms: Sequence[str]) -> dict[str, float]:
        """The BM25 IDF of each term the index knows (unknown terms are left out)."""
        ...

    def vectors(self, chunk_ids: Sequence[str]) -> np.ndarray:
        """The stored (normalised) embeddings of these chunks, in order."""
        ...

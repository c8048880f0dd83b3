"""One index generation opened for search: everything derived from it, computed once.

A view is built when a generation is opened (``Retriever.open``) and never changed after:
the BM25 weights, the dense searcher (an HNSW graph from ``retrieve.ann_threshold`` chunks
on, or a GPU copy), and the maps from FAISS row ids and chunk ids to positions. Several
retrievers (other settings, other models) may share one view.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from clinrag.records import DocumentMeta
from ingest.store import Generation
from ingest.tokenize import TokenizerConfig
from retriever.bm25 import BM25Engine
from retriever.dense import DenseSearcher


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
            dense=DenseSearcher.build(generation.dense, ann_threshold, use_gpu=use_gpu),
            row_ids=np.array([c.row_id for c in chunks], dtype=np.int64),
            row_position=generation.row_position,
            chunk_position={c.chunk_id: i for i, c in enumerate(chunks)},
            years=np.array([d.year if d.year is not None else -1 for d in docs]),
            docs=docs,
        )

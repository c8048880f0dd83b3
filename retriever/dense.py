"""Dense search over the generation's FAISS index.

A generation of ``retrieve.ann_threshold`` chunks or more stores an HNSW graph over its
vectors, built at ingest (ingest/store/dense.py; recall@10 ~0.999 vs exact at 100k with
efSearch 128, bench/latency.py), keyed by the same row ids; below that, or in a generation
written before graphs were stored, the exact index (IndexIDMap2 over IndexFlatIP) is
searched. Nothing is built when an index is opened. Filters become a FAISS IDSelector, so
filtered search is still top-k.
"""

from __future__ import annotations

import logging

import faiss
import numpy as np

from clinrag.device import faiss_gpu_available

log = logging.getLogger(__name__)


class DenseSearcher:
    def __init__(self, index: faiss.Index, kind: str = "flat", ef_search: int = 128):
        self.index = index
        self.kind = kind            # "flat" | "hnsw" | "flat-gpu"
        self.ef_search = ef_search

    @classmethod
    def build(cls, index: faiss.Index, ann: faiss.Index | None = None, ef_search: int = 128,
              use_gpu: bool = False, ann_threshold: int | None = None) -> DenseSearcher:
        """The searcher for a generation: its stored HNSW graph ``ann`` when it has one, else
        the exact index (moved to the GPU when asked and possible). Nothing is built here."""
        if ann is not None:
            return cls(ann, "hnsw", ef_search)
        if ann_threshold is not None and index.ntotal >= ann_threshold:
            log.warning("this generation (%d chunks) stores no HNSW graph (written before "
                        "graphs were stored): exact search; the next `ingest run` adds one",
                        index.ntotal)
        if use_gpu and faiss_gpu_available():
            try:
                resources = faiss.StandardGpuResources()
                return cls(faiss.index_cpu_to_gpu(resources, 0, index), "flat-gpu", ef_search)
            except Exception as exc:  # a GPU build that cannot take this index: stay on CPU
                log.warning("FAISS GPU unavailable (%s); searching on the CPU", exc)
        return cls(index, "flat", ef_search)

    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal)

    def search(self, vector: np.ndarray, k: int,
               allowed: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Row ids and inner-product scores of the ``k`` nearest chunks (within ``allowed``)."""
        if self.ntotal == 0 or k <= 0:
            return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
        k = min(k, self.ntotal)
        query = np.ascontiguousarray(vector.reshape(1, -1), dtype=np.float32)
        params = None
        if allowed is not None:
            if len(allowed) == 0:
                return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.float32)
            selector = faiss.IDSelectorBatch(np.ascontiguousarray(allowed, dtype=np.int64))
            params = (faiss.SearchParametersHNSW(sel=selector, efSearch=max(self.ef_search, k))
                      if self.kind == "hnsw" else faiss.SearchParameters(sel=selector))
        elif self.kind == "hnsw":
            params = faiss.SearchParametersHNSW(efSearch=max(self.ef_search, k))
        scores, ids = self.index.search(query, k, params=params)
        keep = ids[0] != -1
        return ids[0][keep].astype(np.int64), scores[0][keep]

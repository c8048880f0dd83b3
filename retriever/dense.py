"""Dense search over the generation's FAISS index.

Below ``ann_threshold`` chunks the stored exact index (IndexIDMap2 over IndexFlatIP) is
searched directly. From there on an HNSW graph is built over the same vectors when the index
is opened (recall@10 ~0.999 vs exact at 100k with efSearch 128; see bench/latency.py), keyed
by the same row ids. Filters become a FAISS IDSelector, so filtered search is still top-k.
"""

from __future__ import annotations

import logging

import faiss
import numpy as np

from clinrag.device import faiss_gpu_available

log = logging.getLogger(__name__)


def build_hnsw(flat: faiss.Index, m: int = 32, ef_construction: int = 80) -> faiss.Index:
    """An IDMap2(HNSW) with the same vectors and row ids as the flat IDMap2 index."""
    ids = faiss.vector_to_array(flat.id_map).astype(np.int64)
    vectors = flat.index.reconstruct_n(0, flat.ntotal)  # positions of the inner flat index
    hnsw = faiss.IndexHNSWFlat(flat.d, m, faiss.METRIC_INNER_PRODUCT)
    hnsw.hnsw.efConstruction = ef_construction
    index = faiss.IndexIDMap2(hnsw)
    index.add_with_ids(vectors, ids)
    return index


class DenseSearcher:
    def __init__(self, index: faiss.Index, kind: str = "flat", ef_search: int = 128):
        self.index = index
        self.kind = kind            # "flat" | "hnsw" | "flat-gpu"
        self.ef_search = ef_search

    @classmethod
    def build(cls, index: faiss.Index, ann_threshold: int = 50_000, ef_search: int = 128,
              use_gpu: bool = False) -> DenseSearcher:
        """The searcher for a generation's exact index: an HNSW graph over it from
        ``ann_threshold`` vectors on, else the exact index (moved to the GPU when asked and
        possible)."""
        if index.ntotal >= ann_threshold:
            return cls(build_hnsw(index), "hnsw", ef_search)
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

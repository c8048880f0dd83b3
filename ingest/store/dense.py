"""The dense index: FAISS inner-product search over normalised vectors, keyed by row id.

``IndexIDMap2`` over a flat index keeps the chunk row ids as FAISS ids, so a changed or
removed document is a real ``remove_ids`` and new chunks an ``add_with_ids``; no renumbering.
Saved with ``faiss.write_index`` (FAISS's own format, no pickle).

From ``retrieve.ann_threshold`` chunks on, a generation also stores an HNSW graph over the
same vectors and row ids (``ANN_FILE``), built at ingest: opening an index never builds one
(at 1M chunks that took minutes at every start, issue 32).
"""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np


def empty_index(dim: int) -> faiss.Index:
    return faiss.IndexIDMap2(faiss.IndexFlatIP(dim))


def updated(index: faiss.Index, remove: np.ndarray, add_ids: np.ndarray,
            add_vectors: np.ndarray) -> faiss.Index:
    """A copy of ``index`` with ``remove`` ids dropped and the new rows added."""
    fresh = faiss.clone_index(index)
    if len(remove):
        removed = fresh.remove_ids(np.ascontiguousarray(remove, dtype=np.int64))
        if removed != len(remove):
            raise RuntimeError(f"dense index: {len(remove)} ids to remove, {removed} found")
    if len(add_ids):
        fresh.add_with_ids(np.ascontiguousarray(add_vectors, dtype=np.float32),
                           np.ascontiguousarray(add_ids, dtype=np.int64))
    return fresh


ANN_FILE = "dense_ann.faiss"
HNSW_M = 32
HNSW_EF_CONSTRUCTION = 80


def build_hnsw(flat: faiss.Index, m: int = HNSW_M,
               ef_construction: int = HNSW_EF_CONSTRUCTION) -> faiss.Index:
    """An IDMap2(HNSW) with the same vectors and row ids as the flat IDMap2 index."""
    ids = faiss.vector_to_array(flat.id_map).astype(np.int64)
    vectors = flat.index.reconstruct_n(0, flat.ntotal)  # positions of the inner flat index
    hnsw = faiss.IndexHNSWFlat(flat.d, m, faiss.METRIC_INNER_PRODUCT)
    hnsw.hnsw.efConstruction = ef_construction
    index = faiss.IndexIDMap2(hnsw)
    index.add_with_ids(vectors, ids)
    return index


def ann_of(flat: faiss.Index, previous: faiss.Index | None, removed: int,
           add_ids: np.ndarray, add_vectors: np.ndarray, threshold: int) -> faiss.Index | None:
    """The graph a generation stores: None below ``threshold`` vectors; the previous
    generation's graph with the new rows added when nothing was removed (HNSW cannot delete);
    else a new graph over every vector."""
    if flat.ntotal < threshold:
        return None
    if previous is not None and not removed and previous.ntotal + len(add_ids) == flat.ntotal:
        graph = faiss.clone_index(previous)
        if len(add_ids):
            graph.add_with_ids(np.ascontiguousarray(add_vectors, dtype=np.float32),
                               np.ascontiguousarray(add_ids, dtype=np.int64))
        return graph
    return build_hnsw(flat)


def ids_of(index: faiss.Index) -> np.ndarray:
    return faiss.vector_to_array(index.id_map).astype(np.int64)


def save(index: faiss.Index, path: Path) -> None:
    faiss.write_index(index, str(path))


def load(path: Path) -> faiss.Index:
    return faiss.read_index(str(path))

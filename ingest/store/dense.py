"""The dense index: FAISS inner-product search over normalised vectors, keyed by row id.

``IndexIDMap2`` over a flat index keeps the chunk row ids as FAISS ids, so a changed or
removed document is a real ``remove_ids`` and new chunks an ``add_with_ids``; no renumbering.
Saved with ``faiss.write_index`` (FAISS's own format, no pickle).
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


def ids_of(index: faiss.Index) -> np.ndarray:
    return faiss.vector_to_array(index.id_map).astype(np.int64)


def save(index: faiss.Index, path: Path) -> None:
    faiss.write_index(index, str(path))


def load(path: Path) -> faiss.Index:
    return faiss.read_index(str(path))

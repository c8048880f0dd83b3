"""The BM25 index as plain arrays: a term-frequency matrix (rows = chunks in table order) and
a vocabulary, saved as ``.npy`` (loaded with ``allow_pickle=False``) and JSON.

Scoring parameters (k1, b, idf variant) are applied at query time by the retriever, so the
stored matrix is the same whatever BM25 variant is chosen.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp

FILES = ("bm25_indptr.npy", "bm25_indices.npy", "bm25_data.npy", "bm25_vocab.json")


@dataclass
class SparseIndex:
    """``tf[i, j]`` = count of vocabulary term j in chunk row i."""

    tf: sp.csr_matrix
    vocab: list[str]

    @classmethod
    def empty(cls) -> SparseIndex:
        return cls(sp.csr_matrix((0, 0), dtype=np.int32), [])

    @property
    def rows(self) -> int:
        return self.tf.shape[0]

    def updated(self, keep_rows: np.ndarray, new_tokens: list[list[str]]) -> SparseIndex:
        """Keep ``keep_rows`` (in that order) and append rows for ``new_tokens``.

        The vocabulary only grows, so existing column numbers never change.
        """
        vocab = list(self.vocab)
        lookup = {term: j for j, term in enumerate(vocab)}
        indptr, indices, data = [0], [], []
        for tokens in new_tokens:
            counts = Counter(tokens)
            for term, count in counts.items():
                j = lookup.get(term)
                if j is None:
                    j = lookup[term] = len(vocab)
                    vocab.append(term)
                indices.append(j)
                data.append(count)
            indptr.append(len(indices))
        width = len(vocab)
        kept = self.tf[keep_rows] if len(keep_rows) else sp.csr_matrix((0, width), dtype=np.int32)
        kept = sp.csr_matrix(kept, shape=(kept.shape[0], width), dtype=np.int32)
        kept.resize((kept.shape[0], width))
        added = sp.csr_matrix(
            (np.asarray(data, dtype=np.int32), np.asarray(indices, dtype=np.int32),
             np.asarray(indptr, dtype=np.int64)),
            shape=(len(new_tokens), width),
        )
        tf = sp.vstack([kept, added], format="csr", dtype=np.int32)
        tf.sort_indices()
        return SparseIndex(tf, vocab)

    def idf(self, epsilon: float = 0.25) -> np.ndarray:
        """BM25Okapi's idf of every vocabulary term: ln((N - n + 0.5) / (n + 0.5)), a negative
        one replaced by ``epsilon`` x the mean idf; 0 for a term no row holds any more. The
        local BM25 engine and the Milvus publisher (the answerer's term weights) share it."""
        n_docs = self.tf.shape[0]
        df = np.bincount(self.tf.indices, minlength=self.tf.shape[1]).astype(np.float64)
        present = df > 0
        idf = np.zeros(self.tf.shape[1], dtype=np.float64)
        idf[present] = np.log(n_docs - df[present] + 0.5) - np.log(df[present] + 0.5)
        average_idf = float(idf[present].mean()) if present.any() else 0.0
        idf[present & (idf < 0)] = epsilon * average_idf
        return idf

    def save(self, folder: Path) -> None:
        np.save(folder / FILES[0], self.tf.indptr.astype(np.int64), allow_pickle=False)
        np.save(folder / FILES[1], self.tf.indices.astype(np.int32), allow_pickle=False)
        np.save(folder / FILES[2], self.tf.data.astype(np.int32), allow_pickle=False)
        (folder / FILES[3]).write_text(json.dumps(self.vocab, ensure_ascii=False), "utf-8")

    @classmethod
    def load(cls, folder: Path) -> SparseIndex:
        indptr = np.load(folder / FILES[0], allow_pickle=False)
        indices = np.load(folder / FILES[1], allow_pickle=False)
        data = np.load(folder / FILES[2], allow_pickle=False)
        vocab = json.loads((folder / FILES[3]).read_text("utf-8"))
        if len(indptr) == 0 or indptr[-1] != len(indices) or len(indices) != len(data):
            raise ValueError("BM25 arrays are inconsistent")
        if len(indices) and int(indices.max()) >= len(vocab):
            raise ValueError("BM25 term ids exceed the vocabulary")
        tf = sp.csr_matrix((data, indices, indptr), shape=(len(indptr) - 1, len(vocab)))
        return cls(tf, vocab)

"""BM25 query engine over the index's stored term-frequency matrix.

Same variant and parameters as ``rank_bm25.BM25Okapi`` (the reference; a test checks that
scores and top-10 agree): idf = ln((N - n + 0.5) / (n + 0.5)), negative idf replaced by
``epsilon * mean(idf)``, k1 = 1.5, b = 0.75, repeated query terms counted repeatedly.
The per-(chunk, term) weights are precomputed once into a CSC matrix, so a query is a sum of a
few sparse columns instead of a Python loop over every chunk (~250 ms at 100k chunks).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ingest.store.sparse import SparseIndex
from ingest.tokenize import TokenizerConfig, tokenize


@dataclass(frozen=True)
class BM25Params:
    k1: float = 1.5
    b: float = 0.75
    epsilon: float = 0.25


class BM25Engine:
    def __init__(self, tokenizer: TokenizerConfig, params: BM25Params, vocab: dict[str, int],
                 idf: np.ndarray, weights: sp.csc_matrix):
        self.tokenizer = tokenizer
        self.params = params
        self.vocab = vocab
        self.idf = idf
        self.weights = weights
        self.n_docs = weights.shape[0]

    @classmethod
    def build(cls, sparse: SparseIndex, tokenizer: TokenizerConfig,
              params: BM25Params = BM25Params()) -> BM25Engine:
        """The engine over ``sparse``: idf and every (chunk, term) weight computed once."""
        vocab = {term: j for j, term in enumerate(sparse.vocab)}
        tf = sparse.tf.astype(np.float32)
        n_docs = tf.shape[0]
        lengths = np.asarray(tf.sum(axis=1)).ravel()
        avgdl = float(lengths.mean()) if n_docs else 0.0
        idf = sparse.idf(params.epsilon)
        # w(d, t) = idf(t) * tf (k1 + 1) / (tf + k1 (1 - b + b |d| / avgdl))
        norms = params.k1 * (1 - params.b + params.b * lengths / avgdl) if avgdl else lengths
        coo = tf.tocoo()
        data = coo.data
        weights = idf[coo.col] * data * (params.k1 + 1) / (data + norms[coo.row])
        return cls(tokenizer, params, vocab, idf,
                   sp.csc_matrix((weights.astype(np.float32), (coo.row, coo.col)),
                                 shape=tf.shape))

    def query_terms(self, text: str) -> Counter:
        return Counter(t for t in tokenize(text, self.tokenizer) if t in self.vocab)

    def scores(self, text: str) -> np.ndarray:
        """BM25 score of every row for ``text`` (0 where no query term occurs)."""
        terms = self.query_terms(text)
        if not terms:
            return np.zeros(self.n_docs, dtype=np.float32)
        cols = np.fromiter((self.vocab[t] for t in terms), dtype=np.int64, count=len(terms))
        counts = np.fromiter(terms.values(), dtype=np.float32, count=len(terms))
        return np.asarray(self.weights[:, cols] @ counts).ravel()

    def search(self, text: str, k: int, mask: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Top-``k`` row positions and scores; only rows with a positive score (and ``mask``)."""
        scores = self.scores(text)
        if mask is not None:
            scores = np.where(mask, scores, 0.0)
        candidates = np.flatnonzero(scores > 0)
        if len(candidates) > k:
            part = np.argpartition(-scores[candidates], k - 1)[:k]
            candidates = candidates[part]
        order = np.lexsort((candidates, -scores[candidates]))
        top = candidates[order]
        return top, scores[top]

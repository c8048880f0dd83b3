"""Cross-encoder reranking: score (query, passage) pairs jointly.

The default reranker is clinrag's own: a LoRA adapter plus classification head (a few MB, in
``data/models/reranker``) trained on BioASQ over the packaged MiniLM weights, merged into the
base at load. Any sentence-transformers CrossEncoder name or local path works instead.
"""

from __future__ import annotations

import hashlib
import logging
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

from clinrag.adapters import REPO_MODELS  # noqa: F401 - re-exported: where adapters ship
from clinrag.adapters import AdapterUnavailable, default_adapter_path
from clinrag.pair_scorer import PairScorer

log = logging.getLogger(__name__)


def default_reranker_path(models_dir: Path | None = None) -> Path:
    """The home's models folder if it holds a reranker, else the one shipped in the repo."""
    return default_adapter_path("reranker", models_dir)


RerankerUnavailable = AdapterUnavailable


class CrossEncoderReranker:
    """``score(query, passages) -> np.ndarray`` (higher = more relevant).

    Recent (query, passage) scores are remembered: the evaluation harness ranks documents and
    then answers the same question (two searches, mostly the same candidates), and a doctor
    often re-asks with a filter; the cross-encoder is by far the most expensive stage.
    """

    def __init__(self, scorer: PairScorer, cache_size: int = 4096):
        self.scorer = scorer
        self.name = scorer.name
        self.cache_size = cache_size
        self._cache: OrderedDict[bytes, float] = OrderedDict()
        self._cache_lock = threading.Lock()  # the server answers on several threads

    @classmethod
    def load(cls, spec: str | Path = "default", *, models_dir: Path | None = None,
             device: str = "auto", precision: str = "auto", max_length: int = 256,
             batch_size: int = 32, cache_size: int = 4096) -> CrossEncoderReranker:
        return cls(PairScorer.load(spec, "reranker", num_labels=1, models_dir=models_dir,
                                   device=device, precision=precision, max_length=max_length,
                                   batch_size=batch_size), cache_size)

    @property
    def precision(self) -> str:
        return self.scorer.precision

    def score(self, query: str, passages: list[str]) -> np.ndarray:
        if not passages:
            return np.zeros(0, dtype=np.float32)
        keys = [_pair_key(query, p) for p in passages]
        out = np.zeros(len(passages), dtype=np.float32)
        todo = []
        with self._cache_lock:
            for i, key in enumerate(keys):
                cached = self._cache.get(key)
                if cached is None:
                    todo.append(i)
                else:
                    out[i] = cached
                    self._cache.move_to_end(key)
        if todo:
            out[todo] = self._forward(query, [passages[i] for i in todo])
            with self._cache_lock:
                for i in todo:
                    self._cache[keys[i]] = float(out[i])
                while len(self._cache) > self.cache_size:
                    self._cache.popitem(last=False)
        return out

    def _forward(self, query: str, passages: list[str]) -> np.ndarray:
        return self.scorer.logits([(query, p) for p in passages]).reshape(-1)


def _pair_key(query: str, passage: str) -> bytes:
    # A digest, not the texts: 4096 cached pairs stay a few hundred kB.
    return hashlib.blake2b(f"{query}\x00{passage}".encode(), digest_size=16).digest()

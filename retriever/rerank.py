"""Cross-encoder reranking: score (query, passage) pairs jointly.

The default reranker is clinrag's own: a LoRA adapter plus classification head (a few MB, in
``data/models/reranker``) trained on BioASQ over the packaged MiniLM weights, merged into the
base at load. Any sentence-transformers CrossEncoder name or local path works instead.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import threading
from collections import OrderedDict
from pathlib import Path

import numpy as np

from clinrag.adapters import REPO_MODELS  # noqa: F401 - re-exported: where adapters ship
from clinrag.adapters import AdapterUnavailable, default_adapter_path, load_sequence_classifier
from clinrag.device import configure_cpu_threads, pick_device, pick_precision

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

    def __init__(self, spec: str | Path = "default", *, models_dir: Path | None = None,
                 device: str = "auto", precision: str = "auto", max_length: int = 256,
                 batch_size: int = 32, cache_size: int = 4096):
        import torch

        self.device = pick_device(device)
        self.precision = pick_precision(precision, self.device)
        self.max_length = max_length
        self.batch_size = batch_size
        if self.device == "cpu":
            configure_cpu_threads()
        loaded = load_sequence_classifier(spec, "reranker", num_labels=1, models_dir=models_dir)
        self.tokenizer = loaded.tokenizer
        self.name = loaded.name
        self.max_length = int(loaded.config.get("max_length", max_length))
        self.model = loaded.model.to(self.device).eval()
        self._torch = torch
        self.cache_size = cache_size
        self._cache: OrderedDict[bytes, float] = OrderedDict()
        self._cache_lock = threading.Lock()  # the server answers on several threads

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
        torch = self._torch
        order = np.argsort([-len(p) for p in passages])  # similar lengths batch together
        out = np.zeros(len(passages), dtype=np.float32)
        with torch.inference_mode(), self._autocast():
            for i in range(0, len(order), self.batch_size):
                idx = order[i:i + self.batch_size]
                batch = self.tokenizer([query] * len(idx), [passages[j] for j in idx],
                                       truncation="longest_first", max_length=self.max_length,
                                       padding=True, return_tensors="pt").to(self.device)
                logits = self.model(**batch).logits.float().reshape(-1)
                out[idx] = logits.cpu().numpy()
        return out

    def _autocast(self):
        if self.precision != "bf16":
            return contextlib.nullcontext()
        return self._torch.autocast(device_type=self.device, dtype=self._torch.bfloat16)


def _pair_key(query: str, passage: str) -> bytes:
    # A digest, not the texts: 4096 cached pairs stay a few hundred kB.
    return hashlib.blake2b(f"{query}\x00{passage}".encode(), digest_size=16).digest()

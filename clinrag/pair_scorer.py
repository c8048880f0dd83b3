"""One cross-encoder scorer: a sequence classifier over (text, text) pairs.

The reranker (retriever/rerank.py) and every pair classifier (verdict, support, stance:
generator/classifier.py) score through this, so device and precision are picked, pairs
batched by length and bf16 autocast applied in one place. ``PairScorer.load`` does the work;
the constructor only stores what it is given.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from clinrag.adapters import load_sequence_classifier
from clinrag.device import configure_cpu_threads, pick_device, pick_precision


@dataclass
class PairScorer:
    model: Any                 # a transformers sequence classifier, on ``device``, in eval mode
    tokenizer: Any
    name: str
    config: dict[str, Any]     # the adapter's own config (labels, max_length, temperature, ...)
    device: str
    precision: str             # "fp32" | "bf16"
    max_length: int
    batch_size: int

    @classmethod
    def load(cls, spec: str | Path, name: str, *, num_labels: int,
             models_dir: Path | None = None, device: str = "auto", precision: str = "auto",
             max_length: int = 256, batch_size: int = 32) -> PairScorer:
        """Load ``spec`` ("default" = clinrag's adapter ``name``, a path, or a hub name);
        the adapter's recorded ``max_length`` wins over the one given."""
        where = pick_device(device)
        if where == "cpu":
            configure_cpu_threads()
        loaded = load_sequence_classifier(spec, name, num_labels=num_labels,
                                          models_dir=models_dir)
        return cls(model=loaded.model.to(where).eval(), tokenizer=loaded.tokenizer,
                   name=loaded.name, config=loaded.config, device=where,
                   precision=pick_precision(precision, where),
                   max_length=int(loaded.config.get("max_length", max_length)),
                   batch_size=batch_size)

    @property
    def num_labels(self) -> int:
        return int(self.model.config.num_labels)

    def logits(self, pairs: list[tuple[str, str]]) -> np.ndarray:
        """Raw logits, shape (len(pairs), num_labels); pairs of similar length batch
        together (padding is most of the cost of a mixed batch)."""
        import torch

        out = np.zeros((len(pairs), self.num_labels), dtype=np.float32)
        if not pairs:
            return out
        order = np.argsort([-(len(a) + len(b)) for a, b in pairs])
        with torch.inference_mode(), self._autocast(torch):
            for i in range(0, len(order), self.batch_size):
                idx = order[i:i + self.batch_size]
                batch = self.tokenizer([pairs[j][0] for j in idx], [pairs[j][1] for j in idx],
                                       truncation="longest_first", max_length=self.max_length,
                                       padding=True, return_tensors="pt").to(self.device)
                out[idx] = self.model(**batch).logits.float().cpu().numpy()
        return out

    def _autocast(self, torch):
        if self.precision != "bf16":
            return contextlib.nullcontext()
        return torch.autocast(device_type=self.device, dtype=torch.bfloat16)

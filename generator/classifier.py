"""Calibrated probabilities for clinrag's pair classifiers (verdict, support, stance).

The scoring itself (device, precision, batching) is the one pair scorer the reranker uses
too (clinrag/pair_scorer.py); this adds the temperature fitted on validation data.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from clinrag.pair_scorer import PairScorer


class PairClassifier:
    """Calibrated probabilities of a pair scorer (clinrag/pair_scorer.py), with the
    temperature fitted on validation data and stored in the adapter's config."""

    def __init__(self, scorer: PairScorer):
        self.scorer = scorer
        self.name = scorer.name
        self.config = scorer.config
        self.temperature = float(scorer.config.get("temperature", 1.0))

    @classmethod
    def load(cls, spec: str | Path, name: str, *, num_labels: int,
             models_dir: Path | None = None, device: str = "auto", precision: str = "auto",
             batch_size: int = 16) -> PairClassifier:
        return cls(PairScorer.load(spec, name, num_labels=num_labels, models_dir=models_dir,
                                   device=device, precision=precision, batch_size=batch_size))

    def logits(self, pairs: list[tuple[str, str]]) -> np.ndarray:
        """Raw logits, shape (len(pairs), num_labels)."""
        return self.scorer.logits(pairs)

    def probabilities(self, pairs: list[tuple[str, str]]) -> np.ndarray:
        """Calibrated probabilities: softmax over labels, or a sigmoid for one logit."""
        return calibrated(self.logits(pairs), self.temperature)


def calibrated(logits: np.ndarray, temperature: float = 1.0) -> np.ndarray:
    scaled = logits.astype(np.float64) / max(temperature, 1e-6)
    if scaled.shape[1] == 1:
        return 1.0 / (1.0 + np.exp(-scaled[:, 0]))
    scaled -= scaled.max(axis=1, keepdims=True)
    exp = np.exp(scaled)
    return exp / exp.sum(axis=1, keepdims=True)


def fit_temperature(logits: np.ndarray, labels: np.ndarray) -> float:
    """The temperature minimising validation negative log-likelihood (grid + refinement)."""
    def nll(t: float) -> float:
        p = calibrated(logits, t)
        if p.ndim == 1:
            p = np.where(labels == 1, p, 1 - p)
        else:
            p = p[np.arange(len(labels)), labels]
        return float(-np.log(np.clip(p, 1e-12, 1)).mean())

    grid = np.exp(np.linspace(np.log(0.05), np.log(20), 200))
    best = min(grid, key=nll)
    fine = np.linspace(best * 0.9, best * 1.1, 41)
    return float(min(fine, key=nll))


def expected_calibration_error(probs: np.ndarray, labels: np.ndarray, bins: int = 10) -> float:
    """ECE of the predicted class's probability (multi-class) or of P(1) (binary)."""
    if probs.ndim == 1:
        confidence, correct = np.where(probs >= 0.5, probs, 1 - probs), (probs >= 0.5) == labels
    else:
        confidence, correct = probs.max(axis=1), probs.argmax(axis=1) == labels
    edges = np.linspace(0, 1, bins + 1)
    ece = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        inside = (confidence > lo) & (confidence <= hi)
        if inside.any():
            ece += inside.mean() * abs(correct[inside].mean() - confidence[inside].mean())
    return float(ece)

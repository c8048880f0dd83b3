"""Batched inference for clinrag's pair classifiers (verdict and support models).

A thin wrapper over a loaded sequence classifier: it picks the device once, batches pairs by
length, and applies the temperature fitted on validation data so probabilities are calibrated.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

import numpy as np

from clinrag.adapters import LoadedClassifier, load_sequence_classifier
from clinrag.device import configure_cpu_threads, pick_device, pick_precision


class PairClassifier:
    def __init__(self, spec: str | Path, name: str, *, num_labels: int,
                 models_dir: Path | None = None, device: str = "auto",
                 precision: str = "auto", batch_size: int = 16):
        import torch

        self._torch = torch
        self.device = pick_device(device)
        self.precision = pick_precision(precision, self.device)
        if self.device == "cpu":
            configure_cpu_threads()
        loaded: LoadedClassifier = load_sequence_classifier(
            spec, name, num_labels=num_labels, models_dir=models_dir)
        self.model = loaded.model.to(self.device).eval()
        self.tokenizer = loaded.tokenizer
        self.name = loaded.name
        self.config = loaded.config
        self.max_length = int(self.config.get("max_length", 256))
        self.temperature = float(self.config.get("temperature", 1.0))
        self.batch_size = batch_size

    def logits(self, pairs: list[tuple[str, str]]) -> np.ndarray:
        """Raw logits, shape (len(pairs), num_labels)."""
        torch = self._torch
        labels = int(self.model.config.num_labels)
        out = np.zeros((len(pairs), labels), dtype=np.float32)
        if not pairs:
            return out
        order = np.argsort([-(len(a) + len(b)) for a, b in pairs])
        with torch.inference_mode(), self._autocast():
            for i in range(0, len(order), self.batch_size):
                idx = order[i:i + self.batch_size]
                batch = self.tokenizer([pairs[j][0] for j in idx], [pairs[j][1] for j in idx],
                                       truncation="longest_first", max_length=self.max_length,
                                       padding=True, return_tensors="pt").to(self.device)
                out[idx] = self.model(**batch).logits.float().cpu().numpy()
        return out

    def probabilities(self, pairs: list[tuple[str, str]]) -> np.ndarray:
        """Calibrated probabilities: softmax over labels, or a sigmoid for one logit."""
        return calibrated(self.logits(pairs), self.temperature)

    def _autocast(self):
        if self.precision != "bf16":
            return contextlib.nullcontext()
        return self._torch.autocast(device_type=self.device, dtype=self._torch.bfloat16)


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

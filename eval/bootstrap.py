"""Bootstrap confidence intervals (percentile method, fixed seed) for any per-question metric.

A benchmark of 100-500 questions gives intervals several points wide; a difference between
two runs means something only next to them.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

RESAMPLES = 1000
SEED = 20261129


def resample_indices(n: int, resamples: int = RESAMPLES, seed: int = SEED) -> np.ndarray:
    """(resamples, n) indices drawn with replacement; the same for every metric of a run."""
    return np.random.default_rng(seed).integers(0, n, size=(resamples, n))


def mean_ci(values, resamples: int = RESAMPLES, seed: int = SEED,
            alpha: float = 0.05) -> tuple[float, float]:
    """95% interval of the mean of ``values`` (NaNs dropped)."""
    arr = np.asarray(values, dtype=float)
    arr = arr[~np.isnan(arr)]
    if arr.size == 0:
        return (float("nan"), float("nan"))
    means = arr[resample_indices(arr.size, resamples, seed)].mean(axis=1)
    return _percentiles(means, alpha)


def statistic_ci(n: int, statistic: Callable[[np.ndarray], float], resamples: int = RESAMPLES,
                 seed: int = SEED, alpha: float = 0.05) -> tuple[float, float]:
    """95% interval of ``statistic(indices)`` for statistics that are not means (macro-F1)."""
    if n == 0:
        return (float("nan"), float("nan"))
    values = np.array([statistic(idx) for idx in resample_indices(n, resamples, seed)])
    return _percentiles(values[~np.isnan(values)], alpha)


def paired_difference(a, b, resamples: int = RESAMPLES, seed: int = SEED,
                      alpha: float = 0.05) -> tuple[float, tuple[float, float]]:
    """Mean of ``b - a`` over the same questions and its paired-bootstrap 95% interval."""
    a, b = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    keep = ~(np.isnan(a) | np.isnan(b))
    diff = (b - a)[keep]
    if diff.size == 0:
        return float("nan"), (float("nan"), float("nan"))
    means = diff[resample_indices(diff.size, resamples, seed)].mean(axis=1)
    return float(diff.mean()), _percentiles(means, alpha)


def _percentiles(values: np.ndarray, alpha: float) -> tuple[float, float]:
    if values.size == 0:
        return (float("nan"), float("nan"))
    lo, hi = np.percentile(values, [100 * alpha / 2, 100 * (1 - alpha / 2)])
    return (float(lo), float(hi))

"""Selective answering: how accuracy trades against coverage as the answerer abstains.

Questions are ordered by the answerer's confidence (most confident first); answering the top
``c`` share gives coverage ``c`` and risk = error rate on them. AURC, the area under that
risk-coverage curve (Geifman & El-Yaniv), is lower for a model whose confidence ranks its
errors last. Abstained questions count as wrong in accuracy-on-all and are left out of
accuracy-on-answered ("precision").
"""

from __future__ import annotations

import numpy as np


def risk_coverage(confidence, correct) -> tuple[np.ndarray, np.ndarray]:
    """(coverage, risk) at each cut-off of the confidence ranking (ties broken stably)."""
    conf = np.asarray(confidence, dtype=float)
    ok = np.asarray(correct, dtype=float)
    if conf.size == 0:
        return np.zeros(0), np.zeros(0)
    conf = np.where(np.isnan(conf), -np.inf, conf)
    order = np.argsort(-conf, kind="stable")
    errors = np.cumsum(1.0 - ok[order])
    answered = np.arange(1, conf.size + 1)
    return answered / conf.size, errors / answered


def aurc(confidence, correct) -> float:
    """Mean risk over the n cut-offs (the discrete area under the risk-coverage curve)."""
    _, risk = risk_coverage(confidence, correct)
    return float(risk.mean()) if risk.size else float("nan")


def selective_summary(abstained, correct) -> dict[str, float]:
    """abstention_rate, accuracy on all questions, and accuracy on the answered ones."""
    abstained = np.asarray(abstained, dtype=bool)
    ok = np.asarray(correct, dtype=bool) & ~abstained
    n = abstained.size
    answered = int((~abstained).sum())
    return {
        "abstention_rate": float(abstained.mean()) if n else float("nan"),
        "accuracy_all": float(ok.mean()) if n else float("nan"),
        "precision": float(ok[~abstained].mean()) if answered else float("nan"),
        "coverage": answered / n if n else float("nan"),
    }

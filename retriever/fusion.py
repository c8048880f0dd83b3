"""Reciprocal rank fusion (Cormack et al., 2009) as a pure function over ranked lists."""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence


def rrf(runs: Sequence[Sequence[Hashable]], k: int = 60,
        weights: Sequence[float] | None = None) -> list[tuple[Hashable, float]]:
    """Fuse ranked lists: score(d) = sum_i w_i / (k + rank_i(d)), ranks starting at 1.

    The result is sorted by score, ties broken by the item's string form, so it does not
    depend on the order in which the runs are given. An item repeated within one run counts
    once, at its first rank.
    """
    if k <= 0:
        raise ValueError("RRF k must be positive")
    if weights is not None and len(weights) != len(runs):
        raise ValueError("one weight per run")
    # Contributions are summed with math.fsum (correctly rounded), so the total is exactly the
    # same whatever the order of the runs; a plain running sum differs in the last bit and
    # can flip near-ties.
    parts: dict[Hashable, list[float]] = {}
    for i, run in enumerate(runs):
        weight = 1.0 if weights is None else float(weights[i])
        # A repeated item is dropped from the run, so later items keep consecutive ranks.
        for rank, item in enumerate(dict.fromkeys(run), start=1):
            parts.setdefault(item, []).append(weight / (k + rank))
    scores = {item: math.fsum(values) for item, values in parts.items()}
    return sorted(scores.items(), key=lambda kv: (-kv[1], str(kv[0])))


def fuse_rerank(candidates: Sequence[Hashable], scores: Sequence[float],
                weight: float | None = None, k: int = 60) -> list[Hashable]:
    """``candidates`` (in first-stage order) reordered by a reranker's ``scores``.

    ``weight`` None: by the scores alone (ties keep the first-stage order). Otherwise RRF of
    the first-stage order and the reranker's order, the reranker's run weighted ``weight``:
    a cross-encoder trained on a few thousand questions is a strong but noisy judge, and the
    first-stage agreement of BM25 and dense search still carries information.
    """
    if len(candidates) != len(scores):
        raise ValueError("one reranker score per candidate")
    by_score = [candidates[i] for i in sorted(range(len(candidates)),
                                              key=lambda i: (-float(scores[i]), i))]
    if weight is None:
        return by_score
    return [item for item, _ in rrf([list(candidates), by_score], k=k, weights=[1.0, weight])]

"""From per-question rows to a run's metrics, each with its bootstrap 95% interval.

Input is only what ``per_example.jsonl`` holds, so metrics of a resumed or finished run can be
recomputed from that file alone. Retrieval metrics come from ranx over the stored rankings.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from eval.abstention import aurc, risk_coverage, selective_summary
from eval.answers import macro_f1
from eval.bootstrap import mean_ci, statistic_ci
from eval.datasets import GoldSnippet
from eval.retrieval import (
    DOC_METRICS,
    RECALL_CURVE_K,
    PASSAGE_K,
    passage_scores,
    per_query,
    ranking_scores,
    snippet_overlap,
)

# Per-question scores averaged into a metric of the same name (None/NaN: not applicable).
MEAN_SCORES = ("factoid_strict", "factoid_lenient", "list_precision", "list_recall", "list_f1",
               "exact_match", "rouge1", "rouge2", "rougeL", "citation_recall",
               "citation_precision", "lexical_overlap", "snippet_precision", "snippet_recall",
               "snippet_f1", *(f"passage_hit@{k}" for k in PASSAGE_K), "passage_mrr@10")
_RENAMED = {"factoid_rr": "factoid_mrr"}


def summarize(rows: list[dict[str, Any]], labels: tuple[str, ...] = ()) -> dict[str, Any]:
    """metrics (flat, ``<key>_ci`` alongside), per-question score table and plot curves."""
    metrics: dict[str, Any] = {"n": len(rows)}
    table: dict[str, dict[str, float]] = {}
    curves: dict[str, Any] = {}
    ids = [str(r["id"]) for r in rows]

    # Retrieval: ranx over stored rankings, for questions with gold documents.
    ranked = [r for r in rows if r.get("retrieved") is not None and r.get("relevant_doc_ids")]
    if ranked:
        qrels = {str(r["id"]): {d: 1 for d in r["relevant_doc_ids"]} for r in ranked}
        run = {str(r["id"]): ranking_scores(r["retrieved"]) for r in ranked}
        values = per_query(qrels, run, DOC_METRICS)
        for name, by_id in values.items():
            _put(metrics, table, name, by_id)
        metrics["n_retrieval"] = len(ranked)
        curve = per_query(qrels, run, [f"recall@{k}" for k in RECALL_CURVE_K])
        curves["recall_at_k"] = {str(k): float(np.mean(list(curve[f"recall@{k}"].values())))
                                 for k in RECALL_CURVE_K}
    evidence = [r for r in rows if r.get("evidence_doc_ids") is not None
                and r.get("relevant_doc_ids")]
    if evidence:
        hit = {str(r["id"]): float(bool(set(r["evidence_doc_ids"]) & set(r["relevant_doc_ids"])))
               for r in evidence}
        _put(metrics, table, "evidence_hit", hit)

    # Snippets: character overlap of the top retrieved passages with gold snippets.
    for r in rows:
        if r.get("snippet_spans") is not None and r.get("gold_snippets"):
            got = [GoldSnippet(*s) for s in r["snippet_spans"]]
            want = [GoldSnippet(*s) for s in r["gold_snippets"]]
            r.setdefault("scores", {}).update(snippet_overlap(got, want))
        if r.get("passage_spans") is not None and r.get("gold_snippets"):
            ranked = [GoldSnippet(*s) for s in r["passage_spans"]]
            want = [GoldSnippet(*s) for s in r["gold_snippets"]]
            r.setdefault("scores", {}).update(passage_scores(ranked, want))

    # Closed-label answers: accuracy on all (abstention = wrong), on answered, macro-F1.
    closed = [r for r in rows if r.get("correct") is not None and r.get("qtype") in
              ("yesno", "multiple_choice")]
    if closed:
        ok = np.array([bool(r["correct"]) for r in closed], dtype=float)
        abstained = np.array([bool(r.get("abstained")) for r in closed])
        _put(metrics, table, "accuracy", dict(zip([str(r["id"]) for r in closed], ok)))
        answered = {str(r["id"]): v for r, v, a in zip(closed, ok, abstained) if not a}
        if answered:
            _put(metrics, table, "precision", answered)
        yesno = [r for r in closed if r["qtype"] == "yesno"]
        if yesno and labels:
            preds = [r.get("prediction") for r in yesno]
            golds = [r["gold"] for r in yesno]
            metrics["macro_f1"] = macro_f1(preds, golds, labels)
            metrics["macro_f1_ci"] = list(statistic_ci(len(yesno), lambda idx: macro_f1(
                [preds[i] for i in idx], [golds[i] for i in idx], labels)))
        conf = np.array([_num(r.get("confidence"), -np.inf) for r in closed])
        # An abstention's confidence is its P(unanswerable): it is the least willing answer,
        # so it ranks after every answered question, the surest abstentions last.
        conf = np.where(abstained, -1.0 - conf, conf)
        if np.isfinite(conf).any():
            metrics["aurc"] = aurc(conf, ok)
            metrics["aurc_ci"] = list(statistic_ci(len(closed), lambda idx: aurc(conf[idx],
                                                                                 ok[idx])))
            coverage, risk = risk_coverage(conf, ok)
            curves["risk_coverage"] = {"coverage": coverage.tolist(), "risk": risk.tolist()}
        sel = selective_summary(abstained, ok.astype(bool))
        metrics["coverage"] = sel["coverage"]
    answered_rows = [r for r in rows if r.get("abstained") is not None]
    if answered_rows:
        _put(metrics, table, "abstention_rate",
             {str(r["id"]): float(bool(r["abstained"])) for r in answered_rows})

    # Everything scored per question and averaged.
    for key in MEAN_SCORES + tuple(_RENAMED):
        by_id = {str(r["id"]): float(r["scores"][key]) for r in rows
                 if _num((r.get("scores") or {}).get(key)) is not None}
        if by_id:
            _put(metrics, table, _RENAMED.get(key, key), by_id)

    # Per question type: the type's own headline measure.
    per_type: dict[str, dict[str, Any]] = {}
    for qtype, key in (("yesno", "accuracy"), ("multiple_choice", "accuracy"),
                       ("factoid", "factoid_strict"), ("list", "list_f1"),
                       ("summary", "rougeL"), ("open", "exact_match")):
        values = [table.get(key, {}).get(str(r["id"])) for r in rows if r.get("qtype") == qtype]
        values = [v for v in values if v is not None]
        if values:
            per_type[qtype] = {"measure": key, "n": len(values), "value": float(np.mean(values)),
                               "ci": list(mean_ci(values))}
    if per_type:
        curves["per_type"] = per_type
    errors = sum(1 for r in rows if r.get("error"))
    metrics["errors"] = errors
    metrics["ids"] = len(set(ids))
    return {"metrics": _clean(metrics), "table": table, "curves": curves}


def _put(metrics: dict[str, Any], table: dict[str, dict[str, float]], name: str,
         by_id: dict[str, float]) -> None:
    values = [float(v) for v in by_id.values()]
    metrics[name] = float(np.mean(values))
    metrics[f"{name}_ci"] = list(mean_ci(values))
    table[name] = {k: float(v) for k, v in by_id.items()}


def _num(value: Any, default: Any = None) -> Any:
    if value is None:
        return default
    try:
        number = float(value)
    except (TypeError, ValueError):
        return default
    return default if math.isnan(number) else number


def _clean(data: dict[str, Any]) -> dict[str, Any]:
    """NaN is not JSON: undefined values become null."""
    out = {}
    for key, value in data.items():
        if isinstance(value, float) and math.isnan(value):
            out[key] = None
        elif isinstance(value, list):
            out[key] = [None if isinstance(v, float) and math.isnan(v) else round(v, 6)
                        if isinstance(v, float) else v for v in value]
        elif isinstance(value, float):
            out[key] = round(value, 6)
        else:
            out[key] = value
    return out

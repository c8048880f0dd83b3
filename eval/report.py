"""A run's report: Markdown for the repository, HTML with plots for a browser.

Plots are drawn with matplotlib's Agg backend (no display) and embedded as base64 PNG, so
``report.html`` is one self-contained file.
"""

from __future__ import annotations

import base64
import html
import io
from pathlib import Path
from typing import Any

from ingest.store.files import atomic_write_text

# Headline metrics in report order, with what each one means.
HEADLINE = (
    ("accuracy", "accuracy on all closed-label questions (abstention = wrong)"),
    ("precision", "accuracy on the answered ones"),
    ("macro_f1", "macro-F1 over the gold labels"),
    ("abstention_rate", "share of questions abstained on"),
    ("aurc", "area under the risk-coverage curve (lower is better)"),
    ("ndcg@10", "documents, ranx"),
    ("recall@10", "documents, ranx"),
    ("recall@100", "documents, ranx"),
    ("mrr", "documents, ranx"),
    ("snippet_precision", "character overlap with gold snippets, top 10"),
    ("snippet_recall", "character overlap with gold snippets, top 10"),
    ("snippet_f1", "character overlap with gold snippets, top 10"),
    ("passage_hit@1", "full text: the first passage holds the answer span"),
    ("passage_hit@5", "full text: a passage holding the answer span in the top 5"),
    ("passage_hit@10", "full text: ... in the top 10"),
    ("passage_mrr@10", "full text: reciprocal rank of that passage"),
    ("evidence_hit", "a gold document among the answer's evidence"),
    ("factoid_strict", "first answer sentence names the entity"),
    ("factoid_lenient", "one of the first 5 sentences names it"),
    ("factoid_mrr", "reciprocal rank of that sentence"),
    ("list_precision", "answer clauses naming a gold item"),
    ("list_recall", "gold items named"),
    ("list_f1", ""),
    ("exact_match", "normalised answer text equals the gold answer"),
    ("rouge1", "vs ideal answer (best reference), F-measure"),
    ("rouge2", ""),
    ("rougeL", ""),
    ("citation_recall", "ALCE: sentences supported by their cited passages"),
    ("citation_precision", "ALCE: citations that support their sentence"),
    ("lexical_overlap", "content words of a sentence found in its citations (model-free)"),
)


def fmt(value: Any) -> str:
    return "–" if value is None else f"{value:.4f}" if isinstance(value, float) else str(value)


def fmt_ci(ci: Any) -> str:
    if not ci or any(v is None for v in ci):
        return ""
    return f"[{ci[0]:.4f}, {ci[1]:.4f}]"


def metric_rows(metrics: dict[str, Any]) -> list[tuple[str, str, str, str]]:
    return [(key, fmt(metrics[key]), fmt_ci(metrics.get(f"{key}_ci")), note)
            for key, note in HEADLINE if metrics.get(key) is not None]


def render_markdown(metrics: dict[str, Any], curves: dict[str, Any], meta: dict[str, Any]) -> str:
    judge = meta.get("citation_judge")
    lines = [
        f"# {meta['benchmark']} ({meta['setting']} setting)", "",
        f"- questions: {meta['questions']} of {meta['questions_in_data']}"
        + (f", {meta['split']} split" if meta.get("split") else "")
        + (f" (--limit {meta['limit']})" if meta.get("limit") else ""),
        f"- data: `{meta['data']}` (sha256 {meta['data_hash'][:16]})",
        f"- index: `{meta['index']}` generation {meta['index_generation']} "
        f"({meta.get('index_counts', {}).get('documents', '?')} documents, "
        f"{meta.get('index_counts', {}).get('chunks', '?')} chunks)",
        f"- retrieval: mode {meta['mode']}, rerank {meta['rerank']}, depth {meta['depth']}; "
        f"answers: {'yes' if meta['answers'] else 'no (retrieval only)'}, "
        f"verify {meta['verify']}",
        "- models: " + ", ".join(f"{k} {v}" for k, v in meta.get("models", {}).items()),
        "- citation judge: " + (f"{judge['name']} {judge['version']} (support >= "
                                 f"{judge['threshold']})" if judge else "none"),
        f"- runtime {meta['runtime_s']} s; median per question (ms): "
        + ", ".join(f"{k} {v}" for k, v in meta.get("latency_ms_median", {}).items()),
        f"- 95% intervals: percentile bootstrap, {meta['bootstrap']['resamples']} resamples, "
        "fixed seed", "",
        "| metric | value | 95% CI | note |", "|---|---|---|---|",
    ]
    lines += [f"| {k} | {v} | {ci} | {note} |" for k, v, ci, note in metric_rows(metrics)]
    per_type = curves.get("per_type")
    if per_type:
        lines += ["", "| question type | n | measure | value | 95% CI |", "|---|---|---|---|---|"]
        lines += [f"| {t} | {v['n']} | {v['measure']} | {v['value']:.4f} | {fmt_ci(v['ci'])} |"
                  for t, v in per_type.items()]
    if curves.get("recall_at_k"):
        ks = list(curves["recall_at_k"])
        lines += ["", "| recall@k | " + " | ".join(ks) + " |", "|---|" + "---|" * len(ks),
                  "| | " + " | ".join(f"{curves['recall_at_k'][k]:.4f}" for k in ks) + " |"]
    if metrics.get("errors"):
        lines += ["", f"{metrics['errors']} question(s) ended in an error; see "
                  "`per_example.jsonl` (`error`)."]
    return "\n".join(lines) + "\n"


def plots(curves: dict[str, Any]) -> dict[str, str]:
    """name -> base64 PNG for the curves present."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    out: dict[str, str] = {}
    rc = curves.get("risk_coverage")
    if rc and rc["coverage"]:
        fig, ax = plt.subplots(figsize=(4.5, 3.2))
        ax.plot(rc["coverage"], rc["risk"])
        ax.set_xlabel("coverage")
        ax.set_ylabel("risk (error rate)")
        ax.set_xlim(0, 1)
        ax.set_title("risk-coverage")
        out["risk-coverage"] = _png(fig)
    per_type = curves.get("per_type")
    if per_type:
        fig, ax = plt.subplots(figsize=(4.5, 3.2))
        names = [f"{t}\n({v['measure']})" for t, v in per_type.items()]
        values = [v["value"] for v in per_type.values()]
        errs = [[v["value"] - v["ci"][0] for v in per_type.values()],
                [v["ci"][1] - v["value"] for v in per_type.values()]]
        ax.bar(names, values, yerr=errs, capsize=3)
        ax.set_ylim(0, 1)
        ax.set_title("per question type")
        ax.tick_params(axis="x", labelsize=7)
        out["per-type"] = _png(fig)
    recall = curves.get("recall_at_k")
    if recall:
        fig, ax = plt.subplots(figsize=(4.5, 3.2))
        ax.plot([int(k) for k in recall], list(recall.values()), marker="o")
        ax.set_xscale("log")
        ax.set_xlabel("k (documents)")
        ax.set_ylabel("recall@k")
        ax.set_ylim(0, 1)
        ax.set_title("recall@k")
        out["recall-at-k"] = _png(fig)
    return out


def render_html(metrics: dict[str, Any], curves: dict[str, Any], meta: dict[str, Any]) -> str:
    esc = html.escape
    rows = "".join(f"<tr><td>{esc(k)}</td><td>{v}</td><td>{ci}</td><td>{esc(n)}</td></tr>"
                   for k, v, ci, n in metric_rows(metrics))
    facts = "".join(f"<li>{esc(line[2:])}</li>" for line in
                    render_markdown(metrics, {}, meta).splitlines() if line.startswith("- "))
    images = "".join(f'<figure><img alt="{esc(name)}" src="data:image/png;base64,{data}">'
                     f"<figcaption>{esc(name)}</figcaption></figure>"
                     for name, data in plots(curves).items())
    return (f"<!doctype html><html><head><meta charset='utf-8'><title>"
            f"{esc(meta['benchmark'])} evaluation</title><style>body{{font-family:sans-serif;"
            "max-width:60em;margin:2em auto}table{border-collapse:collapse}td,th{border:1px "
            "solid #ccc;padding:.2em .6em}figure{display:inline-block;margin:.5em}</style>"
            f"</head><body><h1>{esc(meta['benchmark'])} ({esc(meta['setting'])} setting)</h1>"
            f"<ul>{facts}</ul><table><tr><th>metric</th><th>value</th><th>95% CI</th>"
            f"<th>note</th></tr>{rows}</table>{images}</body></html>\n")


def write_reports(folder: Path, metrics: dict[str, Any], curves: dict[str, Any],
                  meta: dict[str, Any]) -> None:
    atomic_write_text(folder / "report.md", render_markdown(metrics, curves, meta))
    atomic_write_text(folder / "report.html", render_html(metrics, curves, meta))


def _png(fig) -> str:
    import matplotlib.pyplot as plt

    buffer = io.BytesIO()
    fig.tight_layout()
    fig.savefig(buffer, format="png", dpi=100)
    plt.close(fig)
    return base64.b64encode(buffer.getvalue()).decode("ascii")

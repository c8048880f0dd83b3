"""Two runs side by side: each metric, the difference, and whether it is more than noise.

Where both runs scored the same questions one by one, the difference is tested by a paired
bootstrap over the shared questions (1000 resamples, fixed seed): significant when its 95%
interval excludes 0. Metrics that are not per-question means (macro-F1, AURC) or runs over
different questions fall back to comparing the two runs' own intervals: significant only when
they do not overlap (a conservative test). Each row says which test it used.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from eval.bootstrap import paired_difference
from eval.report import HEADLINE


class CompareError(ValueError):
    """A run folder lacks its metrics."""


def load_run(folder: Path) -> tuple[dict[str, Any], dict[str, dict[str, float]]]:
    folder = Path(folder)
    metrics_path = folder / "metrics.json"
    if not metrics_path.exists():
        raise CompareError(f"{folder}: no metrics.json (not a finished eval run folder)")
    metrics = json.loads(metrics_path.read_text("utf-8"))
    table_path = folder / "per_example_scores.json"
    table = json.loads(table_path.read_text("utf-8")) if table_path.exists() else {}
    return metrics, table


def compare(a: Path, b: Path) -> list[dict[str, Any]]:
    """One row per metric present in both runs: a, b, diff (b - a), test, significant."""
    metrics_a, table_a = load_run(a)
    metrics_b, table_b = load_run(b)
    rows = []
    for key, _ in HEADLINE:
        va, vb = metrics_a.get(key), metrics_b.get(key)
        if va is None or vb is None:
            continue
        row: dict[str, Any] = {"metric": key, "a": va, "b": vb, "diff": vb - va}
        shared = sorted(set(table_a.get(key, {})) & set(table_b.get(key, {})))
        if shared:
            mean, ci = paired_difference([table_a[key][q] for q in shared],
                                         [table_b[key][q] for q in shared])
            row.update(test=f"paired bootstrap (n={len(shared)})", diff_ci=list(ci),
                       paired_diff=mean, significant=bool(ci[0] > 0 or ci[1] < 0))
        else:
            ci_a, ci_b = metrics_a.get(f"{key}_ci"), metrics_b.get(f"{key}_ci")
            if ci_a and ci_b and None not in ci_a and None not in ci_b:
                row.update(test="CI overlap", diff_ci=None,
                           significant=bool(ci_a[1] < ci_b[0] or ci_b[1] < ci_a[0]))
            else:
                row.update(test="none (no intervals)", diff_ci=None, significant=None)
        rows.append(row)
    return rows


def render(rows: list[dict[str, Any]], a: str, b: str) -> str:
    header = f"{'metric':20s} {'A':>8s} {'B':>8s} {'B-A':>8s}  {'95% CI of B-A':19s} sig  test"
    lines = [f"A = {a}", f"B = {b}", header, "-" * len(header)]
    for r in rows:
        ci = r.get("diff_ci")
        ci_text = f"[{ci[0]:+.4f}, {ci[1]:+.4f}]" if ci else ""
        sig = {True: "yes", False: "no", None: "?"}[r["significant"]]
        lines.append(f"{r['metric']:20s} {r['a']:8.4f} {r['b']:8.4f} {r['diff']:+8.4f}  "
                     f"{ci_text:19s} {sig:3s}  {r['test']}")
    return "\n".join(lines)

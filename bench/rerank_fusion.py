"""Should the reranker's order replace the hybrid order, or be fused with it?

For BioASQ questions of the validation split (never trained on; the reranker was only
early-stopped on it) and the test split, the hybrid retriever's top 50 documents are reranked
once; the same scores then give every ordering compared here:

- ``hybrid``: the fused (RRF) order, no reranker;
- ``rerank``: the cross-encoder's order (clinrag's behaviour before this bench);
- ``rrf(w)``: reciprocal rank fusion of the hybrid rank and the reranker rank, the reranker
  weighted ``w`` (``retrieve.rerank_fusion_weight``).

The weight is chosen on validation (best nDCG@10) and reported on test; metrics by ranx.

    python bench/rerank_fusion.py [--index data/cache/bioasq_index] [--limit N]

Writes bench/results/rerank_fusion.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from clinrag.settings import load_settings  # noqa: E402
from retriever.bioasq import load_questions, split  # noqa: E402
from retriever.fusion import fuse_rerank  # noqa: E402
from retriever.types import SearchParams  # noqa: E402

METRICS = ["ndcg@10", "recall@10", "mrr@10"]
WEIGHTS = [0.5, 1.0, 1.5, 2.0, 3.0, 5.0]


def collect(retriever, questions) -> dict[str, list[tuple[str, float, float | None]]]:
    """qid -> [(doc id, hybrid RRF score, reranker score or None)] in hybrid order."""
    out = {}
    for q in questions:
        hits = retriever.search(q.body, SearchParams(k=100, mode="hybrid", rerank=True)).hits
        rows = [(h.doc_id, h.scores["rrf"], h.scores.get("rerank")) for h in hits]
        out[q.qid] = sorted(rows, key=lambda r: -r[1])
    return out


def ordering(rows, weight: float | None, reranked: bool = True) -> dict[str, float]:
    """doc id -> score whose descending order is the ranking (``weight`` None: rerank only)."""
    head = [r for r in rows if r[2] is not None]
    tail = [r for r in rows if r[2] is None]
    if not reranked:
        order = [r[0] for r in rows]
    else:
        order = fuse_rerank([r[0] for r in head], [r[2] for r in head], weight)
        order += [r[0] for r in tail]
    return {doc: float(len(order) - i) for i, doc in enumerate(order)}


def main() -> int:
    from ranx import Qrels, Run, evaluate

    from retriever.hybrid import Retriever

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", type=Path, default=REPO / "data/cache/bioasq_index")
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared/data/bioasq")
    parser.add_argument("--limit", type=int)
    parser.add_argument("--out", type=Path, default=REPO / "bench/results")
    args = parser.parse_args()
    settings = load_settings({"index": args.index, "retrieve": {
        "max_per_doc": 1, "depth": 400, "rerank_top_n": 50}})
    retriever = Retriever.open(settings)
    result: dict = {"weights": WEIGHTS}
    for split_name in ("val", "test"):
        questions = [q for q in split(load_questions(args.data), split_name)
                     if q.gold_doc_ids][: args.limit or None]
        runs = collect(retriever, questions)
        qrels = Qrels({q.qid: {d: 1 for d in q.gold_doc_ids} for q in questions})
        table = {}
        systems = {"hybrid": (None, False), "rerank": (None, True),
                   **{f"rrf({w})": (w, True) for w in WEIGHTS}}
        for name, (weight, reranked) in systems.items():
            run = Run({qid: ordering(rows, weight, reranked) for qid, rows in runs.items()})
            table[name] = {m: round(float(v), 4) for m, v in
                           evaluate(qrels, run, METRICS).items()}
        result[split_name] = {"questions": len(questions), "table": table}
        print(split_name, json.dumps(table), flush=True)
    fused = [f"rrf({w})" for w in WEIGHTS]
    best = max(fused, key=lambda n: result["val"]["table"][n]["ndcg@10"])
    result["chosen_on_val"] = best
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "rerank_fusion.json").write_text(json.dumps(result, indent=1))
    lines = ["# Reranker order vs fused with the hybrid order (bench/rerank_fusion.py)", "",
             f"BioASQ, one hit per document; validation {result['val']['questions']} and test "
             f"{result['test']['questions']} questions. Weight chosen on validation: "
             f"**{best}**.", "",
             "| ordering | " + " | ".join(f"val {m}" for m in METRICS) + " | "
             + " | ".join(f"test {m}" for m in METRICS) + " |",
             "|---" * (1 + 2 * len(METRICS)) + "|"]
    for name in result["val"]["table"]:
        v, t = result["val"]["table"][name], result["test"]["table"][name]
        lines.append(f"| {name} | " + " | ".join(f"{v[m]:.4f}" for m in METRICS) + " | "
                     + " | ".join(f"{t[m]:.4f}" for m in METRICS) + " |")
    (args.out / "rerank_fusion.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())

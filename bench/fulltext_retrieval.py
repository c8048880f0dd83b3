"""Retrieval inside full-text papers (COVID-QA, split by paper): systems side by side.

    python bench/fulltext_retrieval.py [--split val] [--limit N] [--chunks 200:40 128:32 256:48]

The corpus is the 98 COVID-QA papers, one document each (`clinrag eval run squad`); a
question's gold is the passage holding its answer span. For each chunking (a separate index,
built once and cached under data/cache/eval) and each system (bm25, dense, hybrid, hybrid +
reranker) at per-document caps 3 and 5 (the shipped `retrieve.max_per_doc`), it reports the
answer passage in the top 1 / 5 / 10, MRR@10, the right paper first (nDCG@10 over papers) and
the median passage-search latency, plus each system's paired-bootstrap difference in hit@5
from hybrid without the reranker (the order the reranker must not make worse).

Reranker scores are cached per (question, passage), so only the first reranked row of a
chunking pays for reranking; the latency of the rows after it is not reranking time.

Choose on ``--split val`` (240 questions on 12 papers); ``test`` (280 on 17) is run once to
report. Writes bench/results/fulltext_retrieval_<split>.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from clinrag.settings import load_settings  # noqa: E402

SYSTEMS = (("bm25", "bm25", False), ("dense", "dense", False), ("hybrid", "hybrid", False),
           ("hybrid+rerank", "hybrid", True))
BASELINE = "hybrid"
DEFAULT_WEIGHT = 0.5     # retrieve.rerank_fusion_weight as shipped


def run(data: Path, split: str, limit: int | None, chunkings: list[tuple[int, int]],
        caps: list[int], systems: list[str], scratch: Path, weights: list[float],
        rank_documents: bool) -> dict:
    from eval.bootstrap import paired_difference
    from eval.corpus import ensure_index
    from eval.datasets import load_benchmark
    from eval.harness import EvalConfig, evaluate
    from ingest.embed import Embedder
    from retriever.hybrid import Retriever, load_reranker

    result: dict = {"split": split, "data": str(data), "runs": []}
    embedder = reranker = None
    for size, overlap in chunkings:
        settings = load_settings({"home": REPO / "data", "chunk": {"size": size,
                                                                    "overlap": overlap}})
        embedder = embedder or Embedder.load(settings.embed)
        # Build (or reuse) this chunking's index the way `clinrag eval run` does.
        index = ensure_index(load_benchmark("squad", data), settings, embedder=embedder)
        settings = settings.model_copy(update={"index": index})
        reranker = reranker or load_reranker(settings)
        # Every (question, passage) score is kept, so the variants below that differ only
        # after reranking (per-document cap, fusion weight) score each pair once.
        reranker.cache_size = 10_000_000
        retriever = Retriever.open(settings, embedder=embedder, reranker=reranker)
        chunks = len(retriever.generation.chunks)
        for cap in caps:
            per_question: dict[str, dict[str, float]] = {}
            for name, mode, rerank, weight in _systems(systems, weights):
                config = EvalConfig("squad", data, split=split, limit=limit, mode=mode,
                                    rerank=rerank, answers=False, max_per_doc=cap,
                                    out=scratch / f"{size}-{cap}-{name}", fresh=True,
                                    rank_documents=rank_documents, progress=False)
                run_settings = settings if weight is None else settings.model_copy(update={
                    "retrieve": settings.retrieve.model_copy(
                        update={"rerank_fusion_weight": weight})})
                t0 = time.perf_counter()
                evaluated = evaluate(config, run_settings, judge=None, retriever=retriever)
                rows = [json.loads(line) for line in
                        (evaluated.out / "per_example.jsonl").open(encoding="utf-8")]
                table = json.loads((evaluated.out / "per_example_scores.json").read_text())
                per_question[name] = table["passage_hit@5"]
                m = evaluated.metrics
                entry = {"chunk_size": size, "overlap": overlap, "chunks": chunks,
                         "max_per_doc": cap, "system": name, "n": m["n"],
                         **{k: m.get(k) for k in ("passage_hit@1", "passage_hit@5",
                                                  "passage_hit@10", "passage_mrr@10",
                                                  "ndcg@10")},
                         "passage_hit@5_ci": m.get("passage_hit@5_ci"),
                         "passages_ms_p50": _median([r["timings_ms"].get("passages")
                                                     for r in rows]),
                         "wall_s": round(time.perf_counter() - t0, 1)}
                result["runs"].append(entry)
                print(json.dumps(entry), flush=True)
            if BASELINE in per_question:
                base = per_question[BASELINE]
                for entry in result["runs"][-len(per_question):]:
                    other = per_question[entry["system"]]
                    ids = sorted(base)
                    diff, ci = paired_difference([base[i] for i in ids],
                                                 [other[i] for i in ids])
                    entry["hit@5_vs_hybrid"] = {"diff": round(diff, 4),
                                                "ci": [round(ci[0], 4), round(ci[1], 4)]}
    return result


def _systems(names: list[str], weights: list[float]):
    """(name, mode, rerank, fusion weight or None) for each system asked for."""
    for name, mode, rerank in SYSTEMS:
        if name not in names:
            continue
        if not rerank:
            yield name, mode, rerank, None
            continue
        for weight in weights:
            yield (name if weight == DEFAULT_WEIGHT else f"{name} w={weight:g}", mode, rerank,
                   weight)


def _median(values) -> float | None:
    import numpy as np

    values = [v for v in values if v is not None]
    return round(float(np.median(values)), 1) if values else None


def _f(value) -> str:
    return "–" if value is None else f"{value:.3f}"


def to_markdown(result: dict) -> str:
    out = [f"# Retrieval inside full-text papers: COVID-QA {result['split']} (split by paper)",
           "", "| chunk size / overlap | chunks | per-doc cap | system | n | hit@1 | hit@5 "
           "| hit@10 | MRR@10 | paper nDCG@10 | hit@5 vs hybrid (paired 95% CI) "
           "| search p50 ms |", "|" + " --- |" * 12]
    notes = ["", "Reranked rows after the first of a chunking reuse its cached reranker scores: "
             "their search time is not reranking time."]
    for r in result["runs"]:
        vs = r.get("hit@5_vs_hybrid")
        vs_text = "–" if not vs or r["system"] == BASELINE else (
            f"{vs['diff']:+.3f} [{vs['ci'][0]:+.3f}, {vs['ci'][1]:+.3f}]")
        out.append(f"| {r['chunk_size']} / {r['overlap']} | {r['chunks']} | {r['max_per_doc']} "
                   f"| {r['system']} | {r['n']} | {r['passage_hit@1']:.3f} "
                   f"| {r['passage_hit@5']:.3f} | {r['passage_hit@10']:.3f} "
                   f"| {r['passage_mrr@10']:.3f} | {_f(r['ndcg@10'])} | {vs_text} "
                   f"| {r['passages_ms_p50']} |")
    return "\n".join(out + notes) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path,
                        default=REPO.parent / "shared/data/covidqa/covidqa_200423.json")
    parser.add_argument("--split", choices=("train", "val", "test"), default="val")
    parser.add_argument("--limit", type=int)
    parser.add_argument("--chunks", nargs="+", default=["200:40"],
                        help="chunk size:overlap in tokens, one index each")
    parser.add_argument("--caps", nargs="+", type=int, default=[3, 5])
    parser.add_argument("--systems", nargs="+", default=[s[0] for s in SYSTEMS])
    parser.add_argument("--weights", nargs="+", type=float, default=[DEFAULT_WEIGHT],
                        help="reranker fusion weights to try (retrieve.rerank_fusion_weight)")
    parser.add_argument("--no-doc-ranking", action="store_true",
                        help="skip the one-hit-per-paper ranking (its nDCG column); with the "
                        "reranker it costs ~4 s a question on 2 fp32 cores")
    parser.add_argument("--out", type=Path, default=REPO / "bench/results")
    args = parser.parse_args(argv)
    chunkings = [tuple(int(x) for x in c.split(":")) for c in args.chunks]
    import tempfile

    with tempfile.TemporaryDirectory(prefix="fulltext-bench-") as scratch:
        result = run(args.data, args.split, args.limit, chunkings, args.caps, args.systems,
                     Path(scratch), args.weights, not args.no_doc_ranking)
    args.out.mkdir(parents=True, exist_ok=True)
    stem = f"fulltext_retrieval_{args.split}"
    (args.out / f"{stem}.json").write_text(json.dumps(result, indent=1) + "\n")
    (args.out / f"{stem}.md").write_text(to_markdown(result))
    print(to_markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

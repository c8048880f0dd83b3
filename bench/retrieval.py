"""Retrieval quality on BioASQ: bm25, dense, hybrid, hybrid+rerank side by side in one run.

Corpus: every gold snippet of BioASQ 7B-10B grouped by PubMed id (the index `ingest run`
builds from the golden files). Queries: the *test* split of questions (retriever/bioasq.py),
never used to train the reranker nor to early-stop it. Relevant: the question's gold
documents. Rankings are per document (one hit per document), metrics by ranx.

    python bench/retrieval.py [--data ../shared/data/bioasq] [--index data/cache/bioasq_index]

Writes bench/results/retrieval.{json,md}; `--update-baselines` also rewrites
bench/baselines/retrieval.json; `--check` compares the run with it and exits 1 on a regression
beyond its tolerance (the full split is too slow for CI: CI checks a 20-question BioASQ subset
against tests/data/eval/expected_bioasq10b1_20.json instead).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from clinrag.settings import load_settings  # noqa: E402
from retriever.bioasq import load_questions, split  # noqa: E402

METRICS = ["ndcg@10", "recall@10", "recall@100", "mrr@10"]
SYSTEMS = ["bm25", "dense", "hybrid", "hybrid+rerank"]


def evaluate_systems(index: Path, data: Path, split_name: str, limit: int | None,
                     systems: list[str]) -> dict:
    from ranx import Qrels, Run, evaluate

    from ingest.pipeline import run as ingest_run
    from ingest.store import IndexStore
    from retriever.hybrid import Retriever

    settings = load_settings({"index": index, "retrieve": {
        "max_per_doc": 1, "depth": 400, "rerank_top_n": 50}})
    if not IndexStore(settings.index_dir).exists():
        print(f"building the BioASQ index at {index} ...", flush=True)
        ingest_run([data], settings)
    questions = split(load_questions(data), split_name)
    questions = [q for q in questions if q.gold_doc_ids][: limit or None]
    retriever = Retriever.open(settings, reranker="auto" if "hybrid+rerank" in systems else None)
    qrels = Qrels({q.qid: {d: 1 for d in q.gold_doc_ids} for q in questions})
    results, runs, latencies = {}, {}, {}
    for system in systems:
        mode = "hybrid" if system.startswith("hybrid") else system
        rerank = system.endswith("+rerank")
        run, times = {}, []
        for q in questions:
            t = time.perf_counter()
            hits = retriever.search(q.body, 100, mode=mode, rerank=rerank)
            times.append(time.perf_counter() - t)
            run[q.qid] = {h.doc_id: float(len(hits) - i) for i, h in enumerate(hits)} or {
                "none": 0.0}
        runs[system] = Run(run, name=system)
        results[system] = {k: round(float(v), 4) for k, v in
                           evaluate(qrels, runs[system], METRICS).items()}
        latencies[system] = round(float(np.median(times)) * 1000, 1)
        print(f"{system:14s} {results[system]}  p50 {latencies[system]} ms", flush=True)
    return {"split": split_name, "questions": len(questions),
            "index_generation": retriever.generation.name,
            "chunks": len(retriever.generation.chunks),
            "documents": len(retriever.generation.documents),
            "reranker": getattr(retriever.reranker, "name", None),
            "metrics": results, "latency_p50_ms": latencies}


def tokenizer_variants(index: Path, data: Path, split_name: str, limit: int | None) -> dict:
    """BM25 with and without stopwords and stemming, on the same chunks (no re-embedding)."""
    from ranx import Qrels, Run, evaluate

    from clinrag.settings import ChunkSettings
    from ingest.chunk import index_text, passage_text
    from ingest.store import IndexStore
    from ingest.store.sparse import SparseIndex
    from ingest.tokenize import TokenizerConfig, tokenize
    from retriever.bm25 import BM25Engine

    settings = load_settings({"index": index})
    generation = IndexStore(settings.index_dir).open()
    # The text the index's BM25 was built from (indexes from before placeholder titles were
    # left out embedded them, like the models' passage text).
    chunker = generation.manifest["chunker"]
    as_indexed = index_text if "placeholder_titles" in chunker else passage_text
    prefix = ChunkSettings(prefix_title=bool(chunker.get("prefix_title", True)))
    texts = [as_indexed(c, generation.documents[c.doc_id].title, prefix)
             for c in generation.chunks]
    questions = [q for q in split(load_questions(data), split_name) if q.gold_doc_ids]
    questions = questions[: limit or None]
    qrels = Qrels({q.qid: {d: 1 for d in q.gold_doc_ids} for q in questions})
    out = {}
    for name, config in {"stopwords": TokenizerConfig(True, False),
                         "no-stopwords": TokenizerConfig(False, False),
                         "stopwords+stem": TokenizerConfig(True, True)}.items():
        sparse = SparseIndex.empty().updated(np.zeros(0, dtype=np.int64),
                                             [tokenize(t, config) for t in texts])
        engine = BM25Engine.build(sparse, config)
        run = {}
        for q in questions:
            top, scores = engine.search(q.body, 400)
            docs: dict[str, float] = {}
            for position, score in zip(top, scores):
                doc = generation.chunks[int(position)].doc_id
                if doc not in docs:
                    docs[doc] = float(score)
                if len(docs) == 100:
                    break
            run[q.qid] = docs or {"none": 0.0}
        out[name] = {k: round(float(v), 4) for k, v in evaluate(qrels, Run(run), METRICS).items()}
        print(f"bm25[{name}] {out[name]}", flush=True)
    return out


def render(result: dict) -> str:
    lines = [f"BioASQ {result['split']} split: {result['questions']} questions over "
             f"{result['documents']} documents / {result['chunks']} chunks "
             f"(generation {result['index_generation']}); reranker {result['reranker']}", "",
             "| system | " + " | ".join(METRICS) + " | p50 ms |",
             "|---|" + "---|" * (len(METRICS) + 1)]
    for system, metrics in result["metrics"].items():
        lines.append(f"| {system} | " + " | ".join(f"{metrics[m]:.4f}" for m in METRICS)
                     + f" | {result['latency_p50_ms'][system]} |")
    if result.get("tokenizers"):
        lines += ["", "| BM25 tokenizer | " + " | ".join(METRICS) + " |",
                  "|---|" + "---|" * len(METRICS)]
        for name, metrics in result["tokenizers"].items():
            lines.append(f"| {name} | " + " | ".join(f"{metrics[m]:.4f}" for m in METRICS) + " |")
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared/data/bioasq")
    parser.add_argument("--index", type=Path, default=REPO / "data/cache/bioasq_index")
    parser.add_argument("--split", default="test", choices=["val", "test"])
    parser.add_argument("--limit", type=int, help="first N questions only (quick check)")
    parser.add_argument("--systems", default=",".join(SYSTEMS))
    parser.add_argument("--no-tokenizers", action="store_true")
    parser.add_argument("--out", type=Path, default=REPO / "bench/results")
    parser.add_argument("--update-baselines", action="store_true")
    parser.add_argument("--check", action="store_true",
                        help="exit 1 if a metric fell below bench/baselines/retrieval.json")
    args = parser.parse_args()
    if not args.data.exists():
        print(f"BioASQ data not found at {args.data}", file=sys.stderr)
        return 2
    result = evaluate_systems(args.index, args.data, args.split, args.limit,
                              args.systems.split(","))
    if not args.no_tokenizers:
        result["tokenizers"] = tokenizer_variants(args.index, args.data, args.split, args.limit)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "retrieval.json").write_text(json.dumps(result, indent=1))
    (args.out / "retrieval.md").write_text(render(result) + "\n")
    print(render(result))
    if args.update_baselines and not args.limit:
        baselines = REPO / "bench/baselines/retrieval.json"
        baselines.parent.mkdir(parents=True, exist_ok=True)
        baselines.write_text(json.dumps({
            "split": result["split"], "questions": result["questions"],
            "tolerance": 0.02, "metrics": result["metrics"],
            "expected": {"hybrid >= best single (ndcg@10)": True,
                         "hybrid+rerank > hybrid (ndcg@10)": True},
        }, indent=1))
    if args.check:
        return check_baselines(result, REPO / "bench/baselines/retrieval.json")
    return 0


def check_baselines(result: dict, path: Path) -> int:
    """Every metric of every system within the tolerance of (or above) the stored baseline."""
    baseline = json.loads(path.read_text())
    failures = [
        f"{system} {metric}: {result['metrics'][system][metric]:.4f} < baseline {value:.4f}"
        for system, figures in baseline["metrics"].items() if system in result["metrics"]
        for metric, value in figures.items()
        if result["metrics"][system][metric] < value - baseline["tolerance"]]
    print("\n".join(failures) or f"no regression against {path}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())

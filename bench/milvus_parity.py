"""Local index vs Milvus backend on the same generation, side by side in one run.

    milvus-lite server --host 127.0.0.1 --port 19530 --data-dir /tmp/milvus &
    python bench/milvus_parity.py [--index data/cache/pqa_index] [--uri http://127.0.0.1:19530]

The index's current generation (default: the PubMedQA* corpus, 500 PubMedQA abstracts + the
BioASQ 7B-10B snippet documents) is published to the server as it is (no re-embedding; the
publish time is reported), then the BioASQ 10B questions (the temporal split's validation and
test halves) are searched on both backends with the same embedder: per mode (dense, BM25,
hybrid; no reranking, so the engines are compared, not the shared reranker), document
nDCG@10 against the gold documents, the overlap of the top-10 documents, and query latency
p50/p95. Results: bench/results/milvus_parity.{json,md}, with the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from clinrag.settings import load_settings  # noqa: E402
from eval.retrieval import per_query, ranking_scores  # noqa: E402
from retriever.bioasq import load_questions, temporal_split  # noqa: E402
from retriever.types import SearchParams  # noqa: E402


def pct(values: list[float], q: float) -> float:
    return round(float(np.percentile(values, q)), 2)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", type=Path, default=REPO / "data/cache/pqa_index")
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared/data/bioasq")
    parser.add_argument("--uri", default="http://127.0.0.1:19530")
    parser.add_argument("--collection", default="parity")
    parser.add_argument("--limit", type=int, default=0, help="questions (0: all of 10B)")
    parser.add_argument("--out", type=Path, default=REPO / "bench/results")
    args = parser.parse_args(argv)

    from ingest.embed import Embedder
    from ingest.store import IndexStore
    from ingest.store.generation import document_paths
    from ingest.store.milvus import MilvusTarget, publish
    from retriever.hybrid import Retriever

    local_settings = load_settings({"index": args.index})
    milvus_settings = load_settings({"index": args.index, "retrieve": {
        "backend": "milvus", "milvus_uri": args.uri, "milvus_collection": args.collection}})
    generation = IndexStore(args.index).open(verify=False)
    t = time.perf_counter()
    published = publish(generation, MilvusTarget.of(milvus_settings), keep=1,
                        paths=document_paths(generation))
    publish_s = round(time.perf_counter() - t, 1)
    print(f"published {published.collection}: {published.chunks} chunks in {publish_s}s "
          f"(unchanged: {published.unchanged})", flush=True)

    embedder = Embedder.load(local_settings.embed)
    t = time.perf_counter()
    local = Retriever.open(local_settings, embedder=embedder, reranker=None)
    local_open_s = round(time.perf_counter() - t, 2)
    t = time.perf_counter()
    remote = Retriever.open(milvus_settings, embedder=embedder, reranker=None)
    remote_open_s = round(time.perf_counter() - t, 2)

    questions = [q for q in load_questions(args.data)
                 if temporal_split(q) != "train" and q.gold_doc_ids]
    questions = questions[: args.limit] if args.limit else questions
    vectors = embedder.encode([q.body for q in questions])
    qrels = {q.qid: {d: 1 for d in q.gold_doc_ids} for q in questions}
    cpu = next((line.split(":", 1)[1].strip() for line in
                Path("/proc/cpuinfo").read_text().splitlines() if line.startswith("model name")),
               platform.processor() or platform.machine()) \
        if Path("/proc/cpuinfo").exists() else platform.machine()
    result = {"machine": f"{cpu}, {os.cpu_count()} cores",
              "index": str(args.index), "generation": generation.name,
              "chunks": len(generation.chunks), "questions": len(questions),
              "publish_s": publish_s if not published.unchanged else None,
              "open_s": {"local": local_open_s, "milvus": remote_open_s}, "modes": {}}
    for mode in ("dense", "bm25", "hybrid"):
        params = SearchParams(k=10, mode=mode, rerank=False, max_per_doc=1)
        runs: dict[str, dict] = {"local": {}, "milvus": {}}
        times: dict[str, list[float]] = {"local": [], "milvus": []}
        for q, vector in zip(questions, vectors):
            for name, retriever in (("local", local), ("milvus", remote)):
                t = time.perf_counter()
                hits = retriever.search(q.body, params, query_vector=vector).hits
                times[name].append((time.perf_counter() - t) * 1000)
                runs[name][q.qid] = [h.doc_id for h in hits]
        row = {}
        for name in runs:
            ndcg = per_query(qrels, {k: ranking_scores(v) for k, v in runs[name].items()},
                             ("ndcg@10",))["ndcg@10"]
            row[name] = {"ndcg@10": round(statistics.mean(ndcg.values()), 4),
                         "p50_ms": pct(times[name], 50), "p95_ms": pct(times[name], 95)}
        overlap = [len(set(runs["local"][q]) & set(runs["milvus"][q])) / 10
                   for q in runs["local"]]
        same_first = [runs["local"][q][:1] == runs["milvus"][q][:1] for q in runs["local"]]
        row["top10_overlap"] = round(statistics.mean(overlap), 4)
        row["same_first"] = round(statistics.mean(same_first), 4)
        result["modes"][mode] = row
        print(mode, json.dumps(row), flush=True)

    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "milvus_parity.json").write_text(json.dumps(result, indent=1) + "\n")
    lines = [f"# Local vs Milvus backend ({result['questions']} BioASQ 10B questions, "
             f"{result['chunks']} chunks, {result['machine']})", "",
             f"Publish (no re-embedding): {result['publish_s']} s; open: local "
             f"{local_open_s} s, milvus {remote_open_s} s. No reranking.", "",
             "| mode | nDCG@10 local | nDCG@10 milvus | top-10 overlap | same first | "
             "p50 / p95 ms local | p50 / p95 ms milvus |", "|---|---|---|---|---|---|---|"]
    for mode, row in result["modes"].items():
        lines.append(f"| {mode} | {row['local']['ndcg@10']} | {row['milvus']['ndcg@10']} | "
                     f"{row['top10_overlap']} | {row['same_first']} | "
                     f"{row['local']['p50_ms']} / {row['local']['p95_ms']} | "
                     f"{row['milvus']['p50_ms']} / {row['milvus']['p95_ms']} |")
    (args.out / "milvus_parity.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())

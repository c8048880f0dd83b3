"""Query latency at 100k chunks: BM25 engine vs rank-bm25, exact vs HNSW dense search, and the
full hybrid+rerank search, side by side in one run.

The 100k-chunk corpus is synthesised from the real BioASQ index: chunk texts are replicated
with word-level perturbation (drop ~15% of words, shuffle a window), vectors are replicated
with Gaussian noise and re-normalised, so term statistics and vector geometry stay realistic.

    python bench/latency.py [--index data/cache/bioasq_index] [--size 100000] [--queries 50]
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from clinrag.device import configure_cpu_threads  # noqa: E402
from clinrag.settings import load_settings  # noqa: E402


def perturb(text: str, rng: random.Random) -> str:
    words = text.split()
    kept = [w for w in words if rng.random() > 0.15] or words
    if len(kept) > 8:
        i = rng.randrange(len(kept) - 6)
        window = kept[i:i + 6]
        rng.shuffle(window)
        kept[i:i + 6] = window
    return " ".join(kept)


def p50(values: list[float]) -> float:
    return round(statistics.median(values) * 1000, 3)


def p95(values: list[float]) -> float:
    return round(float(np.percentile(values, 95)) * 1000, 3)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", type=Path, default=REPO / "data/cache/bioasq_index")
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared/data/bioasq")
    parser.add_argument("--size", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=50)
    parser.add_argument("--out", type=Path, default=REPO / "bench/results")
    args = parser.parse_args()
    threads = configure_cpu_threads()

    import faiss
    from rank_bm25 import BM25Okapi

    from ingest.store import IndexStore
    from ingest.store.sparse import SparseIndex
    from ingest.tokenize import TokenizerConfig, tokenize
    from retriever.bioasq import load_questions, split
    from retriever.bm25 import BM25Engine
    from ingest.store.dense import build_hnsw
    from retriever.index_view import chunk_passage
    from retriever.hybrid import Retriever

    settings = load_settings({"index": args.index})
    generation = IndexStore(settings.index_dir).open()
    rng = random.Random(7)
    base_texts = [chunk_passage(generation, i) for i in range(len(generation.chunks))]
    texts = list(base_texts)
    while len(texts) < args.size:
        texts.append(perturb(rng.choice(base_texts), rng))
    texts = texts[: args.size]
    questions = [q.body for q in split(load_questions(args.data), "test")][: args.queries]
    result: dict = {"chunks": len(texts), "queries": len(questions), "threads": threads}

    # -- BM25 ---------------------------------------------------------------------------
    config = TokenizerConfig()
    t = time.perf_counter()
    tokens = [tokenize(text, config) for text in texts]
    tokenize_s = time.perf_counter() - t
    t = time.perf_counter()
    engine = BM25Engine.build(SparseIndex.empty().updated(np.zeros(0, dtype=np.int64), tokens),
                              config)
    ours_build = time.perf_counter() - t
    t = time.perf_counter()
    reference = BM25Okapi(tokens)
    ref_build = time.perf_counter() - t
    ours, ref, same_top10, max_diff = [], [], 0, 0.0
    for q in questions:
        t = time.perf_counter()
        top, _ = engine.search(q, 10)
        ours.append(time.perf_counter() - t)
        t = time.perf_counter()
        scores = reference.get_scores(tokenize(q, config))
        ref_top = np.argsort(-scores, kind="stable")[:10]
        ref.append(time.perf_counter() - t)
        mine = engine.scores(q)
        max_diff = max(max_diff, float(np.abs(mine - scores).max()))
        # Identical top-10: same scores rank by rank (ties may order differently).
        same_top10 += bool(np.allclose(np.sort(scores[top])[::-1], scores[ref_top], atol=1e-4))
    result["bm25"] = {
        "ours_p50_ms": p50(ours), "ours_p95_ms": p95(ours),
        "rank_bm25_p50_ms": p50(ref), "rank_bm25_p95_ms": p95(ref),
        "speedup_p50": round(statistics.median(ref) / statistics.median(ours), 1),
        "identical_top10": f"{same_top10}/{len(questions)}", "max_abs_score_diff": max_diff,
        "build_s": {"tokenize": round(tokenize_s, 1), "ours": round(ours_build, 1),
                    "rank_bm25": round(ref_build, 1)},
    }
    print(json.dumps(result["bm25"]), flush=True)
    del reference

    # -- dense --------------------------------------------------------------------------
    ids = faiss.vector_to_array(generation.dense.id_map)
    base = generation.dense.index.reconstruct_n(0, generation.dense.ntotal)
    nprng = np.random.default_rng(7)
    reps = int(np.ceil(args.size / len(base)))
    vectors = np.concatenate([base] + [
        base + nprng.normal(0, 0.03, base.shape).astype(np.float32) for _ in range(reps - 1)])
    vectors = vectors[: args.size]
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    del ids
    flat = faiss.IndexIDMap2(faiss.IndexFlatIP(vectors.shape[1]))
    flat.add_with_ids(vectors, np.arange(len(vectors), dtype=np.int64))
    t = time.perf_counter()
    hnsw = build_hnsw(flat)
    hnsw_build = time.perf_counter() - t
    from ingest.embed import Embedder

    embedder = Embedder.load(settings.embed)
    qvecs = embedder.encode(questions)
    faiss.omp_set_num_threads(1)  # single-query latency: one thread, no pool wake-up cost
    flat_times, exact = [], []
    for v in qvecs:
        t = time.perf_counter()
        _, I = flat.search(v.reshape(1, -1), 10)
        flat_times.append(time.perf_counter() - t)
        exact.append(set(I[0].tolist()))
    dense = {"flat_p50_ms": p50(flat_times), "hnsw_build_s": round(hnsw_build, 1)}
    for ef in (32, 64, 128):
        times, recall = [], []
        params = faiss.SearchParametersHNSW(efSearch=ef)
        for v, truth in zip(qvecs, exact):
            t = time.perf_counter()
            _, I = hnsw.search(v.reshape(1, -1), 10, params=params)
            times.append(time.perf_counter() - t)
            recall.append(len(set(I[0].tolist()) & truth) / 10)
        dense[f"hnsw_ef{ef}"] = {"p50_ms": p50(times), "p95_ms": p95(times),
                                 "recall@10_vs_exact": round(float(np.mean(recall)), 4)}
    faiss.omp_set_num_threads(threads)
    result["dense"] = dense
    print(json.dumps(dense), flush=True)

    # -- full search on the real index ---------------------------------------------------
    retriever = Retriever.open(settings, embedder=embedder)
    full = {}
    for label, rerank in (("hybrid", False), ("hybrid+rerank50", True)):
        times = []
        for q in questions:
            t = time.perf_counter()
            retriever.search(q, 10, rerank=rerank)
            times.append(time.perf_counter() - t)
        full[label] = {"p50_ms": p50(times), "p95_ms": p95(times)}
    result["full_search_real_index"] = {"chunks": len(generation.chunks), **full,
                                        "reranker_precision": retriever.reranker.precision}
    print(json.dumps(result["full_search_real_index"]), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "latency.json").write_text(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

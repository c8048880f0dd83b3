"""The GPU path against the CPU path on the same data, in one prepared run.

    python bench/gpu_check.py [--index data/cache/pqa_index] [--vectors 1000000]
                              [--embed 20000] [--queries 1000] [--out bench/results]
    python bench/gpu_check.py --export data/cache/gpu_inputs      # here, once
    python bench/gpu_check.py --inputs data/cache/gpu_inputs      # on the GPU machine

Meant for a lent GPU machine (one H100: well under 10 minutes at the defaults); on a machine
without CUDA it runs the CPU half and says so (`--vectors 20000 --embed 500` is the smoke
run the tests use). Steps, each timed:

1. **Embedding**: the index's own chunk texts (the first ``--embed``) embedded with the
   packaged MiniLM on the CPU (a 1,000-text sample: chunks/s) and on CUDA (all of them,
   fp32 and bf16: chunks/s), and the cosine between the CPU and CUDA vectors of each text.
2. **Search data**: the index's stored vectors, widened to ``--vectors`` by a fixed recipe
   (each copy = a stored vector + Gaussian noise of scale 0.05, re-normalised; seed 13), and
   ``--queries`` real questions embedded (BioASQ if the shared data is there, else chunk
   texts).
3. **Searchers** (top-10 by inner product): FAISS flat on the CPU (the reference), FAISS flat
   and IVF (nlist 4096, nprobe 32) on the GPU when the FAISS build has GPU support, and exact
   search in torch (one matmul + topk) on the GPU, the fallback when it has not. For each:
   queries/s at batch 1 and batch 64, and agreement with the reference (share of queries
   with the identical top-10 set for exact searchers; recall@10 for IVF).

faiss GPU: `pip install -e '.[gpu]'` (faiss-gpu-cu12, CUDA 12 runtime) where the machine
has CUDA 12 and a registry. The lent machine has CUDA 13, torch and sentence-transformers
but no FAISS and no registry: the inputs travel as an ``--export`` folder (~27 MB at 17k
vectors), the CPU reference is then exact search in numpy and the GPU searcher exact search
in torch, and the table says which ran. Results:
bench/results/gpu_check.{json,md}, with the machine.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from clinrag.settings import load_settings  # noqa: E402


def machine() -> dict:
    cpu = platform.processor() or platform.machine()
    if Path("/proc/cpuinfo").exists():
        cpu = next((line.split(":", 1)[1].strip() for line in
                    Path("/proc/cpuinfo").read_text().splitlines()
                    if line.startswith("model name")), cpu)
    out = {"cpu": cpu, "cores": os.cpu_count(), "gpu": None}
    try:
        import torch

        if torch.cuda.is_available():
            out["gpu"] = torch.cuda.get_device_name(0)
            out["cuda"] = torch.version.cuda
    except ImportError:
        pass
    return out


def widened(base: np.ndarray, n: int, seed: int = 13) -> np.ndarray:
    """``n`` unit vectors: ``base`` first, then noisy re-normalised copies of its rows."""
    rng = np.random.default_rng(seed)
    parts = [base[:n]]
    have = len(parts[0])
    while have < n:
        take = min(len(base), n - have)
        noisy = base[rng.integers(0, len(base), take)] + \
            rng.normal(0, 0.05, (take, base.shape[1])).astype(np.float32)
        parts.append(noisy / np.linalg.norm(noisy, axis=1, keepdims=True))
        have += take
    return np.ascontiguousarray(np.concatenate(parts), dtype=np.float32)


def timed_search(search, queries: np.ndarray, batch: int, limit: int) -> tuple[float, np.ndarray]:
    """Queries per second at ``batch`` (over at most ``limit`` queries) and the top-10 ids."""
    qs = queries[:limit]
    search(qs[:batch])                      # warm-up (kernels, allocations)
    ids = []
    t = time.perf_counter()
    for i in range(0, len(qs), batch):
        ids.append(search(qs[i:i + batch]))
    elapsed = time.perf_counter() - t
    return len(qs) / elapsed, np.concatenate(ids)


def agreement(ids: np.ndarray, truth: np.ndarray) -> dict[str, float]:
    same = [set(a.tolist()) == set(b.tolist()) for a, b in zip(ids, truth)]
    recall = [len(set(a.tolist()) & set(b.tolist())) / 10 for a, b in zip(ids, truth)]
    return {"identical_top10": round(float(np.mean(same)), 4),
            "recall@10": round(float(np.mean(recall)), 4)}


def embedding_check(texts: list[str], result: dict) -> None:
    import torch

    from ingest.embed import Embedder

    settings = load_settings({})
    cpu = Embedder.load(settings.embed.model_copy(update={"device": "cpu",
                                                          "precision": "fp32"}))
    sample = texts[:1000]
    t = time.perf_counter()
    cpu_vectors = cpu.encode(sample)
    result["embed"] = {"cpu_fp32_chunks_per_s": round(len(sample) / (time.perf_counter() - t), 1),
                       "texts": len(texts)}
    if not torch.cuda.is_available():
        result["embed"]["cuda"] = "no CUDA device: not measured"
        return
    for precision in ("fp32", "bf16"):
        gpu = Embedder.load(settings.embed.model_copy(update={"device": "cuda",
                                                              "precision": precision}))
        gpu.encode(texts[:64])
        torch.cuda.synchronize()
        t = time.perf_counter()
        vectors = gpu.encode(texts)
        torch.cuda.synchronize()
        cosine = np.sum(vectors[:len(sample)] * cpu_vectors, axis=1)
        result["embed"][f"cuda_{precision}"] = {
            "chunks_per_s": round(len(texts) / (time.perf_counter() - t), 1),
            "cosine_vs_cpu_min": round(float(cosine.min()), 6),
            "cosine_vs_cpu_median": round(float(np.median(cosine)), 6)}


def numpy_exact(base: np.ndarray):
    """Exact top-10 by inner product in numpy: the CPU reference where FAISS is missing."""
    def search(q: np.ndarray) -> np.ndarray:
        scores = q @ base.T
        top = np.argpartition(-scores, 10, axis=1)[:, :10]
        order = np.argsort(-np.take_along_axis(scores, top, axis=1), axis=1)
        return np.take_along_axis(top, order, axis=1)
    return search


def search_check(base: np.ndarray, queries: np.ndarray, result: dict) -> None:
    try:
        import faiss
    except ImportError:     # the lent GPU machine has no FAISS unless one travels with us
        faiss = None
    rows = result.setdefault("search", {})
    if faiss is not None:
        reference = faiss.IndexFlatIP(base.shape[1])
        reference.add(base)
        searchers = {"faiss flat, CPU": lambda q: reference.search(q, 10)[1]}
    else:
        searchers = {"numpy exact, CPU": numpy_exact(base)}
    try:
        import torch
        cuda = torch.cuda.is_available()
    except ImportError:
        cuda = False
    gpu_faiss = cuda and faiss is not None and hasattr(faiss, "StandardGpuResources") \
        and faiss.get_num_gpus() > 0
    result["faiss"] = {"version": None, "gpu_build": False, "gpus": 0} if faiss is None else {
        "version": faiss.__version__, "gpu_build": bool(hasattr(faiss, "StandardGpuResources")),
        "gpus": faiss.get_num_gpus() if hasattr(faiss, "get_num_gpus") else 0}
    if gpu_faiss:
        resources = faiss.StandardGpuResources()
        flat = faiss.index_cpu_to_gpu(resources, 0, reference)
        searchers["faiss flat, GPU"] = lambda q: flat.search(q, 10)[1]
        quantizer = faiss.IndexFlatIP(base.shape[1])
        ivf = faiss.IndexIVFFlat(quantizer, base.shape[1], min(4096, len(base) // 40),
                                 faiss.METRIC_INNER_PRODUCT)
        t = time.perf_counter()
        ivf_gpu = faiss.index_cpu_to_gpu(resources, 0, ivf)
        ivf_gpu.train(base[np.random.default_rng(1).choice(len(base),
                                                           min(len(base), 200_000),
                                                           replace=False)])
        ivf_gpu.add(base)
        ivf_gpu.nprobe = 32
        result["ivf_build_s"] = round(time.perf_counter() - t, 2)
        searchers["faiss IVF nprobe 32, GPU"] = lambda q: ivf_gpu.search(q, 10)[1]
    if cuda:
        matrix = torch.from_numpy(base).to("cuda")

        def torch_exact(q: np.ndarray) -> np.ndarray:
            scores = torch.from_numpy(q).to("cuda") @ matrix.T
            return torch.topk(scores, 10, dim=1).indices.cpu().numpy()

        searchers["torch exact, GPU"] = torch_exact
    else:
        result["gpu_search"] = "no CUDA device: GPU searchers not measured"
    _, truth = timed_search(next(iter(searchers.values())), queries, 64, len(queries))
    for name, search in searchers.items():
        row = {}
        for batch, limit in ((1, 200), (64, len(queries))):
            qps, ids = timed_search(search, queries, batch, limit)
            row[f"qps_batch{batch}"] = round(qps, 1)
        row.update(agreement(ids, truth[:len(ids)]))
        rows[name] = row
        print(name, json.dumps(row), flush=True)


def _inputs(args) -> tuple[np.ndarray, list[str], list[str]]:
    """The index's stored vectors, its first ``--embed`` chunk texts, and the questions."""
    from ingest.store import IndexStore
    from retriever.index_view import chunk_passage

    generation = IndexStore(args.index).open(verify=False)
    n = len(generation.chunks)
    texts = [chunk_passage(generation, i) for i in range(min(n, args.embed))]
    stored = np.stack([generation.dense.reconstruct(int(c.row_id)) for c in generation.chunks])
    questions: list[str] = []
    if args.data.is_dir():
        from retriever.bioasq import load_questions

        questions = [q.body for q in load_questions(args.data)][: args.queries]
    questions += texts[: max(0, args.queries - len(questions))]
    return stored.astype(np.float32), texts, questions


def to_markdown(result: dict) -> str:
    m = result["machine"]
    lines = [f"# GPU path vs CPU path ({m['gpu'] or 'no GPU'}; {m['cpu']}, {m['cores']} cores)",
             "", f"Index `{result['index']}`; {result['vectors']} vectors "
             f"(widened from {result['stored_vectors']} stored ones), {result['queries']} "
             f"queries; FAISS {result['faiss']['version']} (GPU build: "
             f"{result['faiss']['gpu_build']}). Total {result['seconds']} s.", "",
             "| searcher | queries/s, batch 1 | queries/s, batch 64 | identical top-10 | "
             "recall@10 |", "|---|---|---|---|---|"]
    for name, row in result["search"].items():
        lines.append(f"| {name} | {row['qps_batch1']} | {row['qps_batch64']} | "
                     f"{row['identical_top10']} | {row['recall@10']} |")
    lines += ["", "Embedding: " + json.dumps(result["embed"])]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", type=Path, default=REPO / "data/cache/pqa_index")
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared/data/bioasq")
    parser.add_argument("--vectors", type=int, default=1_000_000)
    parser.add_argument("--embed", type=int, default=20_000)
    parser.add_argument("--queries", type=int, default=1000)
    parser.add_argument("--out", type=Path, default=REPO / "bench/results")
    parser.add_argument("--export", type=Path, default=None,
                        help="write the inputs (stored vectors, texts, questions) to this "
                        "folder and stop: for a machine without FAISS or the shared data")
    parser.add_argument("--inputs", type=Path, default=None,
                        help="read the inputs from an --export folder instead of the index")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    if args.inputs is not None:
        stored = np.load(args.inputs / "vectors.npy", allow_pickle=False)
        texts = json.loads((args.inputs / "texts.json").read_text("utf-8"))[: args.embed]
        questions = json.loads((args.inputs / "questions.json").read_text("utf-8"))
    else:
        stored, texts, questions = _inputs(args)
    if args.export is not None:
        args.export.mkdir(parents=True, exist_ok=True)
        np.save(args.export / "vectors.npy", stored, allow_pickle=False)
        (args.export / "texts.json").write_text(json.dumps(texts), "utf-8")
        (args.export / "questions.json").write_text(json.dumps(questions), "utf-8")
        print(f"inputs written to {args.export}")
        return 0
    n = len(stored)
    result: dict = {"machine": machine(), "index": str(args.inputs or args.index),
                    "stored_vectors": n, "vectors": args.vectors}
    print(json.dumps(result["machine"]), flush=True)
    embedding_check(texts, result)
    print("embed", json.dumps(result["embed"]), flush=True)

    from ingest.embed import Embedder

    questions = questions[: args.queries]
    embedder = Embedder.load(load_settings({}).embed.model_copy(update={"precision": "fp32"}))
    queries = np.ascontiguousarray(embedder.encode(questions), dtype=np.float32)
    result["queries"] = len(queries)
    search_check(widened(stored, args.vectors), queries, result)
    result["seconds"] = round(time.perf_counter() - started, 1)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "gpu_check.json").write_text(json.dumps(result, indent=1) + "\n")
    (args.out / "gpu_check.md").write_text(to_markdown(result))
    print(to_markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""The measuring runs of the ingest bench, each started by ``bench/ingest.py --only ...`` in a
child process of its own so that its peak RSS and CPU seconds are its own: one system on one
corpus, the pure parse and embed stages alone, and the bf16 vs fp32 retrieval quality. A child
prints its result as one ``RESULT_MARK`` line of JSON for the parent to read.
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import time
from pathlib import Path

from bench.ingest_corpora import OURS, load_questions, our_input_stats, source_files

RESULT_MARK = "BENCH_RESULT "
MAX_QUESTIONS = 500
METRICS = ["recall@10", "recall@100", "mrr@10"]


def child_ours(system: str, corpus: str, files: list[str], workdir: Path) -> dict:
    from clinrag.device import configure_cpu_threads
    from clinrag.settings import load_settings
    from ingest.pipeline import run as ingest_run

    threads = configure_cpu_threads()
    home = workdir / f"{system}-{corpus}"
    shutil.rmtree(home, ignore_errors=True)  # a repeated round starts from no index again
    settings = load_settings({"home": home, "index": home / "index", **OURS[system]})
    stats = our_input_stats(files, corpus)
    t0 = time.perf_counter()
    report = ingest_run([Path(f) for f in files], settings)
    wall = time.perf_counter() - t0
    rss_self = _maxrss_mb(resource.RUSAGE_SELF)
    rss_workers = _maxrss_mb(resource.RUSAGE_CHILDREN)
    statuses: dict[str, int] = {}
    for f in report.files:
        statuses[f.status] = statuses.get(f.status, 0) + 1
    from clinrag.device import pick_device, pick_precision

    return {
        "system": system, "corpus": corpus, "threads": threads,
        "precision": pick_precision(settings.embed.precision, pick_device(settings.embed.device)),
        "index": str(settings.index_dir), "generation": report.generation,
        "input_documents": stats["documents"], "input_chars": stats["chars"],
        "indexed_documents": report.counts.get("documents", 0),
        "chunks": report.added_chunks,
        "chunk_chars": None,  # filled in by the pure-embed child (from the committed chunks)
        "wall_s": wall, "timings_s": report.timings_s, "file_status": statuses,
        "failed": [{"path": f.path, "category": f.category, "message": f.message}
                   for f in report.files if f.status == "failed"],
        "maxrss_self_mb": rss_self, "maxrss_workers_mb": rss_workers,
    }


def child_pure_embed(system: str, corpus: str, files: list[str], workdir: Path) -> dict:
    """The two stages no pipeline can skip, each alone: ``Embedder.encode`` on the committed
    generation's index texts (model load untimed), and before it the parse stage (the same
    parse pool and options, largest file first, no model loading beside it)."""
    from clinrag.device import configure_cpu_threads
    from clinrag.settings import load_settings
    from ingest.chunk import index_text
    from ingest.embed import Embedder
    from ingest.parse_pool import ParsePool
    from ingest.sources import ParseOptions
    from ingest.store import IndexStore

    threads = configure_cpu_threads()
    home = workdir / f"{system}-{corpus}"
    settings = load_settings({"home": home, "index": home / "index", **OURS[system]})
    paths = sorted((Path(f) for f in files), key=lambda p: (-p.stat().st_size, str(p)))
    t0 = time.perf_counter()
    with ParsePool(settings.ingest.workers, settings.ingest.parse_timeout_s,
                   settings.ingest.parse_memory_mb,
                   ParseOptions(pdf_extractor=settings.ingest.pdf_extractor)) as pool:
        parsed = sum(1 for outcome in pool.parse(paths) if outcome.error is None)
    parse_s = time.perf_counter() - t0
    generation = IndexStore(settings.index_dir).open()
    texts = [index_text(c, generation.documents[c.doc_id].title, settings.chunk)
             for c in generation.chunks]
    chunk_chars = sum(len(c.text) for c in generation.chunks)
    del generation
    embedder = Embedder.load(settings.embed)
    t0 = time.perf_counter()
    vectors = embedder.encode(texts)
    seconds = time.perf_counter() - t0
    return {"system": system, "corpus": corpus, "threads": threads,
            "precision": embedder.precision, "texts": len(texts), "dim": int(vectors.shape[1]),
            "embed_s": seconds, "parse_s": parse_s, "parsed_files": parsed,
            "chunk_chars": chunk_chars,
            "index_chars": sum(len(t) for t in texts)}


def child_baseline(corpus: str, files: list[str], workdir: Path) -> dict:
    """A typical naive LangChain ingest script, timed from loading to ``save_local``."""
    import warnings

    warnings.filterwarnings("ignore")
    from langchain_community.vectorstores import FAISS
    from langchain_core.documents import Document
    from langchain_huggingface import HuggingFaceEmbeddings
    from langchain_text_splitters import RecursiveCharacterTextSplitter
    from pypdf import PdfReader

    from clinrag.device import configure_cpu_threads
    from clinrag.models import resolve_model
    from ingest.sources.benchmark_json import load_benchmark_json

    threads = configure_cpu_threads()
    model_dir = str(resolve_model("sentence-transformers/all-MiniLM-L6-v2"))
    out_dir = workdir / f"baseline-{corpus}" / "faiss"
    t0 = time.perf_counter()
    docs: list[Document] = []
    n_docs = 0
    for name in files:
        if corpus == "bioasq":
            for doc in load_benchmark_json(Path(name)).documents:
                n_docs += 1
                docs.append(Document(page_content="\n\n".join(p.text for p in doc.pages),
                                     metadata={"source": name, "doc_id": doc.doc_id}))
        else:
            n_docs += 1
            reader = PdfReader(name)
            for i in range(len(reader.pages)):
                docs.append(Document(page_content=reader.pages[i].extract_text(),
                                     metadata={"source": name, "page": i}))
    t_load = time.perf_counter()
    chars = sum(len(d.page_content) for d in docs)
    splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
    chunks = splitter.split_documents(docs)
    t_split = time.perf_counter()
    embeddings = HuggingFaceEmbeddings(model_name=model_dir)
    store = FAISS.from_documents(chunks, embeddings)
    t_embed = time.perf_counter()
    out_dir.mkdir(parents=True, exist_ok=True)
    store.save_local(str(out_dir))
    t_end = time.perf_counter()
    return {
        "system": "baseline", "corpus": corpus, "threads": threads, "precision": "fp32",
        "input_documents": n_docs, "input_chars": chars, "chunks": len(chunks),
        "chunk_chars": sum(len(c.page_content) for c in chunks),
        "wall_s": t_end - t0,
        "timings_s": {"parse": round(t_load - t0, 3), "chunk": round(t_split - t_load, 3),
                      "embed": round(t_embed - t_split, 3), "write": round(t_end - t_embed, 3)},
        "maxrss_self_mb": _maxrss_mb(resource.RUSAGE_SELF),
        "maxrss_workers_mb": _maxrss_mb(resource.RUSAGE_CHILDREN),
    }


def child_quality(workdir: Path, data: Path, limit: int | None) -> dict:
    """bf16 vs fp32 BioASQ index: dense doc-level recall/MRR (ranx) and vector cosine."""
    import numpy as np
    from ranx import Qrels, Run, evaluate

    from clinrag.device import configure_cpu_threads
    from clinrag.settings import load_settings
    from ingest.embed import Embedder
    from ingest.store import IndexStore
    from ingest.store.dense import ids_of

    threads = configure_cpu_threads()
    gens, settings_of = {}, {}
    for system in ("ours", "ours-fp32"):
        home = workdir / f"{system}-bioasq"
        settings_of[system] = load_settings({"home": home, "index": home / "index",
                                             **OURS[system]})
        gens[system] = IndexStore(settings_of[system].index_dir).open()
    corpus_docs = set(gens["ours"].documents)
    questions = load_questions(source_files(data)["bioasq"])
    if limit:
        # a prefix corpus lacks most gold documents: judge only against the indexed ones
        questions = [(qid, body, [d for d in gold if d in corpus_docs])
                     for qid, body, gold in questions]
    questions = [q for q in questions if q[2]][:MAX_QUESTIONS]
    qrels = Qrels({qid: {d: 1 for d in gold} for qid, _, gold in questions})
    bodies = [body for _, body, _ in questions]

    results, runs, top10 = {}, {}, {}
    for system, generation in gens.items():
        embedder = Embedder.load(settings_of[system].embed)
        queries = embedder.encode(bodies)
        _, ids = generation.dense.search(np.ascontiguousarray(queries, dtype=np.float32), 100)
        position = generation.row_position
        run = {}
        for (qid, _, _), row_ids in zip(questions, ids):
            ranked: list[str] = []
            for row_id in row_ids:
                if row_id < 0:
                    continue
                doc = generation.chunks[position[int(row_id)]].doc_id
                if doc not in ranked:
                    ranked.append(doc)
            run[qid] = {d: float(len(ranked) - r) for r, d in enumerate(ranked)} or {"none": 0.0}
            top10.setdefault(system, {})[qid] = ranked[:10]
        runs[system] = Run(run, name=system)
        results[system] = {k: round(float(v), 4)
                           for k, v in evaluate(qrels, runs[system], METRICS).items()}
        results[system]["precision"] = embedder.precision

    # cosine between the two indexes' vectors of the same chunks (keys = row ids, never positions)
    a, b = gens["ours"].dense, gens["ours-fp32"].dense
    keys_a, keys_b = set(ids_of(a).tolist()), set(ids_of(b).tolist())
    # Precision is the only difference we want to see: skip chunks whose embedded text differs
    # (the title prefix of a PMID found in several golden files comes from whichever file was
    # parsed last, which can differ between two runs).
    from ingest.chunk import index_text

    def texts(system: str) -> dict[int, str]:
        g = gens[system]
        return {c.row_id: index_text(c, g.documents[c.doc_id].title, settings_of[system].chunk)
                for c in g.chunks}

    text_a, text_b = texts("ours"), texts("ours-fp32")
    both = keys_a & keys_b
    common = sorted(k for k in both if text_a.get(k) == text_b.get(k))
    text_differs = len(both) - len(common)
    cosines = np.array([float(np.dot(a.reconstruct(int(k)), b.reconstruct(int(k))))
                        for k in common], dtype=np.float64)
    by_row = {c.row_id: c for c in gens["ours"].chunks}
    lowest = [{"row_id": int(common[i]), "cosine": round(float(cosines[i]), 5),
               "chars": len(by_row[common[i]].text), "text": by_row[common[i]].text[:160]}
              for i in np.argsort(cosines)[:5]] if len(cosines) else []
    overlap = [len(set(top10["ours"][qid]) & set(top10["ours-fp32"][qid])) / max(
        1, len(top10["ours-fp32"][qid])) for qid, _, _ in questions]
    return {
        "threads": threads, "questions": len(questions), "metrics": results,
        "chunks_compared": len(common), "chunks_text_differs": text_differs,
        "chunks_only_bf16": len(keys_a - keys_b),
        "chunks_only_fp32": len(keys_b - keys_a),
        "cosine_mean": float(cosines.mean()) if len(cosines) else None,
        "cosine_min": float(cosines.min()) if len(cosines) else None,
        "cosine_p01": float(np.percentile(cosines, 1)) if len(cosines) else None,
        "cosine_below_0.99": int((cosines < 0.99).sum()), "lowest_cosine": lowest,
        "top10_doc_overlap_mean": float(np.mean(overlap)) if overlap else None,
    }


def _maxrss_mb(who: int) -> float:
    return round(resource.getrusage(who).ru_maxrss / 1024, 1)  # Linux: KiB


def run_child(args: argparse.Namespace) -> None:
    """Run the measurement that ``--only`` names and print its result for the parent."""
    import logging

    logging.basicConfig(level=logging.WARNING)
    workdir = Path(args.workdir)
    files = json.loads((workdir / "files.json").read_text("utf-8"))
    if args.only == "baseline":
        result = child_baseline(args.corpus, files[args.corpus], workdir)
    elif args.only in OURS:
        result = child_ours(args.only, args.corpus, files[args.corpus], workdir)
    elif args.only == "pure-embed":
        result = child_pure_embed(args.system, args.corpus, files[args.corpus], workdir)
    else:
        result = child_quality(workdir, Path(args.data), args.limit_docs)
    print(RESULT_MARK + json.dumps(result), flush=True)


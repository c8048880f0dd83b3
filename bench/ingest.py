"""End-to-end ingest throughput, side by side in one run: clinrag (bf16 and fp32) vs naive LangChain.

Corpora: (a) BioASQ = every golden file ``bioasq/Task*BGoldenEnriched/*.json`` (our loader makes
one document per PMID per file; PMIDs found in several files give identical chunks that the
pipeline indexes once), (b) the 8 real PDFs in ``pdfs/``.

Systems, each in its own child process (so peak RSS is its own):

- ``ours``       ``ingest.pipeline.run`` into a fresh index, default precision ("auto": bf16 on
                 CPUs with bf16 units)
- ``ours-fp32``  the same with ``embed.precision = fp32``
- ``baseline``   a typical naive LangChain script: the same documents (BioASQ: our loader, page
                 texts joined per document; PDFs: pypdf page by page, one Document per page),
                 ``RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)``,
                 ``HuggingFaceEmbeddings`` on the packaged MiniLM folder, ``FAISS.from_documents``
                 and ``save_local``

Reported per system and corpus: chunks/s, documents/s and input characters/s end to end (chunks
differ in size between systems, so compare docs/s and chars/s), the share of time in parse /
chunk / embed / write (``report.timings_s``), the pipeline's overhead over ``Embedder.encode``
alone on exactly the same chunk texts (and beyond that plus the parse stage alone), and peak
RSS. Then retrieval quality of the bf16 vs the fp32 BioASQ index (dense search, up to 500
questions, ranx recall@10/@100 and MRR@10) and the cosine between the two indexes' vectors of
the same chunks.

    python bench/ingest.py [--data ../shared/data] [--limit-docs N] [--out bench/results/ingest.json]
                           [--pdf-rounds 3] [--bioasq-rounds 1]

Writes ``--out`` (JSON) and the Markdown table next to it (``ingest.md``), and prints the table.

The parts: ``bench/ingest_corpora.py`` (corpora, systems, input files), ``bench/ingest_children.py``
(the measuring runs, one child process each), ``bench/ingest_tables.py`` (derived figures,
Markdown, ``--render``); this file parses the command line and runs the children.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

from bench.ingest_children import RESULT_MARK, run_child  # noqa: E402
from bench.ingest_corpora import (  # noqa: E402
    CORPORA, OURS, SYSTEMS, SYSTEMS_OF, default_data, prepare_inputs, source_files,
)
from bench.ingest_tables import derive, rerender, save  # noqa: E402


# --------------------------------------------------------------------------------------------
# parent: orchestration and RSS sampling
# --------------------------------------------------------------------------------------------
def spawn(args: list[str], label: str) -> tuple[dict, float]:
    """Run this script as a child; returns its JSON result and the sampled peak RSS (MiB) of
    its whole process tree (the child plus its parse workers)."""
    import psutil

    cmd = [sys.executable, str(Path(__file__).resolve()), *args]
    print(f"[bench] {label} ...", file=sys.stderr, flush=True)
    load_before = os.getloadavg()[0]
    # CPU seconds of the child and everything it waited for (its parse workers). Other jobs on
    # a shared machine stretch wall-clock times far more than CPU times, so the CPU ratio is
    # the steadier of the two comparisons.
    usage_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, text=True, cwd=str(REPO))
    peak = [0]
    done = threading.Event()

    def sample() -> None:
        try:
            root = psutil.Process(proc.pid)
        except psutil.Error:
            return
        while not done.is_set():
            total = 0
            try:
                for p in [root, *root.children(recursive=True)]:
                    try:
                        total += p.memory_info().rss
                    except psutil.Error:
                        pass
            except psutil.Error:
                break
            peak[0] = max(peak[0], total)
            done.wait(0.2)

    thread = threading.Thread(target=sample, daemon=True)
    thread.start()
    out, _ = proc.communicate()
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    done.set()
    thread.join()
    if proc.returncode != 0:
        sys.exit(f"bench/ingest.py: child '{label}' failed with exit code {proc.returncode}")
    lines = [ln for ln in out.splitlines() if ln.startswith(RESULT_MARK)]
    if not lines:
        sys.exit(f"bench/ingest.py: child '{label}' printed no result")
    result = json.loads(lines[-1][len(RESULT_MARK):])
    result["loadavg_1m"] = [round(load_before, 2), round(os.getloadavg()[0], 2)]
    result["cpu_s"] = round(usage.ru_utime + usage.ru_stime
                            - usage_before.ru_utime - usage_before.ru_stime, 1)
    print(f"[bench] {label} done", file=sys.stderr, flush=True)
    return result, round(peak[0] / 2**20, 1)


def main_parent(args: argparse.Namespace) -> None:
    import faiss
    import sentence_transformers
    import torch
    import transformers

    from clinrag.device import configure_cpu_threads, cpu_has_bf16

    data = Path(args.data).resolve()
    source_files(data)  # exits with a clear message when the data is absent
    threads = configure_cpu_threads()
    workdir = Path(tempfile.mkdtemp(prefix="clinrag-bench-ingest-"))
    started = time.strftime("%Y-%m-%dT%H:%M:%S")
    load_before = os.getloadavg()
    try:
        inputs = prepare_inputs(data, args.limit_docs, workdir)
        files_json = workdir / "files.json"
        files_json.write_text(json.dumps(inputs["files"]), "utf-8")
        common = ["--data", str(data), "--workdir", str(workdir)]
        if args.limit_docs:
            common += ["--limit-docs", str(args.limit_docs)]
        runs: dict[str, dict[str, dict]] = {s: {} for s in SYSTEMS}
        for corpus in CORPORA:
            # On a shared machine a neighbour's burst moves a single run by several percent
            # (the BioASQ baseline alone took 169-210 s on the same code): repeat the runs,
            # alternating the order, and compare same-round ratios.
            rounds = args.pdf_rounds if corpus == "pdfs" else args.bioasq_rounds
            systems = SYSTEMS_OF[corpus]
            tries: dict[str, list[dict]] = {s: [] for s in systems}
            for i in range(rounds):
                for system in systems if i % 2 == 0 else systems[::-1]:
                    result, peak = spawn(["--only", system, "--corpus", corpus, *common],
                                         f"{system} / {corpus} (round {i + 1}/{rounds})")
                    result["peak_rss_tree_mb"] = peak
                    tries[system].append(result)
            for system in systems:
                runs[system][corpus] = _median_run(tries[system])
            for system in systems[1:]:
                pure, _ = spawn(["--only", "pure-embed", "--system", system, "--corpus", corpus,
                                 *common], f"pure Embedder.encode, {system} / {corpus}")
                run = runs[system][corpus]
                run["pure_embed"] = pure
                run["chunk_chars"] = pure["chunk_chars"]
                run["overhead"] = (run["wall_s"] - pure["embed_s"]) / pure["embed_s"]
                # What the pipeline adds beyond its two unavoidable stages run alone: model
                # load not hidden behind parsing, chunking, BM25, writing, orchestration.
                run["overhead_beyond_parse"] = (run["wall_s"] - pure["parse_s"]
                                                - pure["embed_s"]) / pure["embed_s"]
        quality, _ = spawn(["--only", "quality", *common], "retrieval quality bf16 vs fp32")
    finally:
        if args.keep:
            print(f"[bench] kept {workdir}", file=sys.stderr)
        else:
            shutil.rmtree(workdir, ignore_errors=True)

    for corpus in CORPORA:
        for system in SYSTEMS_OF[corpus]:
            derive(runs[system][corpus])
    ratios = {}
    for corpus in CORPORA:
        for ours in SYSTEMS_OF[corpus][1:]:
            o, b = runs[ours][corpus], runs["baseline"][corpus]
            ratios[f"{ours}/{corpus}"] = {
                "docs_per_s": o["docs_per_s"] / b["docs_per_s"],
                "chars_per_s": o["chars_per_s"] / b["chars_per_s"],
                "chunks_per_s": o["chunks_per_s"] / b["chunks_per_s"],
                "cpu_s": b["cpu_s"] / o["cpu_s"],
                # same-round wall ratios: both systems saw the same minute of machine load
                "wall_ratio_rounds": [bw / ow for bw, ow in zip(b["rounds_wall_s"],
                                                                 o["rounds_wall_s"])],
            }
    for corpus in CORPORA:
        o, f = runs["ours"][corpus], runs["ours-fp32"][corpus]
        ratios[f"bf16-vs-fp32/{corpus}"] = {"chunks_per_s": o["chunks_per_s"] / f["chunks_per_s"],
                                            "embed_only": f["pure_embed"]["embed_s"]
                                            / o["pure_embed"]["embed_s"]}
    result = {
        "benchmark": "ingest", "started": started, "finished": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "limit_docs": args.limit_docs, "data": str(data),
        "machine": {"cpus": os.cpu_count(), "threads": threads, "cpu_bf16": cpu_has_bf16(),
                    "platform": platform.platform(), "python": platform.python_version(),
                    "loadavg_at_start": [round(x, 2) for x in load_before],
                    "loadavg_at_end": [round(x, 2) for x in os.getloadavg()]},
        "versions": {"torch": torch.__version__, "transformers": transformers.__version__,
                     "sentence_transformers": sentence_transformers.__version__,
                     "faiss": faiss.__version__,
                     "langchain_community": _version("langchain-community"),
                     "langchain_huggingface": _version("langchain-huggingface"),
                     "langchain_text_splitters": _version("langchain-text-splitters"),
                     "pypdf": _version("pypdf"), "ranx": _version("ranx")},
        "files": {c: len(v) for c, v in inputs["files"].items()},
        "runs": runs, "ratios": ratios, "quality": quality,
    }
    out = Path(args.out)
    if not out.is_absolute():
        out = REPO / out
    save(result, out)


def _median_run(tries: list[dict]) -> dict:
    """The run with the median wall time (the lower one of an even count), with every
    round's wall and CPU seconds attached."""
    ordered = sorted(tries, key=lambda x: x["wall_s"])
    run = dict(ordered[(len(ordered) - 1) // 2])
    run["rounds_wall_s"] = [round(x["wall_s"], 2) for x in tries]
    run["rounds_cpu_s"] = [x["cpu_s"] for x in tries]
    return run


def _version(dist: str) -> str | None:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version(dist)
    except PackageNotFoundError:
        return None


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", default=str(default_data()),
                        help="shared data folder (default: ../shared/data from the repo root)")
    parser.add_argument("--limit-docs", type=int, default=None, metavar="N",
                        help="only the first N documents of each corpus (quick check)")
    parser.add_argument("--out", default="bench/results/ingest.json",
                        help="JSON result (the Markdown goes next to it as .md)")
    parser.add_argument("--keep", action="store_true", help="keep the temporary indexes")
    parser.add_argument("--pdf-rounds", type=int, default=3, metavar="N",
                        help="repeat the short PDF runs N times, alternating the order; the "
                        "tables show each system's median run (default 3)")
    parser.add_argument("--bioasq-rounds", type=int, default=1, metavar="N",
                        help="repeat the BioASQ runs (minutes each) N times the same way "
                        "(default 1)")
    parser.add_argument("--render", metavar="JSON",
                        help="re-derive the figures of an earlier result and rewrite its JSON "
                        "and Markdown (after a change to what the tables show); runs nothing")
    parser.add_argument("--only", choices=[*SYSTEMS, "pure-embed", "quality"],
                        help=argparse.SUPPRESS)
    parser.add_argument("--system", choices=list(OURS), help=argparse.SUPPRESS)
    parser.add_argument("--corpus", choices=CORPORA, help=argparse.SUPPRESS)
    parser.add_argument("--workdir", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.limit_docs is not None and args.limit_docs < 1:
        parser.error("--limit-docs must be >= 1")
    if args.pdf_rounds < 1 or args.bioasq_rounds < 1:
        parser.error("--pdf-rounds and --bioasq-rounds must be >= 1")
    if args.render:
        rerender(Path(args.render))
        return
    if not args.only:
        main_parent(args)
        return
    run_child(args)


if __name__ == "__main__":
    main()

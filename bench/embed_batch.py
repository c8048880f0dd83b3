"""Embedding throughput by batch size, on short (BioASQ snippet) and long (PDF) chunks.

The texts are what ``ingest run`` embeds: the project's loaders and chunker at default settings,
title-prefixed by ``ingest.chunk.index_text``. Every batch size runs on the same texts in the
same process, in a rotated order over several rounds; the table gives the median chunks/s and
the ratio to batch 64 (the default before this measurement).

    python bench/embed_batch.py [--data ../shared/data] [--bioasq-sample 2000]
                                [--pdf-sample 400] [--rounds 3] [--sizes 16,32,64,128]
"""

from __future__ import annotations

import argparse
import glob
import json
import os
import random
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from clinrag.settings import ChunkSettings, EmbedSettings  # noqa: E402


def chunk_texts(paths: list[Path], tokenizer) -> list[str]:
    """The index texts of every chunk of ``paths`` (one copy per document id)."""
    from ingest.chunk import Chunker, index_text
    from ingest.sources import loader_for

    chunker = Chunker.for_tokenizer(ChunkSettings(), tokenizer)
    seen: set[str] = set()
    texts = []
    for path in paths:
        for document in loader_for(path)(path).documents:
            if document.doc_id in seen:
                continue
            seen.add(document.doc_id)
            for chunk in chunker.chunk_document(document)[1]:
                texts.append(index_text(chunk, document.title, chunker.settings))
    return texts


def add_corpus_options(parser: argparse.ArgumentParser) -> None:
    """The inputs every embedding bench reads: where the data is and how much to sample."""
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared/data")
    parser.add_argument("--bioasq-sample", type=int, default=2000)
    parser.add_argument("--pdf-sample", type=int, default=400)


def sample_corpora(args: argparse.Namespace, tokenizer) -> dict[str, list[str]] | None:
    """A fixed random sample (seed 0) of the index texts of BioASQ and PDF chunks; None when
    the shared data is absent (after saying so)."""
    bioasq = sorted(Path(p) for p in glob.glob(
        str(args.data / "bioasq" / "Task*BGoldenEnriched" / "*.json")))
    pdfs = sorted((args.data / "pdfs").glob("*.pdf"))
    if not bioasq or not pdfs:
        print(f"BioASQ golden files or PDFs not found under {args.data}", file=sys.stderr)
        return None
    rng = random.Random(0)
    corpora = {}
    for name, paths, sample in (("bioasq", bioasq, args.bioasq_sample),
                                ("pdfs", pdfs, args.pdf_sample)):
        texts = chunk_texts(paths, tokenizer)
        corpora[name] = rng.sample(texts, min(sample, len(texts)))
    return corpora


def measure(embedder, texts: list[str], sizes: list[int], rounds: int) -> dict[int, list[float]]:
    seconds: dict[int, list[float]] = {size: [] for size in sizes}
    for r in range(rounds):
        for size in sizes[r % len(sizes):] + sizes[:r % len(sizes)]:
            embedder.settings = embedder.settings.model_copy(update={"batch_size": size})
            start = time.perf_counter()
            embedder.encode(texts)
            seconds[size].append(time.perf_counter() - start)
    return seconds


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_corpus_options(parser)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--sizes", default="16,32,64,128")
    parser.add_argument("--out", type=Path, default=REPO / "bench/results")
    args = parser.parse_args()

    from ingest.embed import Embedder

    embedder = Embedder.load(EmbedSettings())
    corpora = sample_corpora(args, embedder.tokenizer)
    if corpora is None:
        return 2
    sizes = [int(s) for s in args.sizes.split(",")]
    embedder.encode(corpora["bioasq"][:200])  # warm-up: first calls pay one-off costs
    result = {"when": datetime.now().isoformat(timespec="seconds"), "cpus": os.cpu_count(),
              "precision": embedder.precision, "load_avg_start": os.getloadavg()[0],
              "rounds": args.rounds, "corpora": {}}
    for name, texts in corpora.items():
        tokens = [len(embedder.tokenizer.tokenize(t)) + 2 for t in texts]
        seconds = measure(embedder, texts, sizes, args.rounds)
        result["corpora"][name] = {
            "chunks": len(texts), "median_tokens": statistics.median(tokens),
            "chunks_per_s": {size: round(len(texts) / statistics.median(s), 1)
                             for size, s in seconds.items()},
            "seconds": {size: [round(x, 2) for x in s] for size, s in seconds.items()},
        }
        print(f"[bench] {name}: {result['corpora'][name]['chunks_per_s']}", flush=True)
    result["load_avg_end"] = os.getloadavg()[0]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "embed_batch.json").write_text(json.dumps(result, indent=1))
    (args.out / "embed_batch.md").write_text(render(result, sizes) + "\n")
    print(render(result, sizes))
    return 0


def render(result: dict, sizes: list[int]) -> str:
    lines = [
        "# Embedding throughput by batch size",
        "",
        f"{result['when']}, {result['cpus']} CPUs, {result['precision']}, median of "
        f"{result['rounds']} rounds (rotated order); load avg {result['load_avg_start']:.2f} → "
        f"{result['load_avg_end']:.2f}. Chunks/s, and the ratio to batch 64 in brackets.",
        "",
        "| corpus | chunks | median tokens | " + " | ".join(f"batch {s}" for s in sizes) + " |",
        "|---|---:|---:|" + "---:|" * len(sizes),
    ]
    for name, c in result["corpora"].items():
        base = c["chunks_per_s"].get(64)
        cells = [f"{c['chunks_per_s'][s]:.0f}" + (f" ({c['chunks_per_s'][s] / base:.2f}×)"
                                                   if base else "") for s in sizes]
        lines.append(f"| {name} | {c['chunks']} | {c['median_tokens']:.0f} | "
                     + " | ".join(cells) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())

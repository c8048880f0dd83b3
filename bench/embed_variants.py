"""Ways to run the embedder in bf16 on the CPU: speed and fidelity, side by side.

    python bench/embed_variants.py [--data ../shared/data] [--bioasq-sample 2000]
                                   [--pdf-sample 400] [--rounds 3]

Variants, all on the texts ``ingest run`` embeds (short BioASQ snippet chunks, long PDF chunks):

- ``default``: ``Embedder.encode`` as shipped: the whole model cast to bf16 (layer norms and
  softmax in bf16 too), SDPA attention, vectors normalised in fp32;
- ``autocast`` (the default until 2026-11-29): fp32 weights, matrix products in bf16 under
  ``torch.autocast``;
- ``eager-attention``: autocast with transformers' eager attention instead of SDPA.

All at the settings' batch size.

Each round runs every variant once in a rotated order; the table gives median chunks/s, the
ratio to the former default (autocast), and the cosine of each variant's vectors to fp32
vectors of the same text.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import time
from datetime import datetime
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from embed_batch import add_corpus_options, sample_corpora  # noqa: E402


def load_variants():
    """name -> encode(texts) returning float32 rows, plus an fp32 reference and the tokenizer."""
    import numpy as np
    import torch
    from sentence_transformers import SentenceTransformer

    from clinrag.device import configure_cpu_threads
    from clinrag.models import resolve_model
    from clinrag.settings import EmbedSettings
    from ingest.embed import Embedder

    configure_cpu_threads()
    settings = EmbedSettings(precision="bf16")
    path = str(resolve_model(settings.model))

    def model(attention: str):
        return SentenceTransformer(path, device="cpu",
                                   model_kwargs={"attn_implementation": attention})

    def encoder(m, autocast: bool):
        def encode(texts: list[str]):
            ctx = (torch.autocast("cpu", dtype=torch.bfloat16) if autocast
                   else contextlib.nullcontext())
            with ctx:
                v = m.encode(texts, batch_size=settings.batch_size, normalize_embeddings=True,
                             convert_to_tensor=True)
            return v.float().numpy().astype(np.float32)
        return encode

    shipped = Embedder.load(settings)
    sdpa = model("sdpa")
    return ({"default": shipped.encode,
             "autocast": encoder(sdpa, True),
             "eager-attention": encoder(model("eager"), True)},
            encoder(sdpa, False), sdpa.tokenizer)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    add_corpus_options(parser)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=REPO / "bench/results")
    args = parser.parse_args()
    import numpy as np

    from clinrag.settings import EmbedSettings

    variants, fp32, tokenizer = load_variants()
    corpora = sample_corpora(args, tokenizer)
    if corpora is None:
        return 2
    result = {"when": datetime.now().isoformat(timespec="seconds"), "cpus": os.cpu_count(),
              "rounds": args.rounds,
              "default_batch_size": EmbedSettings().batch_size,
              "load_avg_start": os.getloadavg()[0], "corpora": {}}
    names = list(variants)
    for corpus, texts in corpora.items():
        reference = fp32(texts)
        seconds: dict[str, list[float]] = {n: [] for n in names}
        cosine: dict[str, dict[str, float]] = {}
        for r in range(args.rounds):
            for name in names[r % len(names):] + names[:r % len(names)]:
                start = time.perf_counter()
                vectors = variants[name](texts)
                seconds[name].append(time.perf_counter() - start)
                # bf16 outputs are unit length only to bf16 precision: divide by both norms
                cos = (vectors * reference).sum(axis=1) / (
                    np.linalg.norm(vectors, axis=1) * np.linalg.norm(reference, axis=1))
                cosine[name] = {"min": float(cos.min()), "mean": float(cos.mean())}
        speed = {n: len(texts) / statistics.median(s) for n, s in seconds.items()}
        result["corpora"][corpus] = {
            "chunks": len(texts),
            "chunks_per_s": {n: round(v, 1) for n, v in speed.items()},
            "ratio_to_autocast": {n: round(v / speed["autocast"], 3) for n, v in speed.items()},
            "cosine_to_fp32": cosine,
            "seconds": {n: [round(x, 2) for x in s] for n, s in seconds.items()},
        }
        print(f"[bench] {corpus}: {result['corpora'][corpus]['ratio_to_autocast']}", flush=True)
    result["load_avg_end"] = os.getloadavg()[0]
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "embed_variants.json").write_text(json.dumps(result, indent=1))
    (args.out / "embed_variants.md").write_text(render(result) + "\n")
    print(render(result))
    return 0


def render(result: dict) -> str:
    lines = [
        "# bf16 embedding variants on the CPU",
        "",
        f"{result['when']}, {result['cpus']} CPUs, median of {result['rounds']} rounds "
        f"(rotated order); load avg {result['load_avg_start']:.2f} → "
        f"{result['load_avg_end']:.2f}. default = `Embedder.encode` as shipped (bf16 model, "
        f"batch {result['default_batch_size']}).",
        "",
        "| corpus | chunks | variant | chunks/s | vs autocast | cosine to fp32: min / mean |",
        "|---|---:|---|---:|---:|---|",
    ]
    for corpus, c in result["corpora"].items():
        for name, speed in c["chunks_per_s"].items():
            cos = c["cosine_to_fp32"][name]
            lines.append(f"| {corpus} | {c['chunks']} | {name} | {speed:.0f} "
                         f"| {c['ratio_to_autocast'][name]:.2f}× "
                         f"| {cos['min']:.5f} / {cos['mean']:.5f} |")
    return "\n".join(lines)


if __name__ == "__main__":
    sys.exit(main())

"""Does a reranker help on questions and papers it never saw? Every setting side by side.

    python bench/reranker_heldout.py [--rerankers shipped=default new=PATH ...]
        [--sets bioasq-val covidqa-val] [--limit N] [--render]

Sets (none of them trained on by a reranker trained with ``--split temporal --fulltext``):

- ``bioasq-val`` / ``bioasq-test``: the two halves of BioASQ 10B (retriever/bioasq.py
  ``temporal_split``) over the BioASQ snippet index (every 7B-10B document: ~11k documents,
  ~16k chunks). Metric: nDCG@10 over documents (one hit per document), as bench/retrieval.py.
- ``covidqa-val`` / ``covidqa-test``: COVID-QA questions on papers of that side of the paper
  split (clinrag/splits.py) over the 98 papers. Metric: the passage holding the answer span in
  the top 5 (hit@5) under per-document caps 1, 3 and 5.

For each question the hybrid candidates (no cap) and the BM25 run are found once, and the top
``--head`` candidates are scored once by each reranker; every ordering compared (hybrid, BM25
alone, each reranker alone or fused with the hybrid order at each weight, reranking the top 20
or 30, each cap) is computed from those scores, so the comparison is paired and costs one
reranker pass. Differences from hybrid come with paired-bootstrap 95% intervals
(eval/bootstrap.py).

Choice (made on the ``-val`` sets only): at each per-document cap (3, 5), the reranker
setting with the largest mean gain over hybrid among those that lower no validation set's
score (if none qualifies, reranking stays off), then the cap whose choice finds more
full-text answers. Test sets are run once to report that choice. Writes
bench/results/reranker_heldout.{json,md}; ``--render`` rewrites the Markdown from the JSON.
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from clinrag.settings import load_settings  # noqa: E402
from clinrag.splits import fixed_sample  # noqa: E402
from retriever.fusion import fuse_rerank  # noqa: E402
from retriever.types import SearchParams  # noqa: E402

SETS = ("bioasq-val", "bioasq-test", "covidqa-val", "covidqa-test")
WEIGHTS = (0.5, 1.0, 2.0, None)         # None: the reranker's order alone
HEADS = (20, 30)
CAPS = (1, 3, 5)          # hit@5: a cap of 5 or more never binds
DEPTH = 100


# -- collection (the only part that runs models) ----------------------------------------------
def _questions(name: str, shared: Path, limit: int | None):
    """(qid, query, relevance test) for one set."""
    kind, side = name.split("-")
    if kind == "bioasq":
        from retriever.bioasq import load_questions, split

        qs = [q for q in split(load_questions(shared / "bioasq"), side, "temporal")
              if q.gold_doc_ids]
        return [(q.qid, q.body, set(q.gold_doc_ids), None)
                for q in fixed_sample(qs, lambda q: q.qid, limit)]
    from clinrag.splits import paper_split
    from ingest.sources.benchmark_json import squad_questions

    data = json.loads((shared / "covidqa" / "covidqa_200423.json").read_text("utf-8"))
    qs = [q for q in squad_questions(data) if paper_split(q.doc_id) == side]
    return [(q.qid, q.question, {q.doc_id}, q.spans)
            for q in fixed_sample(qs, lambda q: q.qid, limit)]


def _retriever(kind: str, shared: Path, embedder):
    from retriever.hybrid import Retriever

    settings = load_settings({"home": REPO / "data"})
    if kind == "bioasq":
        index = REPO / "data/cache/bioasq_index"
    else:
        from eval.corpus import ensure_index
        from eval.datasets import load_benchmark

        index = ensure_index(load_benchmark("squad", shared / "covidqa" / "covidqa_200423.json"),
                             settings, embedder=embedder)
    retrieve = settings.retrieve.model_copy(update={"max_per_doc": 100000, "rerank": False})
    return Retriever.open(settings.model_copy(update={"index": index, "retrieve": retrieve}),
                          embedder=embedder, reranker=None)


def collect(name: str, shared: Path, limit: int | None, rerankers: dict, head: int,
            embedder) -> list[dict]:
    from retriever.spans import chunk_span, holds_span

    retriever = _retriever(name.split("-")[0], shared, embedder)
    generation = retriever.generation
    position = {c.chunk_id: i for i, c in enumerate(generation.chunks)}

    def label(hit, gold: set, spans) -> int:
        if hit.doc_id not in gold:
            return 0
        if spans is None:
            return 1
        span = chunk_span(generation, generation.chunks[position[hit.chunk_id]])
        return int(any(holds_span(span, s) for s in spans))

    rows = []
    for qid, query, gold, spans in _questions(name, shared, limit):
        hybrid = retriever.search(query, SearchParams(DEPTH, "hybrid", rerank=False)).hits
        bm25 = retriever.search(query, SearchParams(DEPTH, "bm25", rerank=False)).hits
        row = {"qid": qid, "gold_docs": len(gold),
               "hybrid": [(h.doc_id, label(h, gold, spans)) for h in hybrid],
               "bm25": [(h.doc_id, label(h, gold, spans)) for h in bm25],
               "scores": {}, "rerank_ms": {}}
        passages = [retriever.passage_of(h.chunk_id) for h in hybrid[:head]]
        for rname, reranker in rerankers.items():
            t = time.perf_counter()
            row["scores"][rname] = [round(float(s), 4) for s in reranker.score(query, passages)]
            row["rerank_ms"][rname] = round((time.perf_counter() - t) * 1000, 1)
        rows.append(row)
    return rows


# -- orderings and metrics (pure) ---------------------------------------------------------------
def order(row: dict, reranker: str | None, weight: float | None, head: int) -> list:
    """(doc id, relevance) in the order a setting ranks the hybrid candidates."""
    cands = row["hybrid"]
    if reranker is None:
        return cands
    scores = row["scores"][reranker][:head]
    top = fuse_rerank(list(range(len(scores))), scores, weight)
    return [cands[i] for i in top] + cands[len(scores):]


def doc_ndcg(ranked: list, gold_docs: int, k: int = 10) -> float:
    """nDCG@k over documents: a document counts at its first chunk, relevant if gold."""
    seen, dcg, rank = set(), 0.0, 0
    for doc, rel in ranked:
        if doc in seen:
            continue
        seen.add(doc)
        rank += 1
        if rank > k:
            break
        dcg += rel / math.log2(rank + 1)
    ideal = sum(1 / math.log2(i + 1) for i in range(1, min(gold_docs, k) + 1))
    return dcg / ideal if ideal else 0.0


def passage_hits(ranked: list, cap: int, k: int = 5) -> float:
    """1 if a passage holding the answer is among the first ``k`` under a per-document cap."""
    per_doc: dict[str, int] = {}
    shown = 0
    for doc, rel in ranked:
        if per_doc.get(doc, 0) >= cap:
            continue
        per_doc[doc] = per_doc.get(doc, 0) + 1
        shown += 1
        if rel:
            return 1.0
        if shown == k:
            break
    return 0.0


def settings_compared(rerankers: list[str]) -> list[tuple[str, str | None, float | None, int]]:
    out = [("hybrid", None, None, 0)]
    for r in rerankers:
        for head in HEADS:
            for w in WEIGHTS:
                tag = "alone" if w is None else f"w={w:g}"
                out.append((f"{r} {tag} top{head}", r, w, head))
    return out


def score_set(name: str, rows: list[dict], rerankers: list[str]) -> dict:
    from eval.bootstrap import paired_difference

    kind = name.split("-")[0]
    caps = (1,) if kind == "bioasq" else CAPS

    def metric(ranked, row, cap):
        return (doc_ndcg(ranked, row["gold_docs"]) if kind == "bioasq"
                else passage_hits(ranked, cap))

    table = {}
    for cap in caps:
        base = [metric(r["hybrid"], r, cap) for r in rows]
        bm25 = [metric(r["bm25"], r, cap) for r in rows]
        entries = {"bm25": bm25}
        for label, reranker, weight, head in settings_compared(rerankers):
            entries[label] = base if reranker is None else [
                metric(order(r, reranker, weight, head), r, cap) for r in rows]
        cell = {}
        for label, values in entries.items():
            diff, ci = paired_difference(base, values)
            cell[label] = {"mean": round(float(np.mean(values)), 4),
                           "vs_hybrid": round(diff, 4), "ci": [round(ci[0], 4), round(ci[1], 4)]}
        table[str(cap)] = cell
    latency = {r: round(float(np.median([row["rerank_ms"][r] for row in rows])), 1)
               for r in rerankers}
    return {"n": len(rows), "metric": "nDCG@10 (documents)" if kind == "bioasq" else
            "answer passage hit@5", "caps": table, "rerank_ms_p50": latency}


def choose(result: dict, caps: tuple[str, ...] = ("3", "5")) -> dict:
    """On the validation sets: for each per-document cap, the setting with the largest mean
    gain over hybrid among those that lower none of them; then the cap whose choice puts the
    answer passage of a full-text question in the top 5 most often (BioASQ's document
    ranking does not depend on the cap)."""
    dev = [s for s in result["sets"] if s.endswith("-val")]
    labels = [label for label, r, _, _ in settings_compared(result["rerankers"]) if r]
    fulltext = [s for s in dev if s.startswith("covidqa")]
    per_cap = {}
    for cap in caps:
        def cell(s: str, label: str) -> dict:
            return result["sets"][s]["caps"]["1" if s.startswith("bioasq") else cap][label]

        best, best_gain = "hybrid", 0.0
        for label in labels:
            per = [cell(s, label)["vs_hybrid"] for s in dev]
            if min(per) >= 0 and float(np.mean(per)) > best_gain:
                best, best_gain = label, float(np.mean(per))
        per_cap[cap] = {"chosen": best, "mean_gain": round(best_gain, 4),
                        "fulltext_hit@5": [cell(s, best)["mean"] for s in fulltext]}
    cap = max(caps, key=lambda c: (float(np.mean(per_cap[c]["fulltext_hit@5"] or [0])),
                                   -int(c)))
    return {"on": dev, "cap": cap, **per_cap[cap], "per_cap": per_cap}


# -- report ---------------------------------------------------------------------------------------
def to_markdown(result: dict) -> str:
    out = ["# Rerankers on questions and papers they never saw (bench/reranker_heldout.py)", "",
           f"Rerankers: {', '.join(f'`{k}` = {v}' for k, v in result['reranker_specs'].items())}."
           f" Machine: {result.get('machine', '?')}.", ""]
    for name, s in result["sets"].items():
        caps = list(s["caps"])
        out += [f"## {name}: {s['metric']}, n = {s['n']}", "",
                "| setting | " + " | ".join(
                    (f"cap {c if c != '1000' else 'none'}" if len(caps) > 1 else "score")
                    + " (vs hybrid, 95% CI)" for c in caps) + " |",
                "|---" * (1 + len(caps)) + "|"]
        for label in s["caps"][caps[0]]:
            cells = []
            for c in caps:
                e = s["caps"][c][label]
                cells.append(f"{e['mean']:.3f}" if label == "hybrid" else
                             f"{e['mean']:.3f} ({e['vs_hybrid']:+.3f} [{e['ci'][0]:+.3f}, "
                             f"{e['ci'][1]:+.3f}])")
            out.append(f"| {label} | " + " | ".join(cells) + " |")
        out += ["", "Reranker time per question (top candidates scored), p50 ms: "
                + ", ".join(f"{k} {v}" for k, v in s["rerank_ms_p50"].items()), ""]
    if "choice" in result:
        c = result["choice"]
        per = "; ".join(f"cap {k}: `{v['chosen']}` ({v['mean_gain']:+.4f})"
                        for k, v in c["per_cap"].items())
        out += [f"**Chosen on {', '.join(c['on'])}**: per-document cap {c['cap']}, "
                f"`{c['chosen']}` (mean gain over hybrid {c['mean_gain']:+.4f}). A setting that "
                f"lowers any validation set is not eligible; best eligible per cap: {per}.", ""]
    return "\n".join(out) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--shared", type=Path, default=REPO.parent / "shared/data")
    parser.add_argument("--rerankers", nargs="+", default=["shipped=default"],
                        help="NAME=SPEC (a reranker folder, model name or 'default')")
    parser.add_argument("--sets", nargs="+", choices=SETS, default=["bioasq-val", "covidqa-val"])
    parser.add_argument("--limit", type=int, help="questions per set (a fixed spread sample)")
    parser.add_argument("--head", type=int, default=max(HEADS))
    parser.add_argument("--out", type=Path, default=REPO / "bench/results")
    parser.add_argument("--tag", default="", help="suffix of the result files")
    parser.add_argument("--render", action="store_true")
    args = parser.parse_args(argv)
    stem = args.out / f"reranker_heldout{args.tag}"
    if args.render:
        # Scores and the choice are recomputed from the stored candidates and reranker
        # scores: a change to the metrics or the choice rule needs no reranking.
        result = json.loads(stem.with_suffix(".json").read_text())
        for name, rows in result["raw"].items():
            result["sets"][name] = score_set(name, rows, result["rerankers"])
        if any(s.endswith("-val") for s in result["sets"]):
            result["choice"] = choose(result)
        stem.with_suffix(".json").write_text(json.dumps(result) + "\n")
    else:
        import os
        import platform

        from ingest.embed import Embedder
        from retriever.rerank import CrossEncoderReranker

        settings = load_settings({"home": REPO / "data"})
        embedder = Embedder.load(settings.embed)
        specs = dict(s.split("=", 1) for s in args.rerankers)
        rerankers = {n: CrossEncoderReranker.load(spec, models_dir=settings.models_dir)
                     for n, spec in specs.items()}
        result = {"reranker_specs": specs, "rerankers": list(specs), "sets": {}, "raw": {},
                  "machine": f"{platform.processor() or platform.machine()}, "
                             f"{os.cpu_count()} CPUs, reranker precision "
                             f"{next(iter(rerankers.values())).precision}"}
        for name in args.sets:
            t = time.perf_counter()
            rows = collect(name, args.shared, args.limit, rerankers, args.head, embedder)
            result["raw"][name] = rows
            result["sets"][name] = score_set(name, rows, list(specs))
            print(name, f"{time.perf_counter() - t:.0f}s", flush=True)
        if any(s.endswith("-val") for s in result["sets"]):
            result["choice"] = choose(result)
        args.out.mkdir(parents=True, exist_ok=True)
        stem.with_suffix(".json").write_text(json.dumps(result) + "\n")
    stem.with_suffix(".md").write_text(to_markdown(result))
    print(to_markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

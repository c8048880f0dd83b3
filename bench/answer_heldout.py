"""Answers to held-out yes/no questions, generator vs verified quotes, side by side.

    python bench/answer_heldout.py [--index data/cache/pqa_index] [--limit N]

Index: the PubMedQA* corpus (the 500 PubMedQA abstracts and every BioASQ 7B-10B snippet
document, built by `clinrag train` / bench/answer.py with generator/training/corpus.py).
Questions, question only (the evidence is retrieved):

- PubMedQA test split (clinrag/pubmedqa.py; no model or threshold chosen on it);
- BioASQ 10B yes/no questions (the newest year in the shared data); ``--bioasq-round 9B`` is
  the round the answer rules were developed on, so 10B stays the one reported.

For each answer mode (``answer.generator`` = default, i.e. the fine-tuned SmolLM2 with
verification, and extractive = verified quotes only) it reports: verdict accuracy counting
"no clear answer" and abstentions as wrong, coverage (share given a yes/no verdict),
precision of the shown verdicts, the always-"yes" and majority baselines, sentences shown per
answer, and latency p50/p95. Every answer, with its evidence, is saved for reading in
data/cache/answer_heldout_answers.jsonl (not committed: it quotes the shared data). Writes
bench/results/answer_heldout.{json,md}.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from dataclasses import asdict
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from clinrag.settings import load_settings  # noqa: E402
from clinrag.pubmedqa import load_pubmedqa, split_records  # noqa: E402
from retriever.bioasq import load_questions, temporal_split  # noqa: E402

MODES = ("default", "extractive")


def bioasq_yesno(folder: Path, round_: str = "10B", half: str = "all"
                 ) -> list[tuple[str, str, str]]:
    """(id, question, yes|no) for one round's yes/no questions, first occurrence of an id;
    ``half`` "val" or "test": that half of the newest round (retriever/bioasq.temporal_split)."""
    questions = load_questions(folder / f"Task{round_}GoldenEnriched")
    out = []
    for q in questions:
        if half != "all" and temporal_split(q) != half:
            continue
        answer = q.exact_answer
        answer = (answer[0] if isinstance(answer, list) and answer else answer) or ""
        if q.qtype == "yesno" and str(answer).lower() in ("yes", "no"):
            out.append((q.qid, q.body, str(answer).lower()))
    return out


def summarise(rows: list[dict]) -> dict:
    gold = [r["gold"] for r in rows]
    shown = [r for r in rows if r["verdict"] in ("yes", "no", "maybe")]
    correct = sum(r["verdict"] == r["gold"] for r in rows)
    majority = Counter(gold).most_common(1)[0]
    latency = [r["seconds"] for r in rows]
    return {
        "n": len(rows),
        "accuracy": round(correct / len(rows), 4),
        "coverage": round(len(shown) / len(rows), 4),
        "shown_precision": round(sum(r["verdict"] == r["gold"] for r in shown) / len(shown), 4)
        if shown else None,
        "always_yes": round(gold.count("yes") / len(rows), 4),
        "majority": {"label": majority[0], "accuracy": round(majority[1] / len(rows), 4)},
        "verdicts": dict(Counter(r["verdict"] for r in rows)),
        "abstained": sum(r["abstained"] for r in rows),
        "sentences_per_answer": round(float(np.mean([len(r["sentences"]) for r in rows])), 2),
        "generated_sentences": sum(s["origin"] == "generated" for r in rows
                                   for s in r["sentences"]),
        "latency_s": {"p50": round(float(np.percentile(latency, 50)), 2),
                      "p95": round(float(np.percentile(latency, 95)), 2)},
        # Risk-coverage: shown verdicts at confidence >= c (only the stance model gives one).
        "risk_coverage": [
            {"min_confidence": c, "coverage": round(len(kept) / len(rows), 4),
             "precision": round(sum(r["verdict"] == r["gold"] for r in kept) / len(kept), 4)
             if kept else None}
            for c in (0.5, 0.6, 0.7, 0.8, 0.9)
            for kept in [[r for r in shown if (r.get("confidence") or 0) >= c]]],
    }


def to_markdown(result: dict) -> str:
    out = ["# Held-out yes/no questions: generator vs verified quotes", "",
           f"Index `{result['index']}` ({result['chunks']} chunks); question only, evidence "
           "retrieved. Accuracy counts \"no clear answer\" and abstentions as wrong.", "",
           *([f"Machine: {m['cpu']}, {m['cores']} cores, bf16 units: "
              f"{'yes' if m['bf16_units'] else 'no (fp32)'}, load average at start "
              f"{m['load_avg_1m_at_start']}.", ""] if (m := result.get("machine")) else []),
           "| set | mode | n | accuracy | coverage | precision of shown verdicts | always yes "
           "| majority | sentences/answer | generated sentences kept | latency p50 / p95 s |",
           "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, modes in result["sets"].items():
        for mode, s in modes.items():
            precision = "-" if s["shown_precision"] is None else f"{s['shown_precision']:.3f}"
            out.append(f"| {name} | {mode} | {s['n']} | {s['accuracy']:.3f} | "
                       f"{s['coverage']:.3f} | {precision} | {s['always_yes']:.3f} | "
                       f"{s['majority']['accuracy']:.3f} ({s['majority']['label']}) | "
                       f"{s['sentences_per_answer']} | {s['generated_sentences']} | "
                       f"{s['latency_s']['p50']} / {s['latency_s']['p95']} |")
    return "\n".join(out) + "\n"


def machine() -> dict:
    """What the latencies depend on: without bf16 units (AVX512-BF16/AMX) every model runs in
    fp32, several times slower than on the machines of docs/benchmarks.md."""
    import os
    import platform

    from clinrag.device import cpu_has_bf16

    model = next((line.split(":", 1)[1].strip() for line in
                  Path("/proc/cpuinfo").read_text().splitlines()
                  if line.startswith("model name")), platform.processor()) \
        if Path("/proc/cpuinfo").exists() else platform.processor()
    return {"cpu": model, "cores": os.cpu_count(), "bf16_units": cpu_has_bf16(),
            "load_avg_1m_at_start": round(os.getloadavg()[0], 2)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", type=Path, default=REPO / "data/cache/pqa_index")
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--limit", type=int, default=None, help="questions per set")
    parser.add_argument("--modes", nargs="+", default=list(MODES))
    parser.add_argument("--stance", nargs="+", default=["default"],
                        help="answer.stance_model values to compare ('none' = rules only)")
    parser.add_argument("--pubmedqa-split", choices=("val", "test"), default="test",
                        help="val while choosing anything; test to report, once")
    parser.add_argument("--bioasq-round", choices=("7B", "8B", "9B", "10B"), default="10B",
                        help="9B while developing the answer rules; 10B to report")
    parser.add_argument("--bioasq-half", choices=("all", "val", "test"), default="all",
                        help="10B only: the temporal split's validation or test half (the "
                        "stance model's verdict rule is chosen on val)")
    parser.add_argument("--sets", nargs="+", choices=("pubmedqa", "bioasq"),
                        default=["pubmedqa", "bioasq"])
    parser.add_argument("--out", type=Path, default=REPO / "bench/results")
    parser.add_argument("--answers", type=Path,
                        default=REPO / "data/cache/answer_heldout_answers.jsonl",
                        help="every answer, one JSON line each, for reading")
    args = parser.parse_args(argv)
    from generator.answer import Answerer

    records = split_records(load_pubmedqa(args.data / "pubmedqa/pqal_train.json"),
                            args.pubmedqa_split)
    sets = {}
    if "pubmedqa" in args.sets:
        sets[f"PubMedQA {args.pubmedqa_split}"] = [(r.pmid, r.question, r.decision)
                                                   for r in records]
    if "bioasq" in args.sets:
        half = "" if args.bioasq_half == "all" else f"-{args.bioasq_half}"
        sets[f"BioASQ {args.bioasq_round}{half} yes/no"] = bioasq_yesno(
            args.data / "bioasq", args.bioasq_round, args.bioasq_half)
    if args.limit:
        sets = {k: v[: args.limit] for k, v in sets.items()}
    result = {"index": str(args.index), "sets": {}, "machine": machine()}
    args.answers.parent.mkdir(parents=True, exist_ok=True)
    saved = args.answers.open("w")
    for generator, stance in [(g, s) for g in args.modes for s in args.stance]:
        mode = generator if stance == "default" else f"{generator}, stance {stance}"
        settings = load_settings({"index": args.index, "answer": {"generator": generator,
                                                                  "stance_model": stance}})
        answerer = Answerer.open(settings)
        result["chunks"] = len(answerer.retriever.generation.chunks)
        for name, items in sets.items():
            rows = []
            for qid, question, gold in items:
                t0 = time.perf_counter()
                answer = answerer.answer(question)
                row = {"set": name, "mode": mode, "id": qid, "question": question,
                       "gold": gold, "verdict": answer.verdict, "abstained": answer.abstained,
                       "abstention_reason": answer.abstention_reason,
                       "confidence": answer.confidence,
                       "verdict_probs": answer.verdict_probs,
                       "seconds": round(time.perf_counter() - t0, 3),
                       "sentences": [{"text": s.text, "citations": list(s.citations),
                                      "origin": s.origin} for s in answer.sentences],
                       "evidence": {e.n: {"doc_id": e.doc_id, "section": e.section,
                                          "text": e.text}
                                    for e in answer.evidence},
                       "checks": answer.checks, "meter": answer.meter,
                       "verdict_reason": answer.verdict_reason,
                       "papers": [asdict(p) for p in answer.papers]}
                rows.append(row)
                saved.write(json.dumps(row) + "\n")
                saved.flush()
            result["sets"].setdefault(name, {})[mode] = summarise(rows)
            print(name, mode, json.dumps(result["sets"][name][mode]), flush=True)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "answer_heldout.json").write_text(json.dumps(result, indent=1) + "\n")
    (args.out / "answer_heldout.md").write_text(to_markdown(result))
    saved.close()
    print(to_markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

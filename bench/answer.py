"""Grounded answering on PubMedQA*: verdicts, verified sentences, abstention, latency.

Setting (question only, evidence retrieved): the corpus is the 500 PubMedQA PQA-L abstracts
plus every BioASQ 7B-10B snippet document as distractors (~11.5k documents), indexed by
`ingest run`. Questions: the PubMedQA validation split (clinrag/pubmedqa.py), never
trained on by the verdict, support or generator models.

- answerable: each validation question against the full corpus -> verdict accuracy and
  macro-F1 (an abstention counts as a wrong verdict), accuracy on answered questions,
  false-abstention rate, share of generated sentences that verification kept;
- unanswerable: validation + test questions against a copy of the index from which their
  source abstracts were removed (`ingest remove pubmed:<PMID>`) -> abstention rate;
- latency of each answer on this machine's CPU, p50/p95 per stage.

    python bench/answer.py [--index data/cache/pqa_index] [--limit N]
    python bench/answer.py --render     # the report again from bench/results/answer.json

Writes bench/results/answer.{json,md}.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from clinrag.settings import load_settings  # noqa: E402
from clinrag.pubmedqa import load_pubmedqa, split_records  # noqa: E402


def build_indexes(index: Path, removed: Path, pubmedqa: Path, bioasq: Path,
                  unanswerable: list[str]) -> None:
    from generator.training.corpus import ensure_corpus_index
    from ingest.pipeline import remove
    from ingest.store import IndexStore

    ensure_corpus_index(load_settings({"index": index}), bioasq, pubmedqa)
    # The copy is current only for the same removals from the same source generation (a
    # rebuilt source index gets a new manifest).
    store = IndexStore(index)
    manifest = store.generations_dir / store.current_name() / "manifest.json"
    wanted = {"source_manifest_sha256": hashlib.sha256(manifest.read_bytes()).hexdigest(),
              "removed": sorted(unanswerable)}
    stamp = removed / "REMOVED.json"
    if not (stamp.exists() and json.loads(stamp.read_text()) == wanted):
        shutil.rmtree(removed, ignore_errors=True)
        shutil.copytree(index, removed, ignore=shutil.ignore_patterns("LOCK"))
        remove(sorted(unanswerable), load_settings({"index": removed}))
        stamp.write_text(json.dumps(wanted))


def percentiles(values: list[float]) -> dict[str, float]:
    if not values:
        return {}
    return {"p50": round(float(np.percentile(values, 50)), 1),
            "p95": round(float(np.percentile(values, 95)), 1), "n": len(values)}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", type=Path, default=REPO / "data/cache/pqa_index")
    parser.add_argument("--removed-index", type=Path,
                        default=REPO / "data/cache/pqa_removed_index")
    parser.add_argument("--pubmedqa", type=Path,
                        default=REPO.parent / "shared/data/pubmedqa/pqal_train.json")
    parser.add_argument("--bioasq", type=Path, default=REPO.parent / "shared/data/bioasq")
    parser.add_argument("--generator", default=None, help="override answer.generator")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--out", type=Path, default=REPO / "bench/results")
    parser.add_argument("--render", action="store_true",
                        help="rewrite answer.md/json from the saved per-question rows")
    args = parser.parse_args()
    if args.render:
        saved = json.loads((args.out / "answer.json").read_text())
        meta = {k: saved[k] for k in ("index_documents", "index_chunks", "models",
                                      "model_load_s")}
        return report(saved["per_question"], saved["unanswerable_rows"], meta, args.out)
    from generator.answer import Answerer

    records = load_pubmedqa(args.pubmedqa)
    val = split_records(records, "val")[: args.limit or None]
    held_out = (split_records(records, "val") + split_records(records, "test"))
    held_out = held_out[: (args.limit * 2) if args.limit else None]
    build_indexes(args.index, args.removed_index, args.pubmedqa, args.bioasq,
                  [r.doc_id for r in held_out])
    settings = load_settings({"index": args.index,
                              "answer": {"generator": args.generator}})
    t = time.perf_counter()
    answerer = Answerer.open(settings)
    load_s = time.perf_counter() - t

    rows = []
    for r in val:
        a = answerer.answer(r.question)
        rows.append({"pmid": r.pmid, "gold": r.decision, "verdict": a.verdict,
                     "abstained": a.abstained, "confidence": a.confidence,
                     "source_retrieved": r.doc_id in {s.doc_id for s in a.evidence},
                     "cites_source": r.doc_id in {s.doc_id for s in a.evidence
                                                  if s.chunk_id in a.cited_chunk_ids()},
                     "origins": [s.origin for s in a.sentences], "checks": a.checks,
                     "timings": a.timings_ms})
        print(json.dumps({k: rows[-1][k] for k in ("pmid", "gold", "verdict", "abstained")}),
              flush=True)
    removed = answerer.reopen(args.removed_index)
    unanswerable = []
    for r in held_out:
        a = removed.answer(r.question)
        unanswerable.append({"pmid": r.pmid, "abstained": a.abstained,
                             "verdict": a.verdict, "timings": a.timings_ms})

    meta = {"index_documents": len(answerer.retriever.generation.documents),
            "index_chunks": len(answerer.retriever.generation.chunks),
            "models": answerer.models, "model_load_s": round(load_s, 1)}
    return report(rows, unanswerable, meta, args.out)


def report(rows: list[dict], unanswerable: list[dict], meta: dict, out: Path) -> int:
    from sklearn.metrics import f1_score

    gold = [x["gold"] for x in rows]
    pred = [x["verdict"] if not x["abstained"] else "insufficient" for x in rows]
    answered = [x for x in rows if not x["abstained"]]
    # Abstaining is right when retrieval missed the source: the evidence does not answer.
    with_source = [x for x in rows if x["source_retrieved"]]
    generated = sum(x["checks"].get("generated_sentences", 0) for x in rows)
    verified = sum(x["checks"].get("verified_sentences", 0) for x in rows)
    stage_times: dict[str, list[float]] = {}
    for x in rows:
        for stage, ms in x["timings"].items():
            stage_times.setdefault(stage, []).append(ms)
    result = {
        "setting": "PubMedQA* (question only; 500 PubMedQA abstracts + BioASQ snippet "
                   "documents as distractors)",
        "index_documents": meta["index_documents"], "index_chunks": meta["index_chunks"],
        "models": meta["models"],
        "answerable": {
            "questions": len(rows),
            "verdict_accuracy": float(np.mean([p == g for p, g in zip(pred, gold)])),
            "verdict_macro_f1": float(f1_score(gold, pred, labels=["yes", "no", "maybe"],
                                               average="macro", zero_division=0)),
            "accuracy_on_answered": float(np.mean([x["verdict"] == x["gold"]
                                                   for x in answered])) if answered else None,
            "false_abstention_rate": 1 - len(answered) / max(1, len(rows)),
            "false_abstention_source_in_evidence": float(np.mean(
                [x["abstained"] for x in with_source])) if with_source else None,
            "questions_source_in_evidence": len(with_source),
            "source_retrieved_rate": float(np.mean([x["source_retrieved"] for x in rows])),
            "answers_citing_source": float(np.mean([x["cites_source"] for x in answered]))
            if answered else None,
            "generated_sentences": generated, "verified_sentences": verified,
            "verified_share_of_generated": verified / generated if generated else None,
            "answers_by_origin": dict(Counter(
                "abstained" if x["abstained"] else
                ("generated" if "generated" in x["origins"] else "extractive") for x in rows)),
            "gold_labels": dict(Counter(gold)), "predicted": dict(Counter(pred)),
        },
        "unanswerable": {
            "questions": len(unanswerable),
            "abstention_rate": float(np.mean([x["abstained"] for x in unanswerable])),
        },
        "latency_ms": {stage: percentiles(v) for stage, v in sorted(stage_times.items())},
        "model_load_s": meta["model_load_s"],
        "machine": "2 CPU cores (shared), no GPU",
    }
    out.mkdir(parents=True, exist_ok=True)
    (out / "answer.json").write_text(json.dumps({**result, "per_question": rows,
                                                 "unanswerable_rows": unanswerable},
                                                indent=1))
    a, u = result["answerable"], result["unanswerable"]
    lines = [
        "# Grounded answering on PubMedQA* (bench/answer.py)", "",
        f"Corpus: {result['index_documents']} documents / {result['index_chunks']} chunks. "
        f"Models: {', '.join(f'{k} `{v}`' for k, v in result['models'].items())}.", "",
        "| measure | value |", "|---|---|",
        f"| validation questions (answerable) | {a['questions']} |",
        f"| verdict accuracy (abstention = wrong) | {a['verdict_accuracy']:.3f} |",
        f"| verdict macro-F1 (yes/no/maybe) | {a['verdict_macro_f1']:.3f} |",
        f"| accuracy on answered questions | {a['accuracy_on_answered'] or 0:.3f} |",
        f"| false-abstention rate, all validation questions | {a['false_abstention_rate']:.3f} |",
        f"| false-abstention rate, source among the evidence (target <= 0.10) | "
        f"{a['false_abstention_source_in_evidence'] or 0:.3f} "
        f"(of {a['questions_source_in_evidence']}) |",
        f"| source abstract among the evidence | {a['source_retrieved_rate']:.3f} |",
        f"| generated sentences kept by verification | {verified}/{generated} |",
        f"| answers by origin | {a['answers_by_origin']} |",
        f"| unanswerable questions (source removed) | {u['questions']} |",
        f"| abstention rate on them (target >= 0.95) | {u['abstention_rate']:.3f} |",
        "", "Latency per answer on this machine (ms):", "",
        "| stage | p50 | p95 |", "|---|---|---|",
        *[f"| {s} | {v['p50']} | {v['p95']} |" for s, v in result["latency_ms"].items()],
        "", f"Model load: {result['model_load_s']} s. {result['machine']}.",
    ]
    (out / "answer.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())

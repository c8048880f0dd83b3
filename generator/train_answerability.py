"""``clinrag train answerability``: fit the answerer's abstention gate.

For every PubMedQA PQA-L question the answerer's own retrieval (hybrid + reranker) runs on the
PubMedQA* index (the 500 abstracts plus the BioASQ documents as distractors). Two evidence
sets are scored the way the answerer scores them:

- *answerable*: the top passages as retrieved, when the question's source abstract is among
  them;
- *unanswerable*: the top passages once every passage of the source abstract is removed, so
  the evidence is whatever else the index offers (the situation of a question the indexed
  literature does not answer).

A logistic regression over (P(insufficient), term coverage, similarity) is fitted on the train
split (by PMID, the same split as every other model); the threshold is the one that keeps
false abstention on train answerable questions at ``--false-abstention``; validation and test
are reported, never fitted on. Output: ``clinrag_answerability.json`` and a model card.

    clinrag train answerability [--index data/cache/pqa_index] [--false-abstention 0.08]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from clinrag.settings import load_settings
from generator.answerability import FEATURES, AnswerabilityGate, AnswerabilitySignals
from generator.pubmedqa import load_pubmedqa, split_records

log = logging.getLogger(__name__)
SPLITS = ("train", "val", "test")


def collect(retriever, verdict, records, evidence_k: int) -> list[dict[str, Any]]:
    """One row per (question, evidence set) with the gate's signals."""
    rows = []
    for record in records:
        vector = retriever.embedder.encode([record.question])[0]
        hits = retriever.search(record.question, evidence_k + 7, query_vector=vector)
        sets = {"removed": [h for h in hits if h.doc_id != record.doc_id][:evidence_k]}
        if record.doc_id in {h.doc_id for h in hits[:evidence_k]}:
            sets["answerable"] = hits[:evidence_k]
        for name, chosen in sets.items():
            if not chosen:
                continue
            ids = [h.chunk_id for h in chosen]
            prediction = verdict.predict(record.question, [retriever.passage_of(c) for c in ids])
            coverage, similarity = retriever.evidence_match(record.question, ids, vector)
            rows.append({"pmid": record.pmid, "set": name, "decision": record.decision,
                         "p_insufficient": prediction.probs["insufficient"],
                         "term_coverage": coverage, "similarity": similarity})
    return rows


def _matrix(rows: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    x = np.array([AnswerabilitySignals(r["p_insufficient"], r["term_coverage"],
                                       r["similarity"]).vector() for r in rows])
    y = np.array([r["set"] == "removed" for r in rows], dtype=int)
    return x, y


def rates(gate: AnswerabilityGate, rows: list[dict[str, Any]]) -> dict[str, Any]:
    from sklearn.metrics import roc_auc_score

    p = np.array([gate.p_unanswerable(AnswerabilitySignals(
        r["p_insufficient"], r["term_coverage"], r["similarity"])) for r in rows])
    removed = np.array([r["set"] == "removed" for r in rows])
    out: dict[str, Any] = {"answerable": int((~removed).sum()), "removed": int(removed.sum())}
    if removed.any() and (~removed).any():
        out["auc"] = round(float(roc_auc_score(removed, p)), 4)
        out["false_abstention"] = round(float((p[~removed] >= gate.threshold).mean()), 4)
        out["abstention_removed"] = round(float((p[removed] >= gate.threshold).mean()), 4)
        x = _matrix(rows)[0]
        for i, feature in enumerate(FEATURES):
            # Each signal alone, oriented its natural way (coverage and similarity: lower
            # means unanswerable), so every AUC reads the same.
            sign = 1.0 if feature == "p_insufficient" else -1.0
            out[f"auc_{feature}_alone"] = round(float(roc_auc_score(removed, sign * x[:, i])),
                                                4)
    return out


def fit(rows: list[dict[str, Any]], false_abstention: float, embedder: str,
        extra: dict[str, Any]) -> AnswerabilityGate:
    from sklearn.linear_model import LogisticRegression

    train = [r for r in rows if r["split"] == "train"]
    x, y = _matrix(train)
    model = LogisticRegression(C=1.0, max_iter=1000).fit(x, y)
    gate = AnswerabilityGate(weights=tuple(float(w) for w in model.coef_[0]),
                             bias=float(model.intercept_[0]), threshold=0.5, embedder=embedder)
    answerable = [gate.p_unanswerable(AnswerabilitySignals(
        r["p_insufficient"], r["term_coverage"], r["similarity"]))
        for r in train if r["set"] == "answerable"]
    # The smallest threshold that abstains on at most this share of answerable questions.
    threshold = float(np.quantile(answerable, 1 - false_abstention, method="higher")) + 1e-9
    gate = AnswerabilityGate(weights=gate.weights, bias=gate.bias, threshold=threshold,
                             embedder=embedder)
    metrics = {split: rates(gate, [r for r in rows if r["split"] == split]) for split in SPLITS}
    return AnswerabilityGate(weights=gate.weights, bias=gate.bias, threshold=threshold,
                             embedder=embedder,
                             name=f"clinrag-answerability:{time.strftime('%Y%m%d')}",
                             metrics={**extra, "target_false_abstention": false_abstention,
                                      **metrics})


def write_card(folder: Path, gate: AnswerabilityGate) -> None:
    m = gate.metrics
    lines = [
        "# clinrag answerability gate (logistic regression, 4 numbers)",
        "",
        "Decides when `clinrag ask` abstains: P(unanswerable) from the verdict model's",
        "P(insufficient), the best passage's IDF-weighted coverage of the question's terms and",
        "the best question-passage cosine similarity. Fitted by `clinrag train answerability`.",
        "",
        "## Data",
        f"- {m['source']}; index `{m['index']}` (generation {m['index_generation']}, "
        f"{m['index_chunks']} chunks).",
        "- Each question twice: evidence as retrieved when the source abstract is in the top "
        f"{m['evidence_k']} (answerable), and with the source abstract removed (unanswerable).",
        f"- Verdict model `{m['verdict_model']}`, reranker `{m['reranker']}`, embedder "
        f"`{gate.embedder}` (the gate is refused with any other embedder).",
        "",
        "## Model",
        "| feature | weight |",
        "| --- | --- |",
        *[f"| {f} | {w:+.3f} |" for f, w in zip(gate.features, gate.weights)],
        f"| bias | {gate.bias:+.3f} |",
        "",
        f"Threshold {gate.threshold:.4f}: the value that keeps false abstention on train "
        f"answerable questions at {m['target_false_abstention']:.0%}.",
        "",
        "## Result (by PMID split; fitted on train only)",
        "| split | answerable | removed | AUC | false abstention | abstention when removed |"
        " AUC P(insufficient) alone |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        *[f"| {s} | {m[s]['answerable']} | {m[s]['removed']} | {m[s].get('auc', '-')} | "
          f"{m[s].get('false_abstention', '-')} | {m[s].get('abstention_removed', '-')} | "
          f"{m[s].get('auc_p_insufficient_alone', '-')} |" for s in SPLITS],
        "",
        "## Limits",
        "- PubMedQA questions are usually their paper's title, so the source abstract matches",
        "  them closely; a question paraphrased far from every passage's wording will look",
        "  less answerable than it is (a false abstention, never a wrong answer).",
        "",
    ]
    (folder / "README.md").write_text("\n".join(lines), "utf-8")


def main(argv: list[str] | None = None, prog: str = "clinrag train answerability") -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    parser.add_argument("--pubmedqa", type=Path,
                        default=Path("../shared/data/pubmedqa/pqal_train.json"))
    parser.add_argument("--bioasq", type=Path, default=Path("../shared/data/bioasq"))
    parser.add_argument("--index", type=Path, default=Path("data/cache/pqa_index"),
                        help="index of the PubMedQA abstracts + BioASQ documents (built if "
                        "missing)")
    parser.add_argument("--out", type=Path, default=Path("data/models/answerability"))
    parser.add_argument("--false-abstention", type=float, default=0.08,
                        help="share of answerable train questions the threshold may abstain on")
    parser.add_argument("--limit", type=int, help="questions per split (quick runs)")
    args = parser.parse_args(argv)
    if not 0 < args.false_abstention < 1:
        parser.error("--false-abstention must be between 0 and 1")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    settings = load_settings({"index": args.index})
    from ingest.store import IndexStore

    if not IndexStore(settings.index_dir).exists():
        from ingest.pipeline import run

        print(f"building the PubMedQA + BioASQ index in {args.index} ...", flush=True)
        run([args.bioasq, args.pubmedqa], settings)
    from generator.verdict import VerdictModel
    from retriever.hybrid import Retriever

    retriever = Retriever.open(settings)
    verdict = VerdictModel(settings.answer.verdict_model, models_dir=settings.models_dir,
                           device=settings.embed.device)
    records = load_pubmedqa(args.pubmedqa)
    k = settings.answer.evidence_k
    generation = retriever.generation
    cache = args.index / (f"answerability_{generation.name}_{k}_"
                          f"{verdict.name.replace(':', '_')}.json")
    started = time.monotonic()
    if cache.exists() and args.limit is None:  # signals depend only on index and models
        rows = json.loads(cache.read_text("utf-8"))
    else:
        rows = []
        for split in SPLITS:
            chosen = split_records(records, split)[: args.limit or None]
            for row in collect(retriever, verdict, chosen, k):
                rows.append({**row, "split": split})
            log.info("%s: %d questions scored", split, len(chosen))
        if args.limit is None:
            cache.write_text(json.dumps(rows), "utf-8")
    embedder = str(generation.manifest["embedder"]["name"])
    gate = fit(rows, args.false_abstention, embedder, {
        "source": f"PubMedQA PQA-L ({len(records)} records)", "index": str(args.index),
        "index_generation": generation.name, "index_chunks": len(generation.chunks),
        "evidence_k": k, "verdict_model": verdict.name,
        "reranker": getattr(retriever.reranker, "name", None),
        "seconds": round(time.monotonic() - started, 1)})
    gate.save(args.out)
    write_card(args.out, gate)
    print(json.dumps({s: gate.metrics[s] for s in SPLITS}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

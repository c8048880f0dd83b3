"""``clinrag train answerability``: fit the answerer's abstention gate.

Questions of two kinds, each retrieved the way the answerer retrieves (hybrid + reranker) from
the PubMedQA* index (the 500 PubMedQA abstracts plus every BioASQ document):

- PubMedQA PQA-L questions (mostly their paper's title; one source abstract each);
- BioASQ 7B-10B questions (short, of every type: yes/no, factoid, list, summary; their gold
  documents are the sources).

Each question gives two evidence sets, scored as the answerer scores them:

- *answerable*: the top passages as retrieved, when a source is among them;
- *unanswerable*: the top passages once every passage of every source is removed, so the
  evidence is whatever else the index offers (the situation of a question the indexed
  literature does not answer).

A logistic regression over (P(insufficient), term coverage, similarity) is fitted on the train
split of both (PubMedQA by PMID, BioASQ by question id: the splits every other model uses); the
threshold is the one that keeps false abstention on train answerable questions at
``--false-abstention``; validation and test are reported per source, never fitted on.
Output: ``clinrag_answerability.json`` and a model card.

    clinrag train answerability [--index data/cache/pqa_index] [--false-abstention 0.08]
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
import time
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import numpy as np

from clinrag.settings import load_settings
from generator.answerability import FEATURES, AnswerabilityGate, AnswerabilitySignals
from generator.training.corpus import add_corpus_args, ensure_corpus_index
from clinrag.pubmedqa import load_pubmedqa, split_records
from retriever.types import SearchParams

log = logging.getLogger(__name__)
SPLITS = ("train", "val", "test")
DATASETS = ("pubmedqa", "bioasq")


@dataclass(frozen=True)
class Item:
    """One question and the documents that answer it."""

    qid: str
    question: str
    sources: frozenset[str]
    split: str
    dataset: str


def pubmedqa_items(path: Path) -> list[Item]:
    records = load_pubmedqa(path)
    return [Item(r.pmid, r.question, frozenset({r.doc_id}), split, "pubmedqa")
            for split in SPLITS for r in split_records(records, split)]


def bioasq_items(folder: Path, per_split: dict[str, int]) -> list[Item]:
    from retriever.bioasq import load_questions, split

    questions = load_questions(folder)
    return [Item(q.qid, q.body, frozenset(q.gold_doc_ids), name, "bioasq")
            for name in SPLITS
            for q in [q for q in split(questions, name) if q.gold_doc_ids][: per_split[name]]]


def collect(retriever, verdict, items: list[Item], evidence_k: int) -> list[dict[str, Any]]:
    """One row per (question, evidence set) with the gate's signals."""
    rows = []
    for item in items:
        vector = retriever.embedder.encode([item.question])[0]
        # Deep enough that the evidence without the sources still has evidence_k passages.
        depth = evidence_k + 7 + min(len(item.sources), 25)
        hits = retriever.search(item.question, SearchParams(k=depth), query_vector=vector).hits
        sets = {"removed": [h for h in hits if h.doc_id not in item.sources][:evidence_k]}
        if item.sources & {h.doc_id for h in hits[:evidence_k]}:
            sets["answerable"] = hits[:evidence_k]
        for name, chosen in sets.items():
            if not chosen:
                continue
            ids = [h.chunk_id for h in chosen]
            prediction = verdict.predict(item.question, [retriever.passage_of(c) for c in ids])
            coverage, similarity = retriever.evidence_match(item.question, ids, vector)
            rows.append({"id": item.qid, "dataset": item.dataset, "split": item.split,
                         "set": name, "p_insufficient": prediction.probs["insufficient"],
                         "term_coverage": coverage, "similarity": similarity})
    return rows


def _row_signals(row: dict[str, Any]) -> AnswerabilitySignals:
    return AnswerabilitySignals(row["p_insufficient"], row["term_coverage"], row["similarity"])


def _matrix(rows: list[dict[str, Any]]) -> tuple[np.ndarray, np.ndarray]:
    x = np.array([_row_signals(r).vector() for r in rows])
    y = np.array([r["set"] == "removed" for r in rows], dtype=int)
    return x, y


def rates(gate: AnswerabilityGate, rows: list[dict[str, Any]]) -> dict[str, Any]:
    from sklearn.metrics import roc_auc_score

    p = np.array([gate.p_unanswerable(_row_signals(r)) for r in rows])
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
                             bias=float(model.intercept_[0]), threshold=0.5, embedder=embedder,
                             name=f"clinrag-answerability:{time.strftime('%Y%m%d')}")
    answerable = [gate.p_unanswerable(_row_signals(r)) for r in train
                  if r["set"] == "answerable"]
    # The smallest threshold that abstains on at most this share of answerable questions.
    threshold = float(np.quantile(answerable, 1 - false_abstention, method="higher")) + 1e-9
    gate = replace(gate, threshold=threshold)
    metrics = {f"{dataset}_{split}": rates(gate, [r for r in rows if r["split"] == split
                                                  and r["dataset"] == dataset])
               for dataset in DATASETS for split in SPLITS}
    return replace(gate, metrics={**extra, "target_false_abstention": false_abstention,
                                  **metrics})


def write_card(folder: Path, gate: AnswerabilityGate) -> None:
    m = gate.metrics
    keys = [f"{d}_{s}" for d in DATASETS for s in SPLITS]
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
        "- Each question twice: evidence as retrieved when a source document is in the top "
        f"{m['evidence_k']} (answerable), and with every source document removed "
        "(unanswerable).",
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
        f"answerable questions (both datasets) at {m['target_false_abstention']:.0%}.",
        "",
        "## Result (PubMedQA split by PMID, BioASQ by question id; fitted on train only)",
        "| dataset, split | answerable | removed | AUC | false abstention | abstention when "
        "removed | AUC P(insufficient) alone |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        *[f"| {key.replace('_', ', ')} | {m[key]['answerable']} | {m[key]['removed']} | "
          f"{m[key].get('auc', '-')} | {m[key].get('false_abstention', '-')} | "
          f"{m[key].get('abstention_removed', '-')} | "
          f"{m[key].get('auc_p_insufficient_alone', '-')} |" for key in keys if key in m],
        "",
        "## Limits",
        "- A question worded far from every passage looks less answerable than it is: that",
        "  costs a false abstention (the closest evidence is still shown), never a wrong answer.",
        "- Fitted on two benchmarks' questions; other question styles may sit elsewhere on",
        "  the trade-off. `answer.abstain_threshold` moves it.",
        "",
    ]
    (folder / "README.md").write_text("\n".join(lines), "utf-8")


def _signals(retriever, verdict, items: list[Item], k: int, cache: Path | None):
    """The rows of ``items``, from ``cache`` when it holds them (they depend only on the
    index generation, the evidence size and the models)."""
    if cache is not None and cache.exists():
        return json.loads(cache.read_text("utf-8"))
    rows = collect(retriever, verdict, items, k)
    if cache is not None:
        cache.write_text(json.dumps(rows), "utf-8")
    return rows


def main(argv: list[str] | None = None, prog: str = "clinrag train answerability") -> int:
    parser = argparse.ArgumentParser(prog=prog, description=__doc__.split("\n\n")[0])
    add_corpus_args(parser)
    parser.add_argument("--out", type=Path, default=Path("data/models/answerability"))
    parser.add_argument("--false-abstention", type=float, default=0.08,
                        help="share of answerable train questions the threshold may abstain on")
    parser.add_argument("--bioasq-per-split", type=int, default=200,
                        help="BioASQ questions (with gold documents) taken from each split")
    parser.add_argument("--limit", type=int, help="questions per dataset and split (quick "
                        "runs; nothing cached)")
    args = parser.parse_args(argv)
    if not 0 < args.false_abstention < 1:
        parser.error("--false-abstention must be between 0 and 1")
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s")
    settings = load_settings({"index": args.index})
    ensure_corpus_index(settings, args.bioasq, args.pubmedqa)
    from generator.verdict import VerdictModel
    from retriever.hybrid import Retriever

    retriever = Retriever.open(settings)
    verdict = VerdictModel.load(settings.answer.verdict_model, models_dir=settings.models_dir,
                           device=settings.embed.device)
    k = settings.answer.evidence_k
    generation = retriever.generation
    per_split = args.limit or args.bioasq_per_split
    datasets = {"pubmedqa": pubmedqa_items(args.pubmedqa),
                "bioasq": bioasq_items(args.bioasq, dict.fromkeys(SPLITS, per_split))}
    started = time.monotonic()
    rows = []
    for dataset, items in datasets.items():
        if args.limit:
            items = [i for s in SPLITS for i in [i for i in items if i.split == s][:args.limit]]
        stem = f"answerability_{dataset}_{generation.name}_{k}_{verdict.name}"
        if dataset == "bioasq":
            stem += f"_{per_split}"
        cache = None if args.limit else args.index / (stem.replace(":", "_") + ".json")
        rows += _signals(retriever, verdict, items, k, cache)
        log.info("%s: %d questions scored", dataset, len(items))
    embedder = str(generation.manifest["embedder"]["name"])
    counts = {d: {s: sum(1 for i in items if i.split == s) for s in SPLITS}
              for d, items in datasets.items()}
    gate = fit(rows, args.false_abstention, embedder, {
        "source": f"PubMedQA PQA-L questions {counts['pubmedqa']} and BioASQ 7B-10B "
                  f"questions {counts['bioasq']} (train / val / test)",
        "index": str(args.index),
        "index_generation": generation.name, "index_chunks": len(generation.chunks),
        "evidence_k": k, "verdict_model": verdict.name,
        "reranker": getattr(retriever.reranker, "name", None),
        "seconds": round(time.monotonic() - started, 1)})
    gate.save(args.out)
    write_card(args.out, gate)
    print(json.dumps({key: gate.metrics[key] for key in gate.metrics
                      if key.endswith(SPLITS)}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())

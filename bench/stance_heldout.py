"""Verdicts read off the evidence sentences (the stance model) on held-out yes/no questions.

    python bench/stance_heldout.py [--stance PATH] [--fit] [--test]

Questions, question only, evidence retrieved from the PubMedQA* index the way the answerer
retrieves it (hybrid + reranker, ``answer.evidence_k`` passages):

- BioASQ 10B yes/no, halved by the temporal split (retriever/bioasq.py): ``10B-val`` (52) to
  choose on, ``10B-test`` (71) to report once; no 10B answer was trained on.
- PubMedQA PQA-L validation (56) and test (58) (clinrag/pubmedqa.py).

Steps: (1) evidence per question, cached in data/cache/stance_evidence.json (it quotes the
shared data, so it is not committed); (2) every sentence of the evidence scored by the stance
model (cached per model); (3) the verdict rule (sentence floor, rank decay, whether mixed
evidence is "unclear", the logistic calibration of P(yes) and the threshold a shown verdict
needs) chosen on the two validation sets pooled, by accuracy with "unclear" counted wrong,
among rules whose shown verdicts are right at least ``--min-precision`` of the time on
validation (if none is, the most precise); (4) with ``--test`` the test sets are scored once
with that rule. ``--fit`` writes the rule next to the stance model
(generator/evidence_stance.py reads it). Risk-coverage curves (precision of shown verdicts
when only those at confidence >= c are shown) go into
bench/results/stance_heldout{,_test}.{json,md}.
"""

from __future__ import annotations

import argparse
import itertools
import json
import sys
from collections import Counter
from dataclasses import replace
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from clinrag.settings import load_settings  # noqa: E402
from generator.evidence_stance import (PaperInfo, SentenceStance,  # noqa: E402
                                       StanceModel, StanceVerdict, VerdictRule,
                                       evidence_sentences, stance_verdict)
from clinrag.pubmedqa import load_pubmedqa, split_records  # noqa: E402
from generator.verdicts import off_topic_silenced  # noqa: E402
from generator.training.stance_mining import yes_no_answer  # noqa: E402
from retriever.bioasq import load_questions, temporal_split  # noqa: E402
from retriever.types import SearchParams  # noqa: E402

FLOORS = (0.5, 0.6, 0.7, 0.8)
DECAYS = (0.5, 0.7, 1.0)
RELEVANCE = (0.0, 0.1, 0.2, 0.3)
POWERS = (0.0, 1.0, 2.0)
THRESHOLDS = tuple(round(x, 2) for x in np.arange(0.5, 0.96, 0.025))


def question_sets(data: Path) -> dict[str, list[dict]]:
    sets: dict[str, list[dict]] = {}
    for q in load_questions(data / "bioasq"):
        answer = yes_no_answer(q)
        if answer is not None and temporal_split(q) != "train":
            sets.setdefault(f"BioASQ 10B-{temporal_split(q)}", []).append(
                {"id": q.qid, "question": q.body, "gold": answer, "gold_docs": q.gold_doc_ids,
                 "snippets": list(dict.fromkeys(q.gold_snippets))})
    records = load_pubmedqa(data / "pubmedqa/pqal_train.json")
    for side in ("val", "test"):
        sets[f"PubMedQA {side}"] = [{"id": r.pmid, "question": r.question, "gold": r.decision,
                                     "gold_docs": [r.doc_id]} for r in split_records(records, side)]
    return dict(sorted(sets.items()))


def retrieve(sets: dict[str, list[dict]], index: Path, cache: Path) -> dict[str, list[dict]]:
    """Evidence per question, as the answerer retrieves it (cached: reranking is minutes)."""
    done = json.loads(cache.read_text("utf-8")) if cache.is_file() else {}
    todo = [(name, q) for name, items in sets.items() for q in items
            if f"{name}|{q['id']}" not in done]
    if todo:
        from generator.study_type import study_type
        from retriever.hybrid import Retriever

        settings = load_settings({"index": index})
        retriever = Retriever.open(settings)
        for i, (name, q) in enumerate(todo):
            hits = retriever.search(q["question"], SearchParams(k=settings.answer.evidence_k)).hits
            done[f"{name}|{q['id']}"] = [
                {"doc_id": h.doc_id, "title": h.title, "year": h.year, "text": h.text,
                 "section": h.section,
                 "design": study_type(h.publication_types, h.text), "retracted": h.retracted}
                for h in hits]
            if i % 25 == 24:
                cache.write_text(json.dumps(done))
                print(f"retrieved {i + 1}/{len(todo)}", flush=True)
        cache.parent.mkdir(parents=True, exist_ok=True)
        cache.write_text(json.dumps(done))
    for name, items in sets.items():
        for q in items:
            q["evidence"] = done[f"{name}|{q['id']}"]
            q["gold_in_evidence"] = bool(set(q["gold_docs"]) & {e["doc_id"] for e in
                                                                q["evidence"]})
    return sets


def papers_of(q: dict) -> list[PaperInfo]:
    return [PaperInfo(i + 1, e["doc_id"], e["title"], e["year"], e["design"], e["retracted"])
            for i, e in enumerate(q["evidence"])]


def score(sets: dict[str, list[dict]], stance_spec: str, cache: Path, index: Path) -> None:
    """Each evidence sentence's stance as the answerer reads it (generator/verdicts.py: the
    model, its guards, and the relevance floor), cached per model: re-choosing a rule needs no
    model run."""
    from retriever.hybrid import Retriever

    done = json.loads(cache.read_text("utf-8")) if cache.is_file() else {}
    model = retriever = None
    for name, items in sets.items():
        for q in items:
            key = f"{stance_spec}|{name}|{q['id']}"
            if key not in done:
                model = model or StanceModel.load(stance_spec)
                units = evidence_sentences({i + 1: e["text"] for i, e in
                                            enumerate(q["evidence"])},
                                           {i + 1: e["title"] for i, e in
                                            enumerate(q["evidence"])},
                                           {i + 1: e.get("section") for i, e in
                                            enumerate(q["evidence"])})
                retriever = retriever or Retriever.open(load_settings({"index": index}),
                                                        reranker=None)
                read = model.read(q["question"], units)
                context = [e["text"] for e in q["evidence"]]
                relevance = retriever.coverage(q["question"], [s.text for s in read], context)
                done[key] = [(s.n, s.text, s.yes, s.no, r) for s, r in zip(read, relevance)]
            q["read"] = [SentenceStance(*s[:4]) for s in done[key]]
            q["relevance"] = [s[4] for s in done[key]]
            q["papers"] = papers_of(q)
    cache.write_text(json.dumps(done))


def from_gold_snippets(items: list[dict], model: StanceModel) -> float | None:
    """Accuracy of the plain mean of P(yes) - P(no) over a question's gold snippets (BioASQ
    only): the stance model alone, without retrieval or the verdict rule."""
    right = []
    for q in items:
        if not q.get("snippets"):
            return None
        said = model.read(q["question"], [(1, s) for s in q["snippets"]])
        lean = float(np.mean([s.yes - s.no for s in said]))
        right.append(("yes" if lean >= 0 else "no") == q["gold"])
    return round(float(np.mean(right)), 3)


def verdicts(items: list[dict], rule: VerdictRule) -> list[StanceVerdict]:
    """As generator/verdicts.stance_reading gives them: sentences under the rule's relevance
    floor take no stance."""
    return [stance_verdict(off_topic_silenced(q["read"], q["relevance"], rule.min_relevance),
                           q["papers"], rule) for q in items]


def summarise(items: list[dict], shown: list[str]) -> dict:
    gold = [q["gold"] for q in items]
    right = sum(v == g for v, g in zip(shown, gold))
    given = [(v, g) for v, g in zip(shown, gold) if v in ("yes", "no")]
    return {"n": len(items), "accuracy": round(right / max(1, len(items)), 3),
            "coverage": round(len(given) / max(1, len(items)), 3),
            "precision": round(sum(v == g for v, g in given) / len(given), 3) if given else None,
            "shown": len(given), "wrong": sum(v != g for v, g in given),
            "always_yes": round(gold.count("yes") / max(1, len(gold)), 3),
            "gold_in_evidence": round(np.mean([q["gold_in_evidence"] for q in items]), 3)}


def calibrated(val: list[dict], rule: VerdictRule) -> VerdictRule:
    """P(yes) = logistic(slope * balance + intercept), fitted on the validation questions
    whose answer is yes or no, so the confidence shown is a measured frequency."""
    from sklearn.linear_model import LogisticRegression

    found = verdicts(val, rule)
    x = [[v.balance] for v, q in zip(found, val) if q["gold"] in ("yes", "no")]
    y = [int(q["gold"] == "yes") for q in val if q["gold"] in ("yes", "no")]
    fit = LogisticRegression(C=10.0).fit(np.array(x), np.array(y))
    return replace(rule, slope=float(fit.coef_[0][0]), intercept=float(fit.intercept_[0]),
                   fitted_on=f"{len(y)} validation questions (BioASQ 10B-val, PubMedQA val)")


def choose(val: list[dict], min_precision: float) -> tuple[VerdictRule, list[dict]]:
    """The rule with the best validation accuracy among those whose shown verdicts are right
    at least ``min_precision`` of the time (the most precise if none is)."""
    grid = []
    for floor, decay, mixed, relevance, power in itertools.product(
            FLOORS, DECAYS, (True, False), RELEVANCE, POWERS):
        fitted = calibrated(val, VerdictRule(floor=floor, decay=decay, mixed_is_unclear=mixed,
                                             min_relevance=relevance, relevance_power=power))
        for threshold in THRESHOLDS:
            rule = replace(fitted, threshold=threshold)
            grid.append((rule, summarise(val, [v.verdict for v in verdicts(val, rule)])))
    precise = [(r, s) for r, s in grid if (s["precision"] or 0) >= min_precision
               and s["coverage"] > 0]
    pool = precise or grid
    key = (lambda rs: (rs[1]["accuracy"], rs[1]["precision"] or 0)) if precise else \
        (lambda rs: (rs[1]["precision"] or 0, rs[1]["accuracy"]))
    best, _ = max(pool, key=key)
    table = [{"floor": r.floor, "decay": r.decay, "mixed_is_unclear": r.mixed_is_unclear,
              "min_relevance": r.min_relevance, "relevance_power": r.relevance_power,
              "threshold": r.threshold, **s}
             for r, s in grid]
    return best, table


def risk_coverage(items: list[dict], rule: VerdictRule) -> list[dict]:
    rows = []
    found = verdicts(items, replace(rule, threshold=0.5))
    for c in (0.5, 0.6, 0.7, 0.8, 0.9):
        shown = [(v.verdict, q["gold"]) for v, q in zip(found, items)
                 if v.verdict in ("yes", "no") and v.confidence >= c]
        rows.append({"min_confidence": c, "coverage": round(len(shown) / max(1, len(items)), 3),
                     "precision": round(sum(v == g for v, g in shown) / len(shown), 3)
                     if shown else None})
    return rows


def ece(items: list[dict], rule: VerdictRule, bins: int = 5) -> float | None:
    found = [(v.confidence, v.verdict == q["gold"]) for v, q in
             zip(verdicts(items, replace(rule, threshold=0.5)), items)
             if v.verdict in ("yes", "no")]
    if not found:
        return None
    conf, right = np.array([c for c, _ in found]), np.array([r for _, r in found], dtype=float)
    edges = np.linspace(0.5, 1.0, bins + 1)
    total = 0.0
    for lo, hi in zip(edges[:-1], edges[1:]):
        inside = (conf >= lo) & (conf < hi if hi < 1 else conf <= hi)
        if inside.any():
            total += inside.mean() * abs(right[inside].mean() - conf[inside].mean())
    return round(float(total), 3)


def to_markdown(result: dict) -> str:
    rule = result["rule"]
    lines = [f"# Verdicts from the evidence sentences ({result['stance_model']})", "",
             f"Index `{result['index']}`; question only, evidence retrieved (hybrid + reranker,"
             f" {result['evidence_k']} passages). Accuracy counts \"unclear\" as wrong.", "",
             f"Rule chosen on validation: sentence floor {rule['floor']}, rank decay "
             f"{rule['decay']}, mixed evidence unclear: {rule['mixed_is_unclear']}, sentence "
             f"relevance floor {rule['min_relevance']}, paper relevance power "
             f"{rule['relevance_power']}, "
             f"threshold {rule['threshold']}; P(yes) = logistic({rule['slope']:.2f}·balance + "
             f"{rule['intercept']:.2f}) ({rule['fitted_on']}).", "",
             "| set | n | source in evidence | accuracy | coverage | precision of shown | "
             "wrong shown | always yes | ECE | from gold snippets |",
             "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"]
    for name, s in result["sets"].items():
        lines.append(f"| {name} | {s['n']} | {s['gold_in_evidence']} | {s['accuracy']} | "
                     f"{s['coverage']} | {s['precision']} | {s['wrong']} | {s['always_yes']} | "
                     f"{s.get('ece')} | {s.get('gold_snippets_accuracy')} |")
    lines += ["", "Risk-coverage (only verdicts at confidence >= c shown):", "",
              "| set | " + " | ".join(f"c ≥ {r['min_confidence']}" for r in
                                      next(iter(result["risk_coverage"].values()))) + " |",
              "| --- |" + " --- |" * len(next(iter(result["risk_coverage"].values())))]
    for name, rows in result["risk_coverage"].items():
        lines.append(f"| {name} | " + " | ".join(
            f"{r['precision']} @ {r['coverage']}" for r in rows) + " |")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--index", type=Path, default=REPO / "data/cache/pqa_index")
    parser.add_argument("--data", type=Path, default=REPO.parent / "shared" / "data")
    parser.add_argument("--stance", default="default", help="stance model: default or a path")
    parser.add_argument("--min-precision", type=float, default=0.8)
    parser.add_argument("--fit", action="store_true",
                        help="write the chosen rule next to the stance model")
    parser.add_argument("--test", action="store_true", help="also score the test sets (once)")
    parser.add_argument("--retrieve-only", action="store_true",
                        help="fill the evidence cache for every set (test too) and stop")
    parser.add_argument("--cache", type=Path, default=REPO / "data/cache/stance_evidence.json")
    parser.add_argument("--out", type=Path, default=REPO / "bench/results")
    args = parser.parse_args(argv)
    sets = question_sets(args.data)
    if args.retrieve_only:
        retrieve(sets, args.index, args.cache)
        return 0
    if not args.test:
        sets = {k: v for k, v in sets.items() if k.endswith("val")}
    sets = retrieve(sets, args.index, args.cache)
    score(sets, args.stance, args.cache.with_name("stance_sentence_scores.json"), args.index)
    val = [q for name, items in sets.items() if name.endswith("val") for q in items]
    rule, grid = choose(val, args.min_precision)
    model = StanceModel.load(args.stance)
    if args.fit:
        folder = Path(args.stance) if args.stance != "default" else None
        if folder is None:
            from clinrag.adapters import default_adapter_path

            folder = default_adapter_path("stance")
        print("rule written to", rule.save(folder))
    result = {"index": str(args.index), "stance_model": args.stance,
              "evidence_k": load_settings({}).answer.evidence_k,
              "rule": rule.__dict__, "sets": {}, "risk_coverage": {},
              # The 25 most accurate rules on validation (the whole grid is ~2,000 rows).
              "grid_val_top": sorted(grid, key=lambda g: (-g["accuracy"],
                                                          -(g["precision"] or 0)))[:25]}
    for name, items in sets.items():
        found = verdicts(items, rule)
        summary = summarise(items, [v.verdict for v in found])
        summary["ece"] = ece(items, rule)
        summary["gold_snippets_accuracy"] = from_gold_snippets(items, model)
        summary["confusion"] = dict(Counter(f"{q['gold']}->{v.verdict}" for v, q in
                                            zip(found, items)))
        result["sets"][name] = summary
        result["risk_coverage"][name] = risk_coverage(items, rule)
        print(name, json.dumps(summary), flush=True)
    tag = "_test" if args.test else ""
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / f"stance_heldout{tag}.json").write_text(json.dumps(result, indent=1) + "\n")
    (args.out / f"stance_heldout{tag}.md").write_text(to_markdown(result))
    print(to_markdown(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())

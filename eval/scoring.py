"""One question's scores from its answer: prediction, correctness, ROUGE, citations.

Pure apart from the grounding judge, which is passed in. The answerer writes free text with
citations and, for yes/no questions, a verdict; the closed-form predictions are read off it:

- yes/no/maybe: the verdict ("insufficient" or an abstention is no prediction);
- factoid: the answer's sentences are the ranked candidates, one is right when it names a gold
  synonym (strict = first sentence, lenient = any of the first five, MRR over them);
- list: the answer's clauses are the predicted items, one is right when it names a gold item
  not named before (precision, recall, F1);
- multiple choice: the choice whose words the answer covers best;
- every question with an ideal answer: ROUGE of the answer text against it.
"""

from __future__ import annotations

from typing import Any

from eval.answers import (
    candidate_items,
    choose,
    correct,
    exact_match,
    factoid_scores,
    list_scores,
    mentioned,
    rouge,
)
from eval.datasets import Example
from eval.grounding import Cited, Judge, citation_scores, lexical_overlap
from generator.types import Answer


def answer_text(answer: Answer) -> str:
    return " ".join(s.text.strip() for s in answer.sentences)


def predict(example: Example, answer: Answer,
            labels: tuple[str, ...] = ("yes", "no", "maybe")) -> str | None:
    """The closed-form prediction for yes/no and multiple-choice questions (else None).

    A yes/no prediction is the answerer's verdict when it is one of the benchmark's labels;
    otherwise (the answerer did not take the question for a yes/no one, or said "maybe" where
    the benchmark has only yes/no) the most probable of the labels in its verdict
    probabilities. An abstention, and "unclear" (no clear answer in the shown passages), is
    no prediction.
    """
    if answer.abstained or answer.verdict == "unclear":
        return None
    if example.qtype == "yesno":
        if answer.verdict in labels:
            return answer.verdict
        probs = {k: v for k, v in (answer.verdict_probs or {}).items() if k in labels}
        return max(probs, key=probs.get) if probs else None
    if example.qtype == "multiple_choice":
        return choose(answer_text(answer), example.choices)
    return None


def score_answer(example: Example, answer: Answer, judge: Judge | None,
                 threshold: float = 0.5,
                 labels: tuple[str, ...] = ("yes", "no", "maybe")) -> dict[str, Any]:
    """Prediction, correctness, confidence and the per-question answer/grounding scores."""
    text = answer_text(answer)
    prediction = predict(example, answer, labels or ("yes", "no", "maybe"))
    scores: dict[str, float | None] = {}
    is_correct: bool | None = None
    if example.qtype in ("yesno", "multiple_choice"):
        is_correct = correct(prediction, example.gold)
    elif example.qtype == "factoid":
        candidates = [" ".join(mentioned(s.text, example.gold)) for s in answer.sentences]
        f = factoid_scores(candidates, example.gold) if not answer.abstained else \
            {"strict": 0.0, "lenient": 0.0, "rr": 0.0}
        scores.update({"factoid_strict": f["strict"], "factoid_lenient": f["lenient"],
                       "factoid_rr": f["rr"]})
        is_correct = bool(f["strict"])
    elif example.qtype == "list":
        items = [] if answer.abstained else [_item(c, example.gold) for c in candidate_items(text)]
        lst = list_scores(items, example.gold)
        scores.update({"list_precision": lst["precision"], "list_recall": lst["recall"],
                       "list_f1": lst["f1"]})
    elif example.qtype == "open" and example.gold:
        scores["exact_match"] = exact_match(text, example.gold)
    if example.ideal:
        scores.update(rouge("" if answer.abstained else text, example.ideal))
    cited = [Cited(s.text, tuple(s.citations)) for s in answer.sentences]
    passages = {s.n: s.text for s in answer.evidence}
    if judge is not None:
        grounding = citation_scores(cited, passages, judge, threshold)
        scores["citation_recall"] = grounding["citation_recall"]
        scores["citation_precision"] = grounding["citation_precision"]
    scores["lexical_overlap"] = lexical_overlap(cited, passages)
    confidence = answer.confidence
    if example.qtype == "yesno" and prediction is not None and answer.verdict_probs and \
            prediction != answer.verdict:
        confidence = answer.verdict_probs.get(prediction, confidence)
    if confidence is None and answer.verdict_probs:
        confidence = max(answer.verdict_probs.values())
    return {
        "prediction": prediction if example.qtype in ("yesno", "multiple_choice") else text,
        "answer_text": text,
        "correct": is_correct,
        "abstained": bool(answer.abstained),
        "confidence": confidence,
        "cited_chunk_ids": answer.cited_chunk_ids(),
        "evidence_doc_ids": list(dict.fromkeys(s.doc_id for s in answer.evidence)),
        "scores": scores,
    }


def _item(clause: str, gold: list[list[str]]) -> str:
    """A clause stands for the gold item it names (its first), else for itself."""
    named = mentioned(clause, gold)
    return named[0] if named else clause

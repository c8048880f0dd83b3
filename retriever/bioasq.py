"""BioASQ Task B questions for training and benchmarking the retriever (pure data handling).

Two splits, both stable across runs and machines:

- ``random`` (``question_split``): a hash of the question id, 80% train, 10% validation, 10%
  test. Questions of one year are on every side, so figures on it flatter a model.
- ``temporal`` (``temporal_split``): the rounds up to 9B train, the newest round (10B) is
  halved by a hash of the id into validation (choices are made there) and test (reported
  once). This predicts next year's questions; the random split does not.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from clinrag.bioasq import read_golden
from clinrag.pubmed_ids import pubmed_doc_id
from clinrag.splits import hash_bucket, tenths_split


@dataclass(frozen=True)
class Question:
    qid: str
    body: str
    qtype: str
    gold_doc_ids: tuple[str, ...]          # "pubmed:<PMID>"
    gold_snippets: tuple[str, ...]
    ideal_answer: str = ""
    exact_answer: object = None
    round: str = ""                         # "7B" ... "10B", from the folder it was read from


NEWEST_ROUND = "10B"
SPLITS = ("random", "temporal")


def question_split(qid: str) -> str:
    """"train" (80%), "val" (10%) or "test" (10%) for a question id."""
    return tenths_split("clinrag-bioasq-split", qid, test=1, val=1)


def temporal_split(question: Question) -> str:
    """"train" for rounds before the newest; the newest split half "val", half "test"."""
    if question.round != NEWEST_ROUND:
        return "train"
    return "val" if hash_bucket("clinrag-bioasq-temporal", question.qid, 2) == 0 else "test"


def load_questions(folder: Path) -> list[Question]:
    """Every question with a body in the golden files under ``folder`` (clinrag/bioasq.py:
    first occurrence of an id)."""
    out = []
    for g in read_golden(folder):
        q = g.raw
        if not q.get("body"):
            continue
        ideal = q.get("ideal_answer") or ""
        out.append(Question(
            qid=g.qid, body=" ".join(str(q["body"]).split()), qtype=str(q.get("type", "")),
            gold_doc_ids=tuple(dict.fromkeys(filter(None, map(pubmed_doc_id,
                                                              q.get("documents", ()))))),
            gold_snippets=tuple(" ".join(str(s.get("text", "")).split())
                                for s in q.get("snippets", ())),
            ideal_answer=ideal[0] if isinstance(ideal, list) and ideal else str(ideal),
            exact_answer=q.get("exact_answer"),
            round=g.round,
        ))
    return out


def split(questions: list[Question], name: str, how: str = "random") -> list[Question]:
    """The questions on side ``name`` ("train", "val", "test") of the ``how`` split."""
    if how not in SPLITS:
        raise ValueError(f"unknown split {how!r}; expected one of {SPLITS}")
    side = temporal_split if how == "temporal" else (lambda q: question_split(q.qid))
    return [q for q in questions if side(q) == name]

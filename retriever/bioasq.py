"""BioASQ Task B questions for training and benchmarking the retriever (pure data handling).

Questions are split by a hash of their id, so the split is stable across runs and machines:
80% train, 10% validation (early stopping / model selection), 10% test (benchmarks only).
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path


@dataclass(frozen=True)
class Question:
    qid: str
    body: str
    qtype: str
    gold_doc_ids: tuple[str, ...]          # "pubmed:<PMID>"
    gold_snippets: tuple[str, ...]
    ideal_answer: str = ""
    exact_answer: object = None


def question_split(qid: str) -> str:
    bucket = int(hashlib.sha256(f"clinrag-bioasq-split:{qid}".encode()).hexdigest()[:8], 16) % 10
    return "test" if bucket == 0 else "val" if bucket == 1 else "train"


def load_questions(folder: Path) -> list[Question]:
    """Every question in every ``*_golden.json`` under ``folder``, first occurrence of an id."""
    seen: dict[str, Question] = {}
    files = sorted(Path(folder).rglob("*.json"))
    if not files:
        raise FileNotFoundError(f"no BioASQ golden JSON files under {folder}")
    for path in files:
        data = json.loads(path.read_text("utf-8"))
        for q in data.get("questions", ()):
            qid = str(q.get("id"))
            if qid in seen or not q.get("body"):
                continue
            docs = tuple(dict.fromkeys(f"pubmed:{str(d).rstrip('/').rsplit('/', 1)[-1]}"
                                       for d in q.get("documents", ())))
            ideal = q.get("ideal_answer") or ""
            seen[qid] = Question(
                qid=qid, body=" ".join(str(q["body"]).split()), qtype=str(q.get("type", "")),
                gold_doc_ids=docs,
                gold_snippets=tuple(" ".join(str(s.get("text", "")).split())
                                    for s in q.get("snippets", ())),
                ideal_answer=ideal[0] if isinstance(ideal, list) and ideal else str(ideal),
                exact_answer=q.get("exact_answer"),
            )
    return list(seen.values())


def split(questions: list[Question], name: str) -> list[Question]:
    return [q for q in questions if question_split(q.qid) == name]

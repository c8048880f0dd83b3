"""Training pairs for the stance model: (question, one evidence sentence) -> yes / no / none.

The stance model answers, for one sentence (or a short snippet) at a time, "does this say yes
or no to the question, or neither?". The answerer reads every sentence of the evidence this
way (generator/evidence_stance.py): each cited paper's stance is the sentence that says it most
clearly, and that sentence is the one quoted under the verdict. An earlier version read whole
passages; on PubMedQA's retrieved results sections it called nearly everything "none"
(coverage 0.10), because one passage holds background, methods and findings at once.

Sources, each split so that no question (or claim topic) is on two sides:

- BioASQ yes/no questions, **temporal split** (7B-9B train; 10B halved into validation and
  test, retriever/bioasq.temporal_split): each gold snippet -> the question's answer (snippets
  are the sentences the curators marked as answering); a sentence of another document
  retrieved for the question, and a snippet of another question -> none.
- PubMedQA PQA-L (split by PMID, clinrag/pubmedqa.py): the conclusion and its
  first sentence -> the decision ("maybe" -> none: the paper itself gives no clear answer); the
  last sentence of the results -> the decision (the result the conclusion rests on); a
  background or methods sentence -> none (it sets the question up).
- HealthVer (claim, evidence sentence), split by topic: Supports -> yes, Refutes -> no,
  Neutral -> none.
- Negated copies of single-sentence training snippets (generator/training/hard_negatives.py)
  with the opposite answer: BioASQ answers are two thirds "yes", and a model that never saw "X
  did not reduce Y" against "Does X reduce Y?" learns the prior instead of reading the sentence.
(Snippets restated as open questions, "It remains unclear whether ...", labelled none, were
tried: higher pair macro-F1 on validation, lower verdict accuracy; docs/answering.md.)
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

from generator.training.hard_negatives import negated
from generator.training.heads_mining import Mined, Pair, sentences
from clinrag.pubmedqa import PubMedQARecord, record_split
from retriever.bioasq import Question, question_split, temporal_split
from retriever.types import SearchParams

STANCE_LABELS = ("yes", "no", "none")
_ID = {label: i for i, label in enumerate(STANCE_LABELS)}
_OPPOSITE = {"yes": "no", "no": "yes"}
_RESULTS = ("RESULT", "FINDING")
_SETUP = ("BACKGROUND", "INTRODUCTION", "OBJECTIVE", "PURPOSE", "AIM", "METHOD", "DESIGN",
          "SETTING", "PARTICIPANTS", "PATIENTS")
# A snippet longer than this is cut to its sentences: the model reads one claim at a time.
_SHORT = 400


def yes_no_answer(question: Question) -> str | None:
    answer = question.exact_answer
    answer = answer[0] if isinstance(answer, list) and answer else answer
    answer = str(answer or "").strip().lower()
    return answer if question.qtype == "yesno" and answer in ("yes", "no") else None


def _units(snippet: str) -> list[str]:
    """A short snippet as it is; a long one as its sentences."""
    text = " ".join(snippet.split())
    return [text] if len(text) <= _SHORT else sentences(text)


def _bioasq(retriever, questions: list[Question], mined: Mined, rng: random.Random,
            per_question: int) -> None:
    pool = [s for q in questions for s in q.gold_snippets if 40 < len(s) <= _SHORT]
    for q in questions:
        answer = yes_no_answer(q)
        if answer is None or not q.gold_doc_ids:
            continue
        side = temporal_split(q)
        snippets = list(dict.fromkeys(u for s in q.gold_snippets if len(s) > 30
                                      for u in _units(s)))
        rng.shuffle(snippets)
        for snippet in snippets[:per_question]:
            mined.add(side, Pair(q.body, snippet, _ID[answer], q.qid, "bioasq snippet"))
        gold = set(q.gold_doc_ids)
        if retriever is not None:
            hits = retriever.search(q.body, SearchParams(k=10, mode="bm25", rerank=False)).hits
            other = [h for h in hits if h.doc_id not in gold][:2]
            for hit in other:
                found = sentences(retriever.passage_of(hit.chunk_id))
                if found:
                    mined.add(side, Pair(q.body, rng.choice(found), _ID["none"], q.qid,
                                         "bioasq other document"))
        unrelated = rng.choice(pool)
        if unrelated not in q.gold_snippets:
            mined.add(side, Pair(q.body, unrelated, _ID["none"], q.qid,
                                 "bioasq other question"))
        # Single-sentence snippets only: in a longer one the edit may land on a clause that
        # does not answer the question, and the opposite label would be wrong.
        short = [s for s in snippets if len(s) <= 250 and len(sentences(s)) <= 1]
        if side == "train":
            for snippet in short[:2]:
                flipped = negated(snippet, rng)
                if flipped is not None:
                    mined.add(side, Pair(q.body, flipped, _ID[_OPPOSITE[answer]], q.qid,
                                         "bioasq negated snippet"))


def _pubmedqa(records: list[PubMedQARecord], mined: Mined, rng: random.Random) -> None:
    for r in records:
        side = record_split(r.pmid)
        label = _ID["none"] if r.decision == "maybe" else _ID[r.decision]
        conclusion = sentences(r.long_answer)
        if r.long_answer and len(r.long_answer) <= _SHORT:
            mined.add(side, Pair(r.question, " ".join(r.long_answer.split()), label, r.pmid,
                                 "pubmedqa conclusion"))
        if conclusion:
            mined.add(side, Pair(r.question, conclusion[0], label, r.pmid,
                                 "pubmedqa conclusion sentence"))
        results = [s for c, lab in zip(r.contexts, r.labels)
                   if any(k in lab.upper() for k in _RESULTS) for s in sentences(c)]
        if results:
            mined.add(side, Pair(r.question, results[-1], label, r.pmid,
                                 "pubmedqa last result"))
        setup = [s for c, lab in zip(r.contexts, r.labels)
                 if any(k in lab.upper() for k in _SETUP) for s in sentences(c)]
        for sentence in rng.sample(setup, min(2, len(setup))):
            mined.add(side, Pair(r.question, sentence, _ID["none"], r.pmid,
                                 "pubmedqa background or methods"))


def healthver_stances(paths: list[Path], mined: Mined) -> None:
    """HealthVer (claim, evidence): the claim reads like a yes/no question's proposition."""
    label = {"Supports": "yes", "Refutes": "no", "Neutral": "none"}
    for path in paths:
        if not path.is_file():
            continue
        with path.open(newline="", encoding="utf-8") as handle:
            for row in csv.DictReader(handle):
                stance = label.get(row["label"].strip())
                claim, evidence = " ".join(row["claim"].split()), " ".join(row["evidence"].split())
                if stance is None or not claim or not evidence:
                    continue
                topic = f"healthver:{row['topic_ip']}"
                mined.add(question_split(topic), Pair(claim, evidence, _ID[stance], topic,
                                                      f"healthver {row['label'].lower()}"))


def mine_stance(retriever, records: list[PubMedQARecord], questions: list[Question],
                healthver: list[Path], *, seed: int = 13, per_question: int = 5) -> Mined:
    rng = random.Random(seed)
    mined = Mined()
    _bioasq(retriever, questions, mined, rng, per_question)
    _pubmedqa(records, mined, rng)
    healthver_stances(healthver, mined)
    return mined

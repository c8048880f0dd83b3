"""Every hashed split is one function (clinrag/splits.py) with its own salt, and none of them
moved when they became one: the models shipped in data/models were trained and judged on
these exact assignments."""

from __future__ import annotations

import hashlib
import json
from collections import Counter

from clinrag.splits import paper_split, tenths_split
from clinrag.pubmedqa import record_split
from retriever.bioasq import Question, question_split, temporal_split

KEYS = [str(i) for i in range(2000)]


def test_split_assignments_are_the_ones_the_models_were_trained_on():
    rows = [[paper_split(k), question_split(k), record_split(k)] for k in KEYS]
    digest = hashlib.sha256(json.dumps(rows).encode()).hexdigest()
    assert digest == "11d768ed159d2853ab4c810f64dfd860ee4bc06af2f14cbfe2ce57a6cacd23d5"


def test_split_shares_follow_the_tenths_asked_for():
    papers = Counter(paper_split(k) for k in KEYS)
    questions = Counter(question_split(k) for k in KEYS)
    assert 0.17 < papers["test"] / len(KEYS) < 0.23 and 0.17 < papers["val"] / len(KEYS) < 0.23
    assert 0.08 < questions["test"] / len(KEYS) < 0.12
    assert Counter(tenths_split("x", k, 0, 0) for k in KEYS) == {"train": len(KEYS)}


def test_the_temporal_split_halves_the_newest_round_only():
    def question(qid: str, round_: str) -> Question:
        return Question(qid=qid, body="b?", qtype="yesno", gold_doc_ids=(), gold_snippets=(),
                        ideal_answer="", round=round_)

    newest = Counter(temporal_split(question(k, "10B")) for k in KEYS)
    assert set(newest) == {"val", "test"} and abs(newest["val"] - newest["test"]) < 150
    assert {temporal_split(question(k, "9B")) for k in KEYS[:50]} == {"train"}

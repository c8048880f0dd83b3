"""Metric code against examples computed by hand."""

from __future__ import annotations

import json
import re

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from eval.abstention import aurc, risk_coverage, selective_summary
from eval.answers import (
    accuracy,
    candidate_items,
    choose,
    factoid_scores,
    list_scores,
    macro_f1,
    mentioned,
    normalize,
    rouge,
)
from eval.bootstrap import mean_ci, paired_difference, statistic_ci
from eval.datasets import GoldSnippet
from eval.grounding import Cited, citation_scores, lexical_overlap
from eval.retrieval import per_query, ranking_scores, snippet_overlap, write_trec
from eval.summary import summarize


def test_accuracy_and_macro_f1_by_hand():
    golds = ["yes", "yes", "no", "maybe"]
    preds = ["yes", "no", "no", None]            # None: abstained
    assert accuracy(preds, golds) == 0.5
    # yes: tp 1, 1 predicted, 2 gold -> 2/3; no: tp 1, 2 predicted, 1 gold -> 2/3; maybe: 0.
    assert macro_f1(preds, golds, ("yes", "no", "maybe")) == pytest.approx(4 / 9)
    # A label nobody predicted nor needed is left out rather than scored 0 or 1.
    assert macro_f1(["yes", "no"], ["yes", "no"], ("yes", "no", "maybe")) == 1.0
    assert normalize("The IL-6.") == "il 6"


def test_factoid_list_and_choice_by_hand():
    gold = [["enzyme K", "kinase K"]]
    assert factoid_scores(["x", "Kinase K", "enzyme k"], gold) == {
        "strict": 0.0, "lenient": 1.0, "rr": 0.5}
    assert factoid_scores(["a", "b", "c", "d", "e", "enzyme K"], gold)["lenient"] == 0.0
    items = [["K"], ["L", "lipase L"]]
    # K -> item 1, lipase L -> item 2, L: item 2 already matched, M: wrong.
    scores = list_scores(["K", "lipase L", "L", "M"], items)
    assert scores["precision"] == 0.5 and scores["recall"] == 1.0
    assert scores["f1"] == pytest.approx(2 / 3)
    assert mentioned("Drug B hits lipase L, then K.", items) == ["lipase L", "K"]
    assert candidate_items("K, L and M; N") == ["K", "L", "M", "N"]
    assert choose("The answer is vitamin Z.", ("vitamin Z", "drug A")) == "vitamin Z"
    assert choose("nothing relevant", ("vitamin Z",)) is None


def test_rouge_uses_the_best_reference():
    assert rouge("drug c treats migraine", ["unrelated words", "Drug C treats migraine."]) == {
        "rouge1": 1.0, "rouge2": 1.0, "rougeL": 1.0}
    assert rouge("", ["a reference"]) == {"rouge1": 0.0, "rouge2": 0.0, "rougeL": 0.0}
    # unigram overlap 2 of 3 each way
    assert rouge("aspirin reduces fever", ["aspirin reduces pain"])["rouge1"] == pytest.approx(
        2 / 3)


def test_ranx_per_query_values_by_hand():
    qrels = {"q1": {"d1": 1, "d2": 1}, "q2": {"d3": 1}, "q3": {}}
    run = {"q1": ranking_scores(["d1", "x", "d2", "d1"]), "q2": ranking_scores(["y", "d3"])}
    values = per_query(qrels, run, ["ndcg@10", "recall@2", "mrr"])
    assert set(values["mrr"]) == {"q1", "q2"}       # no gold documents: not scored
    assert values["ndcg@10"]["q1"] == pytest.approx((1 + 1 / np.log2(4)) / (1 + 1 / np.log2(3)))
    assert values["ndcg@10"]["q2"] == pytest.approx(1 / np.log2(3))
    assert values["recall@2"] == {"q1": 0.5, "q2": 1.0}
    assert values["mrr"] == {"q1": 1.0, "q2": 0.5}
    # A query with no hits at all scores 0 instead of breaking ranx.
    assert per_query({"q": {"d": 1}}, {"q": ranking_scores([])}, ["mrr"])["mrr"] == {"q": 0.0}


def test_trec_run_file(tmp_path):
    write_trec({"q1": ranking_scores(["d1", "d2"])}, tmp_path / "run.trec", "sys")
    lines = (tmp_path / "run.trec").read_text().split("\n")
    assert re.match(r"q1\s+Q0\s+d1\s+1\s+2(\.0)?\s+sys", lines[0])
    assert re.match(r"q1\s+Q0\s+d2\s+2\s+1(\.0)?\s+sys", lines[1])


def test_snippet_overlap_by_hand():
    gold = [GoldSnippet("d", "abstract", 10, 20), GoldSnippet("d", "abstract", 15, 25)]
    got = [GoldSnippet("d", "abstract", 20, 30)]
    # gold covers chars 10..24 (15), retrieved 20..29 (10), overlap 20..24 (5)
    scores = snippet_overlap(got, gold)
    assert scores["snippet_precision"] == 0.5
    assert scores["snippet_recall"] == pytest.approx(1 / 3)
    assert scores["snippet_f1"] == pytest.approx(0.4)
    # Same offsets in another section or document do not count.
    more = got + [GoldSnippet("d", "title", 10, 20), GoldSnippet("e", "abstract", 10, 20)]
    assert snippet_overlap(more, gold)["snippet_precision"] == pytest.approx(5 / 30)


def _word_judge(pairs):
    """Support iff every word of the sentence occurs in the passage (a judge we can predict)."""
    words = lambda text: set(re.findall(r"\w+", text.lower()))  # noqa: E731
    return np.array([float(words(s) <= words(p)) for s, p in pairs])


def test_alce_citation_recall_and_precision_by_hand():
    passages = {1: "aspirin reduces pain", 2: "aspirin reduces fever", 3: "unrelated text"}
    sentences = [
        Cited("Aspirin reduces pain.", (1, 3)),          # supported; [3] irrelevant -> 1/2 right
        Cited("Aspirin reduces pain, fever.", (1, 2)),   # needs both -> 2/2 right
        Cited("Aspirin cures cancer.", (1,)),            # unsupported -> 0/1
        Cited("A sentence citing nothing.", ()),         # unsupported, no citations
    ]
    scores = citation_scores(sentences, passages, _word_judge)
    assert scores["citation_recall"] == 0.5
    assert scores["citation_precision"] == pytest.approx(3 / 5)
    assert scores["n_citations"] == 5 and scores["n_sentences"] == 4
    empty = citation_scores([], passages, _word_judge)
    assert empty["citation_recall"] is None and empty["citation_precision"] is None
    # Citing a passage number the answer does not have counts as no citation.
    assert citation_scores([Cited("aspirin reduces pain", (9,))], passages,
                           _word_judge)["citation_recall"] == 0.0


def test_lexical_overlap():
    passages = {1: "Aspirin reduces pain in adults", 2: "unrelated text"}
    assert lexical_overlap([Cited("Aspirin reduces pain.", (1,))], passages) == 1.0
    assert lexical_overlap([Cited("Aspirin reduces pain.", (2,))], passages) == 0.0
    assert lexical_overlap([Cited("Aspirin reduces pain.", (1,)),
                            Cited("Aspirin reduces pain.", ())], passages) == 0.5


def test_risk_coverage_and_aurc_by_hand():
    coverage, risk = risk_coverage([0.9, 0.8, 0.7, 0.6], [1, 0, 1, 1])
    assert coverage.tolist() == [0.25, 0.5, 0.75, 1.0]
    assert risk.tolist() == pytest.approx([0, 0.5, 1 / 3, 0.25])
    assert aurc([0.9, 0.8, 0.7, 0.6], [1, 0, 1, 1]) == pytest.approx((0.5 + 1 / 3 + 0.25) / 4)
    # Order of input does not matter, only the confidence ranking.
    assert aurc([0.6, 0.9, 0.7, 0.8], [1, 1, 1, 0]) == pytest.approx(aurc(
        [0.9, 0.8, 0.7, 0.6], [1, 0, 1, 1]))
    # Confidence that ranks the error last gives the lower (better) area.
    assert aurc([0.9, 0.8, 0.7, 0.1], [1, 1, 1, 0]) < aurc([0.1, 0.8, 0.7, 0.9], [1, 1, 1, 0])
    summary = selective_summary([False, False, True, False], [True, False, True, True])
    assert summary == {"abstention_rate": 0.25, "accuracy_all": 0.5,
                       "precision": pytest.approx(2 / 3), "coverage": 0.75}


def test_bootstrap_intervals():
    assert mean_ci([0.7] * 50) == (pytest.approx(0.7), pytest.approx(0.7))
    values = np.random.default_rng(1).random(200)
    lo, hi = mean_ci(values)
    assert lo < values.mean() < hi and hi - lo < 0.2
    assert mean_ci(values) == (lo, hi)                   # fixed seed: reproducible
    assert mean_ci([1.0, float("nan"), 1.0]) == (1.0, 1.0)
    lo_f, hi_f = statistic_ci(200, lambda idx: float(values[idx].mean()))
    assert (lo_f, hi_f) == pytest.approx((lo, hi))       # same resamples for every metric
    diff, (dlo, dhi) = paired_difference(values, values + 0.1)
    assert diff == pytest.approx(0.1) and dlo == pytest.approx(0.1) and dhi == pytest.approx(0.1)
    assert paired_difference(values, values)[1] == (0.0, 0.0)


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(0, 1), min_size=1, max_size=40))
def test_mean_interval_contains_a_sample_mean_of_its_data(values):
    lo, hi = mean_ci(values, resamples=200)
    assert min(values) - 1e-9 <= lo <= hi <= max(values) + 1e-9


def _rows():
    return [
        {"id": "a", "qtype": "yesno", "gold": "yes", "prediction": "yes", "correct": True,
         "abstained": False, "confidence": 0.9, "relevant_doc_ids": ["d1"],
         "retrieved": ["d1", "d2"], "evidence_doc_ids": ["d1"],
         "scores": {"rouge1": 1.0, "citation_recall": 1.0, "citation_precision": 1.0}},
        {"id": "b", "qtype": "yesno", "gold": "no", "prediction": "yes", "correct": False,
         "abstained": False, "confidence": 0.8, "relevant_doc_ids": ["d3"],
         "retrieved": ["d2", "d3"], "evidence_doc_ids": ["d2"],
         "scores": {"rouge1": 0.5, "citation_recall": 0.0, "citation_precision": None}},
        {"id": "c", "qtype": "yesno", "gold": "maybe", "prediction": None, "correct": False,
         "abstained": True, "confidence": 0.2, "relevant_doc_ids": ["d4"], "retrieved": [],
         "evidence_doc_ids": [], "scores": {"rouge1": 0.0}},
        {"id": "d", "qtype": "factoid", "gold": [["k"]], "correct": True, "abstained": False,
         "confidence": None, "relevant_doc_ids": ["d5"], "retrieved": ["d5"],
         "scores": {"factoid_strict": 1.0, "factoid_lenient": 1.0, "factoid_rr": 1.0}},
    ]


def test_summary_of_rows_by_hand():
    out = summarize(_rows(), ("yes", "no", "maybe"))
    m = out["metrics"]
    assert m["accuracy"] == pytest.approx(1 / 3)          # yes/no questions only; c abstained
    assert m["precision"] == 0.5                          # answered: a right, b wrong
    assert m["abstention_rate"] == 0.25
    # yes: tp 1, 2 predicted, 1 gold -> 2/3; no: 0; maybe: 0
    assert m["macro_f1"] == pytest.approx(2 / 9)
    assert m["mrr"] == pytest.approx((1 + 0.5 + 0 + 1) / 4)
    assert m["recall@10"] == 0.75
    assert m["evidence_hit"] == pytest.approx(1 / 3)
    assert m["citation_recall"] == 0.5 and m["citation_precision"] == 1.0
    assert m["factoid_strict"] == 1.0 and m["factoid_mrr"] == 1.0
    assert m["rouge1"] == 0.5
    assert m["aurc"] == pytest.approx((0 + 0.5 + 2 / 3) / 3)
    # An abstention's confidence is how sure it is that nothing answers: however high, it
    # ranks after every answered question on the risk-coverage curve.
    sure_abstention = [{**r, "confidence": 0.99} if r["id"] == "c" else r for r in _rows()]
    assert summarize(sure_abstention, ("yes", "no", "maybe"))["metrics"]["aurc"] == \
        pytest.approx(m["aurc"])
    for key in ("accuracy", "macro_f1", "mrr", "ndcg@10", "abstention_rate", "citation_recall"):
        lo, hi = m[f"{key}_ci"]
        assert lo <= m[key] <= hi
    assert out["table"]["accuracy"] == {"a": 1.0, "b": 0.0, "c": 0.0}
    assert out["curves"]["per_type"]["factoid"]["value"] == 1.0
    json.dumps(m)                                          # plain JSON, no NaN


def test_compare_uses_a_paired_bootstrap_on_shared_questions(tmp_path):
    from eval.compare import compare, render

    for name, shift in (("a", 0.0), ("b", 0.3)):
        folder = tmp_path / name
        folder.mkdir()
        values = {str(i): min(1.0, (i % 10) / 10 + shift) for i in range(100)}
        (folder / "metrics.json").write_text(json.dumps({
            "ndcg@10": float(np.mean(list(values.values()))), "ndcg@10_ci": [0, 1],
            "macro_f1": 0.5 + shift, "macro_f1_ci": [0.4 + shift, 0.6 + shift]}))
        (folder / "per_example_scores.json").write_text(json.dumps({"ndcg@10": values}))
    rows = {r["metric"]: r for r in compare(tmp_path / "a", tmp_path / "b")}
    assert rows["ndcg@10"]["test"].startswith("paired bootstrap (n=100)")
    assert rows["ndcg@10"]["significant"] is True and rows["ndcg@10"]["diff_ci"][0] > 0
    assert rows["macro_f1"]["test"] == "CI overlap" and rows["macro_f1"]["significant"] is True
    text = render(list(rows.values()), "a", "b")
    assert "ndcg@10" in text and "paired bootstrap" in text


def _answer(sentences, verdict=None, probs=None, abstained=False):
    from generator.types import Answer, Source, Statement

    evidence = [Source(n=1, chunk_id="c1", doc_id="pubmed:1", title="t",
                       text="Enzyme K is inhibited by drug A; lipase L too.", page_number=None,
                       section="Abstract", start=0, end=40, score=1.0)]
    return Answer(question="q?", verdict=verdict, confidence=0.9 if verdict else None,
                  verdict_probs=probs or {}, sentences=[Statement(t, c, 1.0) for t, c in
                                                        sentences],
                  evidence=evidence, abstained=abstained, abstention_reason=None,
                  index_generation="g1", models={})


def test_scoring_reads_predictions_off_the_answer():
    from eval.datasets import Example
    from eval.scoring import score_answer

    yesno = Example("1", "Is it?", "yesno", gold="no")
    # No verdict (not taken for a yes/no question): the likeliest benchmark label is read off.
    row = score_answer(yesno, _answer([("It is not.", (1,))], None,
                                      {"yes": 0.2, "no": 0.5, "maybe": 0.3}), None)
    assert row["prediction"] == "no" and row["correct"] and row["confidence"] == 0.5
    # "maybe" on a yes/no-only benchmark becomes the likelier of yes and no.
    row = score_answer(yesno, _answer([("x", (1,))], "maybe", {"yes": 0.3, "no": 0.2,
                                                               "maybe": 0.5}), None,
                       labels=("yes", "no"))
    assert row["prediction"] == "yes" and not row["correct"]
    row = score_answer(yesno, _answer([], "no", abstained=True), None)
    assert row["prediction"] is None and row["correct"] is False and row["abstained"]

    factoid = Example("2", "Which enzyme?", "factoid", gold=[["enzyme K", "kinase K"]],
                      ideal=("Enzyme K.",))
    row = score_answer(factoid, _answer([("Drug A acts on a kinase.", (1,)),
                                         ("The target is kinase K.", (1,))]), _word_judge)
    assert row["scores"]["factoid_strict"] == 0.0 and row["scores"]["factoid_rr"] == 0.5
    assert row["scores"]["citation_recall"] == 0.0       # neither sentence is in the passage
    listq = Example("3", "List targets.", "list", gold=[["K", "enzyme K"], ["L", "lipase L"]])
    row = score_answer(listq, _answer([("Enzyme K is inhibited by drug A; lipase L too.",
                                        (1,))]), _word_judge)
    assert row["scores"]["list_recall"] == 1.0
    assert row["scores"]["citation_recall"] == 1.0 and row["scores"]["citation_precision"] == 1.0
    assert row["cited_chunk_ids"] == ["c1"] and row["evidence_doc_ids"] == ["pubmed:1"]

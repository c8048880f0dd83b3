"""The verdict read off the evidence sentences (generator/evidence_stance.py) and its training
pairs (generator/training/stance_mining.py)."""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path

import pytest

from generator.evidence_stance import (UNCLEAR, PaperInfo, SentenceStance, StanceModel,
                                       VerdictRule, checked_by_quotes, design_weight,
                                       evidence_sentences, paper_stances, stance_verdict,
                                       without_title)
from generator.training.hard_negatives import negated
from generator.training.heads_mining import Mined
from generator.training.stance_mining import STANCE_LABELS, healthver_stances

HEALTHVER = Path(__file__).resolve().parents[2] / "shared/data/healthver"
RULE = VerdictRule(floor=0.6, decay=0.7, slope=4.0, intercept=0.0, threshold=0.7)


def _papers(*docs: str, design: str | None = None) -> list[PaperInfo]:
    return [PaperInfo(i + 1, doc, f"Title {doc}", 2020, design) for i, doc in enumerate(docs)]


def _said(*items: tuple[int, float, float]) -> list[SentenceStance]:
    return [SentenceStance(n, f"sentence {i}", yes, no) for i, (n, yes, no) in enumerate(items)]


def test_each_paper_takes_the_stance_of_its_clearest_sentence():
    papers = _papers("a", "b", "c")
    said = _said((1, 0.2, 0.1), (1, 0.9, 0.05), (2, 0.1, 0.8), (3, 0.3, 0.3))
    stances = paper_stances(said, papers, RULE)
    assert [p.stance for p in stances] == ["yes", "no", UNCLEAR]
    assert stances[0].sentence == "sentence 1" and stances[0].n == 1
    assert stances[2].sentence is None and stances[2].lean == 0.0
    assert stances[0].weight > stances[1].weight > stances[2].weight   # rank order


def test_two_passages_of_one_paper_count_once():
    papers = [PaperInfo(1, "a"), PaperInfo(2, "a"), PaperInfo(3, "b")]
    stances = paper_stances(_said((2, 0.9, 0.0), (3, 0.7, 0.1)), papers, RULE)
    assert [p.doc_id for p in stances] == ["a", "b"]
    assert stances[0].n == 2


def test_agreeing_papers_give_a_verdict_with_a_confidence_that_matches_its_probabilities():
    found = stance_verdict(_said((1, 0.95, 0.01), (2, 0.8, 0.1)), _papers("a", "b"), RULE)
    assert found.verdict == "yes"
    assert found.confidence == found.probs["yes"] > 0.7
    assert abs(sum(found.probs.values()) - 1) < 1e-9
    assert found.meter() == "2 papers: 2 yes"
    assert [n for n, _ in found.carrying()] == [1, 2]
    no = stance_verdict(_said((1, 0.02, 0.97)), _papers("a"), RULE)
    assert no.verdict == "no" and no.confidence == no.probs["no"]


def test_mixed_or_silent_evidence_is_unclear_and_says_why():
    mixed = stance_verdict(_said((1, 0.9, 0.05), (2, 0.05, 0.9)), _papers("a", "b"), RULE)
    assert mixed.verdict == UNCLEAR and "mixed" in mixed.reason
    assert mixed.meter() == "2 papers: 1 yes · 1 no"
    assert {n for n, _ in mixed.carrying()} == {1, 2}        # both sides are quoted
    # Where mixed evidence is weighed instead, the verdict says it is mixed.
    weighed = stance_verdict(_said((1, 0.95, 0.02), (2, 0.05, 0.7)), _papers("a", "b"),
                             replace(RULE, mixed_is_unclear=False))
    assert weighed.verdict == "yes" and "mixed (1 paper says otherwise)" in weighed.reason
    silent = stance_verdict(_said((1, 0.3, 0.2)), _papers("a"), RULE)
    assert silent.verdict == UNCLEAR and "no passage" in silent.reason
    assert silent.confidence >= 0.5                          # shown for every verdict
    # lean 0.32: P(yes) = logistic(4 x 0.32) = 0.78, under a threshold of 0.8
    weak = stance_verdict(_said((1, 0.62, 0.3)), _papers("a"), replace(RULE, threshold=0.8))
    assert weak.verdict == UNCLEAR and "not clearly enough" in weak.reason


def test_retracted_papers_never_count_and_designs_weigh():
    papers = [PaperInfo(1, "a", retracted=True), PaperInfo(2, "b")]
    found = stance_verdict(_said((1, 0.0, 0.99), (2, 0.95, 0.0)), papers, RULE)
    assert found.verdict == "yes"                  # the retracted "no" is not mixed evidence
    assert found.papers[0].weight == 0.0
    assert "retracted, not counted" in found.meter()
    assert design_weight("randomized controlled trial") > design_weight("cohort study (inferred)") \
        > design_weight("case report") > 0 == design_weight("retraction notice")


def test_a_shown_sentence_that_reads_the_other_way_turns_the_verdict_unclear():
    found = stance_verdict(_said((1, 0.95, 0.01)), _papers("a"), RULE)
    against = SentenceStance(2, "Aspirin did not reduce events.", 0.05, 0.9)
    agreeing = SentenceStance(1, "Aspirin reduced events.", 0.9, 0.05)
    silent = SentenceStance(1, "Participants were aged 70 or older.", 0.1, 0.1)
    assert checked_by_quotes(found, [agreeing], RULE.floor).verdict == "yes"
    assert checked_by_quotes(found, [agreeing, against], RULE.floor).verdict == UNCLEAR
    assert "no shown sentence" in checked_by_quotes(found, [silent], RULE.floor).reason


def test_evidence_sentences_skip_repeats_across_overlapping_chunks():
    text = ("Aspirin did not reduce cardiovascular events in older adults. Major bleeding was "
            "more frequent with aspirin than with placebo.")
    units = evidence_sentences({1: text, 2: text.split(". ")[1]})
    assert [n for n, *_ in units] == [1, 1]


def test_the_rule_round_trips_and_defaults_when_absent(tmp_path):
    rule = VerdictRule(floor=0.7, decay=0.85, slope=3.1, intercept=0.4, threshold=0.75,
                       mixed_is_unclear=False, fitted_on="x")
    rule.save(tmp_path)
    assert VerdictRule.load(tmp_path) == rule
    assert VerdictRule.load(tmp_path / "missing") == VerdictRule()


def test_negated_copies_flip_the_claim():
    rng = random.Random(1)
    assert negated("Losartan was effective in reducing brain atrophy.", rng) == \
        "Losartan was not effective in reducing brain atrophy."
    assert negated("Dapagliflozin did not reduce mortality.", rng) == \
        "Dapagliflozin did reduce mortality."


@pytest.mark.skipif(not HEALTHVER.is_dir(), reason=f"HealthVer not at {HEALTHVER}")
def test_healthver_pairs_become_stances_split_by_topic():
    mined = Mined()
    healthver_stances([HEALTHVER / "healthver_dev.csv", HEALTHVER / "healthver_test.csv"],
                      mined)
    pairs = mined.train + mined.val + mined.test
    assert len(pairs) == 3740
    labels = {STANCE_LABELS[p.label] for p in pairs}
    assert labels == {"yes", "no", "none"}
    sides = {}
    for side in ("train", "val", "test"):
        for p in getattr(mined, side):
            sides.setdefault(p.group, set()).add(side)
    assert all(len(s) == 1 for s in sides.values())       # no topic on two sides
    refutes = [p for p in pairs if p.kind == "healthver refutes"]
    assert refutes and all(STANCE_LABELS[p.label] == "no" for p in refutes)


@pytest.fixture(scope="module")
def stance_model():
    return StanceModel.load("default")


def test_the_shipped_stance_model_reads_which_way_a_real_sentence_answers(stance_model):
    question = "Do SGLT2 inhibitors reduce hospitalisation for heart failure?"
    yes = ("SGLT2 inhibitors reduced hospitalisation for heart failure by about 30% "
           "(hazard ratio 0.69, 95% CI 0.61 to 0.79) across the included trials.")
    no = ("SGLT2 inhibitors did not reduce hospitalisation for heart failure compared with "
          "placebo (hazard ratio 1.02, 95% CI 0.91 to 1.14).")
    other = ("Metformin was associated with a lower risk of lactic acidosis in older adults "
             "with chronic kidney disease.")
    method = "We searched MEDLINE and Embase for randomised trials of SGLT2 inhibitors."
    said = stance_model.read(question, [(1, yes), (2, no), (3, other), (4, method)])
    assert said[0].says == "yes" and said[0].decided >= stance_model.rule.floor
    assert said[1].says == "no" and said[1].decided >= stance_model.rule.floor
    assert said[2].decided < stance_model.rule.floor
    assert said[3].decided < stance_model.rule.floor
    papers = _papers("a", "b", "c", "d")
    assert stance_verdict(said[:1], papers[:1], stance_model.rule).verdict == "yes"
    assert stance_verdict(said[1:2], papers[1:2], stance_model.rule).verdict == "no"
    assert stance_verdict(said[2:], papers[2:], stance_model.rule).verdict == UNCLEAR
    assert stance_model.rule.fitted_on.startswith(tuple("0123456789"))   # fitted, not defaults


def test_a_title_opening_the_chunk_is_never_read_as_a_finding():
    title = "Aspirin for primary prevention in adults aged 70 years or older: a randomised trial"
    text = (f"{title}\n\nBACKGROUND: Aspirin is widely used for primary prevention of "
            "cardiovascular disease. RESULTS: Daily low-dose aspirin did not reduce "
            "cardiovascular events and increased major bleeding.")
    units = evidence_sentences({1: text}, {1: title}, {1: "Abstract"})
    assert units[0][1].startswith("Aspirin is widely used") and len(units) == 2
    assert not any(title in s for _, s, _ in units)
    # Each sentence knows the structured-abstract part it falls under.
    assert [section for *_, section in units] == ["BACKGROUND", "RESULTS"]
    # A title that does not open the chunk leaves the text as it is.
    assert without_title("Results were mixed.", title) == "Results were mixed."


def test_guards_silence_background_aims_open_questions_and_what_the_rules_read_otherwise():
    from generator.evidence_stance import guarded

    question = "Does CPAP lower blood pressure in obstructive sleep apnoea?"
    said = [SentenceStance(1, "CPAP lowered blood pressure in obstructive sleep apnoea.",
                           0.9, 0.05),
            SentenceStance(1, "Obstructive sleep apnoea is common in adults with hypertension.",
                           0.2, 0.7),
            SentenceStance(1, "To assess whether CPAP lowers blood pressure in sleep apnoea.",
                           0.8, 0.1),
            SentenceStance(2, "The antihypertensive effect of CPAP in sleep apnoea is uncertain.",
                           0.1, 0.8),
            SentenceStance(3, "CPAP did not lower blood pressure in obstructive sleep apnoea.",
                           0.8, 0.1)]
    sections = {"obstructive sleep apnoea is common in adults with hypertension.": "BACKGROUND"}
    kept = [s.decided for s in guarded(question, said, sections)]
    # the finding stands; background, aim, open question and the misread negation are silent
    assert kept == [0.9, 0.0, 0.0, 0.0, 0.0]

"""Which way a shown sentence answers a yes/no question, and the verdict the sentences give."""

from __future__ import annotations

import pytest

from generator.stance import UNCLEAR, evidence_verdict, stance

Q = "Do SGLT2 inhibitors reduce hospitalisation for heart failure?"


@pytest.mark.parametrize("sentence,expected", [
    ("SGLT2 inhibitors reduce hospitalisation for heart failure by about 30%.", "yes"),
    ("SGLT2 inhibitors reduced hospitalization for heart failure (HR 0.69).", "yes"),
    ("SGLT2 inhibitors did not reduce hospitalisation for heart failure.", "no"),
    ("SGLT2 inhibitors increased hospitalisation for heart failure.", "no"),
    # About the question's topic but not its proposition: no stance.
    ("We searched MEDLINE for trials of SGLT2 inhibitors that reported hospitalisation for "
     "heart failure.", None),
    ("DPP-4 inhibitors reduce hospitalisation for heart failure.", None),
    ("These drugs should be withheld for at least 3 days before elective surgery.", None),
])
def test_stance_of_a_sentence(sentence, expected):
    assert stance(Q, sentence) == expected


def test_a_negated_question_flips_the_stance():
    question = "Does low-dose aspirin fail to reduce cardiovascular events in older adults?"
    assert stance(question, "Daily low-dose aspirin did not reduce cardiovascular events in "
                            "older adults.") == "yes"
    assert stance(question, "Daily low-dose aspirin reduced cardiovascular events in older "
                            "adults.") == "no"


def test_the_verdict_follows_agreeing_sentences_and_is_unclear_otherwise():
    yes = "SGLT2 inhibitors reduce hospitalisation for heart failure by about 30%."
    no = "SGLT2 inhibitors did not reduce hospitalisation for heart failure."
    other = "These drugs should be withheld before elective surgery."
    assert evidence_verdict(Q, [yes, other], None).verdict == "yes"
    assert evidence_verdict(Q, [no], None).verdict == "no"
    mixed = evidence_verdict(Q, [yes, no], None)
    assert mixed.verdict == UNCLEAR and mixed.stances == ("yes", "no")
    assert evidence_verdict(Q, [other], None).verdict == UNCLEAR
    assert evidence_verdict(Q, [], None).verdict == UNCLEAR
    # A confident verdict model that disagrees makes it unclear; one that agrees does not.
    assert evidence_verdict(Q, [yes], "no").verdict == UNCLEAR
    assert evidence_verdict(Q, [yes], "yes").verdict == "yes"


@pytest.mark.parametrize("question,sentence,expected", [
    ("Are regulatory T cells a positive regulator of the immune response?",
     "Regulatory T cells are essential negative regulators of immune responses.", "no"),
    ("Do only changes in coding regions cause the disease?",
     "Non-coding region variants cause the disease.", "no"),
    ("Is the MTHFR variant common in the population?",
     "The MTHFR variant is rare in the population.", "no"),
    # The sentence's second claim carries the negation, not the answer to the question.
    ("Does atemoya juice inhibit the CYP1A2 enzyme?",
     "Atemoya juice significantly inhibited CYP1A2 activity in human liver microsomes, but "
     "not the activities of CYP2C9 and CYP3A.", "yes"),
    ("Does procalcitonin guidance reduce antibiotic exposure in critically ill adults?",
     "Procalcitonin guidance reduced antibiotic exposure in critically ill adults without "
     "increasing mortality.", "yes"),
    # A hedged clause states no finding.
    ("Does tranexamic acid reduce death from bleeding after trauma?",
     "Tranexamic acid may reduce death from bleeding after trauma.", None),
    # Another number, a prefixed opposite, an open question, an erratum: no stance
    # (read on BioASQ 9B answers, where each was taken for a "yes").
    ("Is there a link between rare variants in PPARG and type 1 diabetes?",
     "Rare variants in PPARG are associated with increased risk of type 2 diabetes.", None),
    ("Is Bcl-2-like protein 1 a pro apoptotic protein?",
     "Bcl-2-like protein 1 is an anti-apoptotic protein of the Bcl-2 family.", None),
    ("Is the paramyxovirus genome segmented?",
     "Mumps virus is a paramyxovirus with a nonsegmented genome.", None),
    ("Is eflornithine with sulindac effective for polyposis?",
     "The efficacy of eflornithine with sulindac for polyposis is unknown.", None),
    ("Does erenumab target the CGRP receptor?",
     "Erratum: the CGRP receptor as a target of erenumab.", None),
    # The same sentences with the question's own number or word still answer it.
    ("Is there a link between rare variants in PPARG and type 2 diabetes?",
     "Rare variants in PPARG are associated with increased risk of type 2 diabetes.", "yes"),
    ("Is Bcl-2-like protein 1 an anti-apoptotic protein?",
     "Bcl-2-like protein 1 is an anti-apoptotic protein of the Bcl-2 family.", "yes"),
])
def test_opposites_side_clauses_and_hedges(question, sentence, expected):
    assert stance(question, sentence) == expected

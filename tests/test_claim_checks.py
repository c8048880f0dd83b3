"""The exact checks of a sentence against its cited passage, on the demo corpus's real abstracts.

Each distortion kind the verifier must catch (negation, another entity, a changed number, a
wider population, a stronger claim, an added recommendation) is written by hand against a real
passage, next to faithful quotes and paraphrases of the same passage that must pass.
"""

from __future__ import annotations

from functools import cache

import pytest

from generator.claim_checks import check_claim, stem
from ingest.sources import loader_for
from tests.conftest import SAMPLE


@cache
def abstract(pmid: str) -> str:
    path = SAMPLE / "pubmed" / "demo_abstracts.xml"
    docs = {d.doc_id: d for d in loader_for(path)(path).documents}
    return " ".join(page.text for page in docs[f"pubmed:{pmid}"].pages)


SGLT2, ASPIRIN, KETOACIDOSIS, COLCHICINE, TXA, HIP, DOAC = (
    "90000002", "90000003", "90000028", "90000013", "90000014", "90000007", "90000005")

FAITHFUL = [
    (SGLT2, "SGLT2 inhibitors reduce hospitalisation for heart failure by about 30% across a "
            "broad range of patients, regardless of diabetes status."),
    (SGLT2, "SGLT2 inhibitors reduced hospitalization for heart failure (HR 0.69)."),
    (ASPIRIN, "In older adults without cardiovascular disease, daily low-dose aspirin did not "
              "reduce cardiovascular events."),
    (ASPIRIN, "Low-dose aspirin increased major bleeding in older adults."),
    (KETOACIDOSIS, "SGLT2 inhibitors should be withheld for at least 3 days before elective "
                   "surgery."),
    (COLCHICINE, "Colchicine 0.5 mg daily reduced the risk of ischaemic cardiovascular events "
                 "compared with placebo after recent myocardial infarction."),
    (TXA, "Tranexamic acid reduced death due to bleeding when given within 3 hours of injury."),
]

DISTORTED = [
    # (passage, sentence, what the failure reason must name)
    (SGLT2, "SGLT2 inhibitors did not reduce hospitalisation for heart failure.", "negation"),
    (ASPIRIN, "Daily low-dose aspirin reduced cardiovascular events in older adults.",
     "negated"),
    (SGLT2, "SGLT2 inhibitors increase hospitalisation for heart failure.", "direction"),
    (SGLT2, "DPP-4 inhibitors reduce hospitalisation for heart failure by about 30%.", "DPP-4"),
    (COLCHICINE, "Aspirin 0.5 mg daily reduced the risk of ischaemic cardiovascular events.",
     "Aspirin"),
    (COLCHICINE, "Allopurinol 0.5 mg daily reduced the risk of ischaemic cardiovascular "
                 "events.", "Allopurinol"),
    (SGLT2, "SGLT2 inhibitors reduce hospitalisation for heart failure by about 50%.", "50"),
    (TXA, "Tranexamic acid reduced death due to bleeding when given within 8 hours of injury.",
     "8"),
    (COLCHICINE, "Colchicine 5 mg daily reduced ischaemic cardiovascular events.", "5"),
    (ASPIRIN, "Daily low-dose aspirin increased major bleeding in all adults.", "all"),
    (SGLT2, "SGLT2 inhibitors cause a reduction in hospitalisation for heart failure.",
     "cause"),
    (TXA, "Tranexamic acid is effective at any time after injury.", "any"),
    (HIP, "Mobilisation within 24 hours of hip fracture surgery causes lower 30-day "
          "mortality.", "causes"),
    (KETOACIDOSIS, "The authors recommend that patients with diabetes should avoid SGLT2 "
                   "inhibitors.", "recommend"),
    (KETOACIDOSIS, "SGLT2 inhibitors may be useful for reducing diabetic ketoacidosis.",
     "useful"),
    (SGLT2, "SGLT2 inhibitors reduce hospitalisation for heart failure and prevent dementia "
            "in elderly patients.", "prevent"),
]


@pytest.mark.parametrize("pmid,sentence", FAITHFUL)
def test_faithful_sentences_pass(pmid, sentence):
    result = check_claim(sentence, [abstract(pmid)])
    assert result.passed, result.reasons


@pytest.mark.parametrize("pmid,sentence,reason", DISTORTED)
def test_each_distortion_kind_is_caught_with_its_reason(pmid, sentence, reason):
    result = check_claim(sentence, [abstract(pmid)])
    assert not result.passed
    assert any(reason in r for r in result.reasons), result.reasons


def test_known_limit_two_entities_of_the_passage_swapped_in_role_pass():
    # Both drugs are named in the sentence it restates, so no exact check can tell who
    # reduced what; this is left to the support model (docs/answering.md). Pinned so that a
    # change in this behaviour is noticed and the docs are updated.
    swapped = "Compared with DOACs, warfarin reduces stroke in non-valvular atrial fibrillation."
    assert check_claim(swapped, [abstract(DOAC)]).passed


def test_a_claim_is_judged_against_its_own_passage_only():
    # True in the heart-failure meta-analysis, not stated in the ketoacidosis case report.
    sentence = FAITHFUL[0][1]
    assert check_claim(sentence, [abstract(SGLT2)]).passed
    assert not check_claim(sentence, [abstract(KETOACIDOSIS)]).passed
    assert check_claim(sentence, [abstract(KETOACIDOSIS), abstract(SGLT2)]).passed


def test_spelling_and_inflection_do_not_count_as_changes():
    assert stem("hospitalisation") == stem("hospitalization")
    assert stem("reduced") == stem("reduces")
    assert stem("haemorrhage") == stem("hemorrhage")

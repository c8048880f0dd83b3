"""Pure parts of the verdict/support heads: calibration and training-data edits."""

from __future__ import annotations

import random

import numpy as np
import pytest

from generator.classifier import calibrated, expected_calibration_error, fit_temperature
from generator.training.hard_negatives import distortions
from generator.training.heads_mining import sentences
from clinrag.pubmedqa import PubMedQAFormatError, load_pubmedqa, record_split, split_records
from tests.conftest import shared


def test_temperature_scaling_recovers_an_overconfident_model():
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 3, 4000)
    true_logits = rng.normal(0, 1, (4000, 3))
    true_logits[np.arange(4000), labels] += 1.5
    # Sample labels from the true probabilities, then make the model 3x overconfident.
    probs = calibrated(true_logits)
    sampled = np.array([rng.choice(3, p=p) for p in probs])
    overconfident = true_logits * 3.0
    t = fit_temperature(overconfident, sampled)
    assert t == pytest.approx(3.0, rel=0.15)
    before = expected_calibration_error(calibrated(overconfident), sampled)
    after = expected_calibration_error(calibrated(overconfident, t), sampled)
    assert after < before / 2


def test_binary_calibration_is_a_sigmoid():
    p = calibrated(np.array([[0.0], [2.0], [-2.0]]), 2.0)
    assert p == pytest.approx([0.5, 1 / (1 + np.exp(-1)), 1 / (1 + np.exp(1))])


def test_hard_negatives_of_every_kind_change_what_the_sentence_claims():
    claim = ("In patients with type 2 diabetes, metformin was associated with a 30% lower "
             "risk of lactic acidosis.")
    other = ("Empagliflozin may predispose to ketoacidosis after elective surgery. The trial "
             "enrolled 400 adults with chronic kidney disease in Denmark.")
    edits = dict(distortions(claim, other, random.Random(3)))
    assert set(edits) == {"negation", "entity_swap", "number_change", "population_widened",
                          "strength_overstated", "added_claim"}
    assert "lower" not in edits["negation"] or " not " in edits["negation"]
    swapped_in = set(edits["entity_swap"].split()) - set(claim.split())
    assert swapped_in and all(word.strip(".,") in other for word in swapped_in)
    assert "30%" not in edits["number_change"]
    assert "all patients" in edits["population_widened"]
    assert "caused" in edits["strength_overstated"]
    assert edits["added_claim"].startswith(claim.rstrip("."))
    # Each edit is caught by the exact checks, or is left for the model to learn: the mix is
    # what the support model trains on, so every kind must be present.
    assert distortions("Heart failure", "", random.Random(0)) == []
    assert sentences("The first claim is stated here. The second claim follows it! Short.") \
        == ["The first claim is stated here.", "The second claim follows it!"]


def test_pubmedqa_split_is_stable_and_errors_name_the_record(tmp_path):
    records = load_pubmedqa(shared("pubmedqa", "pqal_train.json"))
    assert len(records) == 500
    sizes = {name: len(split_records(records, name)) for name in ("train", "val", "test")}
    assert sum(sizes.values()) == 500 and sizes["val"] >= 40 and sizes["test"] >= 40
    assert record_split("10808977") == record_split("10808977")
    bad = tmp_path / "bad.json"
    bad.write_text('{"123": {"QUESTION": "q?", "CONTEXTS": ["c"]}}')
    with pytest.raises(PubMedQAFormatError, match="123.*final_decision"):
        load_pubmedqa(bad)


def test_yes_no_question_detection_on_real_benchmarks():
    from generator.verdict import is_yes_no_question
    from retriever.bioasq import load_questions

    records = load_pubmedqa(shared("pubmedqa", "pqal_train.json"))
    assert sum(is_yes_no_question(r.question) for r in records) / len(records) >= 0.98
    questions = load_questions(shared("bioasq"))
    agree = sum(is_yes_no_question(q.body) == (q.qtype == "yesno") for q in questions)
    assert agree / len(questions) >= 0.98      # measured 0.989 on 1983 questions


def test_a_causal_lm_base_is_told_apart_and_its_pairs_become_one_prompt():
    from types import SimpleNamespace

    from transformers import AutoTokenizer, BertConfig, LlamaConfig

    from clinrag.lora_training import encode_pairs, is_decoder
    from clinrag.models import resolve_model

    assert is_decoder(SimpleNamespace(config=LlamaConfig()))
    assert not is_decoder(SimpleNamespace(config=BertConfig()))
    bert = AutoTokenizer.from_pretrained(str(resolve_model(
        "sentence-transformers/all-MiniLM-L6-v2")))
    pair = encode_pairs(bert, ["Does X work?"], ["X worked."], 32)
    assert bert.sep_token_id in pair["input_ids"][0].tolist()
    # A tokenizer without a pair template (SmolLM2's) gets one prompt-like text instead,
    # cut from the left so the end, where the head reads, survives.
    class NoPairs:
        sep_token = None
        truncation_side = "right"

        def __call__(self, texts, **kwargs):
            self.texts, self.kwargs = texts, kwargs
            return {}

    tokenizer = NoPairs()
    encode_pairs(tokenizer, ["Does X work?"], ["X worked."], 8)
    assert tokenizer.texts == ["Question: Does X work?\nEvidence: X worked.\nAnswer:"]
    assert tokenizer.truncation_side == "left" and tokenizer.kwargs["max_length"] == 8

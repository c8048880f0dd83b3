"""The abstention gate: its pure parts by hand, the shipped artefact, and the real answerer."""

from __future__ import annotations

import json
import math

import pytest

from clinrag.settings import DEFAULT_EMBEDDER
from generator.answerability import (GATE_FILE, AnswerabilityGate, AnswerabilitySignals,
                                     GateUnavailable, default_gate_path, open_gate)
from retriever.coverage import term_coverage
from tests.conftest import REPO

IDF = {"metformin": 3.0, "lactic": 2.0, "acidosis": 1.0, "patients": 0.5}.get


def test_term_coverage_is_idf_weighted_over_distinct_terms():
    question = ["metformin", "lactic", "acidosis", "metformin", "unseen"]
    # "unseen" has no IDF (not in the index) and carries no weight; repeats count once.
    assert term_coverage(question, {"metformin", "acidosis"}, lambda t: IDF(t, 0.0)) == \
        pytest.approx((3.0 + 1.0) / 6.0)
    assert term_coverage(question, {"lactic"}, lambda t: IDF(t, 0.0)) == pytest.approx(2 / 6)
    assert term_coverage(question, set(), lambda t: IDF(t, 0.0)) == 0.0
    assert term_coverage(["unseen"], {"unseen"}, lambda t: IDF(t, 0.0)) == 0.0


def test_gate_probability_round_trip_and_refusals(tmp_path):
    gate = AnswerabilityGate(weights=(2.0, -3.0, -4.0), bias=1.5, threshold=0.4,
                             embedder=DEFAULT_EMBEDDER, name="test-gate:1")
    signals = AnswerabilitySignals(p_insufficient=0.5, term_coverage=0.25, similarity=0.5)
    z = 1.5 + 2.0 * 0.5 - 3.0 * 0.25 - 4.0 * 0.5
    assert gate.p_unanswerable(signals) == pytest.approx(1 / (1 + math.exp(-z)))
    gate.save(tmp_path)
    assert AnswerabilityGate.load(tmp_path) == gate
    assert open_gate(str(tmp_path), None, DEFAULT_EMBEDDER) == gate
    assert open_gate("none", None, DEFAULT_EMBEDDER) is None
    with pytest.raises(GateUnavailable, match="embedder"):
        open_gate(str(tmp_path), None, "some/other-embedder")
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / GATE_FILE).write_text(json.dumps({**gate.to_json(), "weights": [1.0]}))
    with pytest.raises(GateUnavailable, match="do not match"):
        AnswerabilityGate.load(broken)
    with pytest.raises(GateUnavailable, match="no answerability gate"):
        AnswerabilityGate.load(tmp_path / "missing")


def test_shipped_gate_is_documented_and_held_out_figures_recorded():
    folder = default_gate_path()
    assert folder == REPO / "data" / "models" / "answerability"
    gate = AnswerabilityGate.load(folder)
    assert gate.embedder == DEFAULT_EMBEDDER and gate.name.startswith("clinrag-answerability:")
    card = (folder / "README.md").read_text()
    assert "clinrag train answerability" in card and f"{gate.threshold:.4f}" in card
    for key in ("pubmedqa_val", "pubmedqa_test", "bioasq_val", "bioasq_test"):
        assert gate.metrics[key]["removed"] >= 50 and gate.metrics[key]["auc"] > 0.8, key
    # Weak evidence match must push towards abstaining, doubt in the verdict model too.
    weights = dict(zip(gate.features, gate.weights))
    assert weights["p_insufficient"] > 0 and weights["term_coverage"] < 0 \
        and weights["similarity"] < 0

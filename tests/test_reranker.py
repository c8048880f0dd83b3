"""The trained reranker artefact and the loader's other paths."""

from __future__ import annotations

import json

import numpy as np
import pytest

from clinrag.models import resolve_model
from retriever.bioasq import load_questions
from retriever.hybrid import Retriever
from retriever.rerank import REPO_MODELS, CrossEncoderReranker


@pytest.fixture(scope="module")
def reranker():
    return CrossEncoderReranker("default")


def test_shipped_artefact_is_small_and_documented():
    folder = REPO_MODELS / "reranker"
    size = sum(p.stat().st_size for p in folder.iterdir())
    assert size < 20 * 1024 * 1024
    card = (folder / "README.md").read_text()
    assert "BioASQ" in card and "nDCG@10" in card
    config = json.loads((folder / "clinrag_reranker.json").read_text())
    assert config["best_val_rerank_ndcg@10"] > 0 and config["base_model"]


def test_reranker_prefers_the_relevant_passage(reranker):
    query = "Which drug class reduces hospitalisation for heart failure in reduced ejection fraction?"
    passages = [
        "Dapagliflozin, an SGLT2 inhibitor, reduced the risk of worsening heart failure or "
        "cardiovascular death in patients with reduced ejection fraction.",
        "Hand hygiene compliance improved after an education campaign in surgical wards.",
        "The crystal structure of the bacterial ribosome was solved at 2.4 angstrom.",
    ]
    scores = reranker.score(query, passages)
    assert scores.shape == (3,) and int(np.argmax(scores)) == 0


def test_repeated_pairs_are_served_from_the_cache(reranker, monkeypatch):
    query = "Does aspirin prevent colorectal adenoma recurrence?"
    passages = ["Aspirin reduced adenoma recurrence in a randomized trial.",
                "Statins lower LDL cholesterol.", "Colonoscopy intervals were surveyed."]
    first = reranker.score(query, passages[:2])
    forwarded = []
    real_forward = reranker._forward
    monkeypatch.setattr(reranker, "_forward",
                        lambda q, ps: forwarded.append(list(ps)) or real_forward(q, ps))
    again = reranker.score(query, passages)
    # Only the new pair runs through the model; the cached ones come back unchanged.
    assert forwarded == [[passages[2]]]
    assert np.array_equal(again[:2], first)
    assert again[2] == pytest.approx(float(real_forward(query, passages[2:])[0]), abs=1e-3)
    # A different query is a different pair.
    reranker.score("Do statins prevent adenomas?", passages[:1])
    assert forwarded[-1] == [passages[0]]


def test_reranker_reorders_real_bioasq_hits(bioasq_index, embedder, reranker):
    settings, path, _ = bioasq_index
    settings = settings.model_copy(update={"retrieve": settings.retrieve.model_copy(
        update={"max_per_doc": 1})})
    retriever = Retriever.open(settings, embedder=embedder, reranker=reranker)
    questions = [q for q in load_questions(path.parent) if q.qid in _ids(path)][:30]
    changed, gold_rank_before, gold_rank_after = 0, [], []
    for q in questions:
        plain = retriever.search(q.body, 10, rerank=False)
        reranked = retriever.search(q.body, 10, rerank=True)
        assert all("rerank" in h.scores for h in reranked)
        changed += [h.chunk_id for h in plain] != [h.chunk_id for h in reranked]
        gold_rank_before.append(_first_gold(plain, q.gold_doc_ids))
        gold_rank_after.append(_first_gold(reranked, q.gold_doc_ids))
    assert changed >= len(questions) // 2
    mrr = lambda ranks: float(np.mean([1 / r if r else 0 for r in ranks]))  # noqa: E731
    assert mrr(gold_rank_after) >= mrr(gold_rank_before) - 0.05
    # Without fusion the reranker's order alone decides; with it (the default) the fused
    # order still pulls some candidates back.
    alone = Retriever(retriever.generation, settings.model_copy(update={
        "retrieve": settings.retrieve.model_copy(update={"rerank_fusion": False})}),
        embedder, reranker)
    differs = 0
    for q in questions[:10]:
        hits = alone.search(q.body, 10, rerank=True)
        logits = [h.scores["rerank"] for h in hits]
        assert logits == sorted(logits, reverse=True)
        differs += [h.chunk_id for h in hits] != [h.chunk_id for h in
                                                  retriever.search(q.body, 10, rerank=True)]
    assert differs >= 1


def _ids(path) -> set[str]:
    return {q["id"] for q in json.loads(path.read_text())["questions"]}


def _first_gold(hits, gold) -> int:
    return next((h.rank for h in hits if h.doc_id in gold), 0)


def test_any_cross_encoder_path_loads(tmp_path):
    """A user's own CrossEncoder checkpoint (here a tiny one built in code) loads by path."""
    from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

    tokenizer = AutoTokenizer.from_pretrained(str(resolve_model("all-MiniLM-L6-v2")))
    config = BertConfig(vocab_size=tokenizer.vocab_size, hidden_size=32, num_hidden_layers=1,
                        num_attention_heads=2, intermediate_size=64, num_labels=1)
    BertForSequenceClassification(config).save_pretrained(tmp_path)
    tokenizer.save_pretrained(tmp_path)
    tiny = CrossEncoderReranker(str(tmp_path), precision="fp32")
    scores = tiny.score("aspirin", ["aspirin lowers fever", "statins and myalgia"])
    assert scores.shape == (2,) and np.isfinite(scores).all()


@pytest.mark.parametrize("method", ["lora", "full"])
def test_training_writes_a_reranker_the_loader_takes(bioasq_index, tmp_path, method):
    """Two steps of either recipe on the real BioASQ corpus: the artefact loads and scores."""
    from retriever.training.reranker import TrainConfig, train

    settings, path, _ = bioasq_index
    config = TrainConfig(max_steps=2, eval_every=1, val_questions=3, candidates=8,
                         groups_per_step=1, method=method, lr=3e-5 if method == "full" else 3e-4)
    summary = train(settings, path.parent, tmp_path / method, config)
    assert summary["kind"] == method and summary["steps"] >= 1
    assert len(summary["curve"]) >= 2 and "rerank_ndcg@10" in summary["curve"][-1]
    card = (tmp_path / method / "README.md").read_text()
    assert ("full fine-tune" in card) == (method == "full")
    loaded = CrossEncoderReranker(str(tmp_path / method), precision="fp32")
    scores = loaded.score("Which gene is mutated in cystic fibrosis?",
                          ["CFTR mutations cause cystic fibrosis.", "Statins lower LDL."])
    assert scores.shape == (2,) and np.isfinite(scores).all()

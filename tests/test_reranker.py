"""The trained reranker artefact and the loader's other paths."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from clinrag.models import resolve_model
from conftest import shared
from retriever.bioasq import load_questions
from retriever.hybrid import Retriever
from retriever.rerank import REPO_MODELS, CrossEncoderReranker
from retriever.types import SearchParams


SQUAD_TINY = Path(__file__).parent / "data" / "eval" / "squad_tiny.json"


@pytest.fixture(scope="module")
def reranker():
    return CrossEncoderReranker.load("default")


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
    # 16 questions and 6 for the fusion check: the cross-encoder is the costly part on a CPU
    # without bf16 units (CI), and 16 already tell reordering from noise.
    questions = [q for q in load_questions(path.parent) if q.qid in _ids(path)][:16]
    changed, gold_rank_before, gold_rank_after = 0, [], []
    for q in questions:
        plain = retriever.search(q.body, SearchParams(k=10, rerank=False)).hits
        reranked = retriever.search(q.body, SearchParams(k=10, rerank=True)).hits
        assert all("rerank" in h.scores for h in reranked)
        changed += [h.chunk_id for h in plain] != [h.chunk_id for h in reranked]
        gold_rank_before.append(_first_gold(plain, q.gold_doc_ids))
        gold_rank_after.append(_first_gold(reranked, q.gold_doc_ids))
    assert changed >= len(questions) // 2
    mrr = lambda ranks: float(np.mean([1 / r if r else 0 for r in ranks]))  # noqa: E731
    assert mrr(gold_rank_after) >= mrr(gold_rank_before) - 0.05
    # Without fusion the reranker's order alone decides; with it (the default) the fused
    # order still pulls some candidates back.
    alone = Retriever(retriever.view, settings.model_copy(update={
        "retrieve": settings.retrieve.model_copy(update={"rerank_fusion": False})}),
        embedder, reranker)
    differs = 0
    for q in questions[:6]:
        hits = alone.search(q.body, SearchParams(k=10, rerank=True)).hits
        logits = [h.scores["rerank"] for h in hits]
        assert logits == sorted(logits, reverse=True)
        again = retriever.search(q.body, SearchParams(k=10, rerank=True)).hits
        differs += [h.chunk_id for h in hits] != [h.chunk_id for h in again]
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
    tiny = CrossEncoderReranker.load(str(tmp_path), precision="fp32")
    scores = tiny.score("aspirin", ["aspirin lowers fever", "statins and myalgia"])
    assert scores.shape == (2,) and np.isfinite(scores).all()


def test_full_fine_tuning_writes_a_reranker_the_loader_takes(bioasq_index, tmp_path):
    """Two steps of the full fine-tune recipe on the real BioASQ corpus: it loads and scores."""
    from retriever.training.reranker import TrainConfig, train

    settings, path, _ = bioasq_index
    config = TrainConfig(max_steps=2, eval_every=1, val_questions=3, candidates=8,
                         groups_per_step=1, method="full", lr=3e-5)
    summary = train(settings, path.parent, tmp_path / "full", config)
    assert summary["kind"] == "full" and summary["steps"] >= 1
    assert len(summary["curve"]) >= 2 and "rerank_ndcg@10" in summary["curve"][-1]
    assert "full fine-tune" in (tmp_path / "full" / "README.md").read_text()
    _loads_and_scores(tmp_path / "full")


def test_lora_training_on_abstracts_and_full_text(bioasq_index, embedder, tmp_path):
    """The shipped recipe with full-text papers next to BioASQ: a paper of the train split
    gives training groups whose positives hold the answer, a paper of the val split judges,
    both kinds are in the curve and the card, and the adapter loads."""
    from ingest.pipeline import run
    from ingest.sources.benchmark_json import squad_questions
    from retriever.training.groups import ABSTRACTS, FULLTEXT, mine_spans
    from retriever.training.reranker import TrainConfig, _open, train

    settings, path, _ = bioasq_index
    data = json.loads(SQUAD_TINY.read_text())
    data["data"][0]["paragraphs"][0]["document_id"] = 5     # paper_split: train; 2 stays val
    squad = tmp_path / "papers.json"
    squad.write_text(json.dumps(data))
    index = tmp_path / "papers_index"
    run([squad], settings.model_copy(update={"index": index}), embedder=embedder)

    questions = squad_questions(data)
    mined = mine_spans(_open(settings, index), questions, 8)
    for q in questions:
        labelled = mined.lists[q.qid].passages
        assert sum(rel for _, _, rel in labelled) >= 1, q.question
        answer = _answer_text(data, q.qid)
        for _, passage, rel in labelled:
            # A positive holds (at least the first half of) the answer's words.
            assert answer[: len(answer) // 2] in passage or not rel
    assert mined.same_doc_negatives > 0      # the answer paper's other chunks are negatives

    config = TrainConfig(max_steps=2, eval_every=1, val_questions=3, candidates=8,
                         groups_per_step=2, fulltext_share=0.5)
    summary = train(settings, path.parent, tmp_path / "lora", config, fulltext=squad,
                    fulltext_index=index)
    assert set(summary["data"]) == {ABSTRACTS, FULLTEXT}
    assert set(summary["curve"][-1]["per_set"]) == {ABSTRACTS, FULLTEXT}
    card = (tmp_path / "lora" / "README.md").read_text()
    assert FULLTEXT in card and "negatives from the answer's own paper" in card
    _loads_and_scores(tmp_path / "lora")


@pytest.mark.data
def test_temporal_split_trains_on_earlier_rounds_only():
    from clinrag.bioasq import round_of
    from retriever.bioasq import load_questions, split

    assert round_of(Path("x/Task9BGoldenEnriched/9B1_golden.json")) == "9B"
    questions = load_questions(shared("bioasq"))
    train_q, val_q, test_q = (split(questions, n, "temporal") for n in ("train", "val", "test"))
    assert {q.round for q in train_q} == {"7B", "8B", "9B"}
    assert {q.round for q in val_q} == {q.round for q in test_q} == {"10B"}
    assert abs(len(val_q) - len(test_q)) < 0.2 * len(val_q)
    assert not {q.qid for q in val_q} & {q.qid for q in test_q}
    with pytest.raises(ValueError, match="unknown split"):
        split(questions, "train", "by-mood")


def _answer_text(data: dict, qid: str) -> str:
    for article in data["data"]:
        for paragraph in article["paragraphs"]:
            for qa in paragraph["qas"]:
                if str(qa["id"]) == qid:
                    return qa["answers"][0]["text"].strip()
    raise KeyError(qid)


def _loads_and_scores(folder) -> None:
    loaded = CrossEncoderReranker.load(str(folder), precision="fp32")
    scores = loaded.score("Which gene is mutated in cystic fibrosis?",
                          ["CFTR mutations cause cystic fibrosis.", "Statins lower LDL."])
    assert scores.shape == (2,) and np.isfinite(scores).all()

"""Full-text QA (SQuAD format, e.g. COVID-QA) as a benchmark: spans, corpus, passage metrics."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from conftest import shared
from eval.datasets import DatasetError, GoldSnippet, load_benchmark
from eval.retrieval import holds_answer, passage_scores

TINY = Path(__file__).parent / "data" / "eval" / "squad_tiny.json"


def _corpus_texts(path: Path) -> dict[str, str]:
    from ingest.sources.benchmark_json import load_benchmark_json

    loaded = load_benchmark_json(path)
    assert not loaded.rejected
    return {d.doc_id: d.pages[0].text for d in loaded.documents}


def test_answer_spans_point_at_the_answer_in_the_ingested_text():
    benchmark = load_benchmark("squad", TINY)
    texts = _corpus_texts(TINY)
    assert set(texts) == {"squad:1", "squad:2"} and len(benchmark.examples) == 5
    for example in benchmark.examples:
        (span,) = example.gold_snippets
        assert texts[span.doc_id][span.start:span.end] == example.gold
    # The offset that misses the answer's leading space still finds it, trimmed.
    rhythm = next(e for e in benchmark.examples if e.id == "3")
    assert rhythm.gold == "Rhythm was monitored with seven-day Holter recordings"


@pytest.mark.data
def test_every_covidqa_answer_span_is_found_in_its_paper():
    path = shared("covidqa", "covidqa_200423.json")
    benchmark = load_benchmark("squad", path)
    texts = _corpus_texts(path)
    assert len(benchmark.examples) == 1380 and len(texts) == 98
    for example in benchmark.examples:
        for span in example.gold_snippets:
            assert texts[span.doc_id][span.start:span.end] == example.gold, example.id
    # Split by paper: no paper's questions on two sides.
    from clinrag.splits import paper_split

    sides: dict[str, set[str]] = {}
    for example in benchmark.examples:
        sides.setdefault(example.relevant_doc_ids[0], set()).add(
            paper_split(example.relevant_doc_ids[0]))
    assert all(len(s) == 1 for s in sides.values())
    assert {"train", "val", "test"} == set().union(*sides.values())


def test_an_answer_missing_from_its_context_is_a_clear_error(tmp_path):
    data = json.loads(TINY.read_text())
    data["data"][1]["paragraphs"][0]["qas"][0]["answers"][0]["text"] = "500 IU daily"
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(data))
    with pytest.raises(DatasetError, match=r"question #1 \(id 4\): answer '500 IU daily' is "
                                           r"not in its context"):
        load_benchmark("squad", bad)


def test_a_passage_holds_the_answer_when_it_covers_half_of_it():
    gold = GoldSnippet("squad:1", "body", 100, 200)
    assert holds_answer(GoldSnippet("squad:1", "body", 0, 150), gold)        # 50 of 100
    assert not holds_answer(GoldSnippet("squad:1", "body", 0, 149), gold)    # 49 of 100
    assert not holds_answer(GoldSnippet("squad:2", "body", 0, 300), gold)    # other paper
    # An answer longer than the passage: held when half of the passage is answer.
    assert holds_answer(GoldSnippet("squad:1", "body", 180, 220), gold)
    ranked = [GoldSnippet("squad:2", "body", 0, 300), GoldSnippet("squad:1", "body", 90, 210)]
    scores = passage_scores(ranked, [gold])
    assert scores["passage_hit@1"] == 0.0 and scores["passage_hit@5"] == 1.0
    assert scores["passage_mrr@10"] == 0.5


@pytest.mark.slow
def test_cli_scores_passages_inside_papers_with_the_per_document_cap(tmp_path, capsys):
    from eval.cli import main

    home = tmp_path / "home"
    runs = {}
    for cap in ("1", "3"):
        out = tmp_path / f"cap{cap}"
        assert main(["run", "squad", "--data", str(TINY), "--mode", "bm25", "--no-rerank",
                     "--no-answer", "--max-per-doc", cap, "--out", str(out), "--quiet",
                     "--json", "--home", str(home)]) == 0
        capsys.readouterr()
        runs[cap] = json.loads((out / "metrics.json").read_text())
    rows = [json.loads(line) for line in (tmp_path / "cap3" / "per_example.jsonl").open()]
    assert len(rows) == 5
    for row in rows:
        docs = [span[0] for span in row["passage_spans"]]
        assert max(docs.count(d) for d in set(docs)) <= 3
        assert row["relevant_doc_ids"][0] == docs[0]          # the right paper comes first
    # With three passages per paper allowed, each answer passage is among the top 5.
    assert runs["3"]["passage_hit@5"] == 1.0
    assert runs["3"]["ndcg@10"] == 1.0
    assert runs["1"]["passage_hit@5"] <= runs["3"]["passage_hit@5"]
    assert "passage_hit@5" in (tmp_path / "cap3" / "report.md").read_text()



def test_training_questions_keep_answer_spans_and_skip_what_cannot_be_used():
    """The reranker's full-text training data reads the same spans the benchmark scores."""
    from ingest.sources.benchmark_json import squad_questions
    from retriever.spans import holds_span

    data = json.loads(TINY.read_text())
    by_id = {e.id: e for e in load_benchmark("squad", TINY).examples}
    questions = squad_questions(data)
    assert {q.qid for q in questions} == set(by_id)
    for q in questions:
        gold = by_id[q.qid].gold_snippets[0]
        assert q.spans[0] == (gold.start, gold.end) and q.doc_id == gold.doc_id
    # Malformed items and answers missing from their context are skipped, not raised.
    broken = {"data": [{"paragraphs": [{"context": "Aspirin lowers fever.", "qas": [
        "not an object", {"id": 7, "question": "What lowers fever?",
                          "answers": [{"text": "paracetamol", "answer_start": 0}]}]}]}]}
    assert squad_questions(broken) == [] and squad_questions([]) == []
    # Half of the answer inside a passage holds it; a sliver does not.
    assert holds_span((0, 100), (90, 110)) and not holds_span((0, 100), (95, 130))

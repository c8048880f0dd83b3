"""Benchmark loaders: official formats in, typed questions out, broken records named."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.datasets import DatasetError, load_benchmark, synonym_lists
from tests.conftest import shared

FIXTURES = Path(__file__).parent / "data" / "eval"


def test_pubmedqa_records_and_ids_match_the_ingest_loader():
    bench = load_benchmark("pubmedqa", FIXTURES / "pubmedqa_tiny.json")
    assert [e.id for e in bench.examples] == ["90000001", "90000002", "90000003"]
    first = bench.examples[0]
    assert first.qtype == "yesno" and first.gold == "yes"
    assert first.relevant_doc_ids == ("pubmed:90000001",)
    assert first.ideal == ("Drug A lowers blood pressure in adults with hypertension.",)
    assert len(first.contexts) == 2
    assert bench.labels == ("yes", "no", "maybe")
    # The index's documents for this file carry the same ids retrieval is scored against.
    from ingest.sources.benchmark_json import load_benchmark_json

    docs = load_benchmark_json(FIXTURES / "pubmedqa_tiny.json").documents
    assert {d.doc_id for d in docs} == {i for e in bench.examples for i in e.relevant_doc_ids}


def test_bioasq_types_exact_answers_snippets_and_first_id_wins():
    bench = load_benchmark("bioasq", FIXTURES / "bioasq_tiny.json")
    by_id = {e.id: e for e in bench.examples}
    assert len(bench.examples) == 4 and by_id["q-yesno-1"].gold == "yes"
    factoid = by_id["q-factoid-1"]
    assert factoid.gold == [["enzyme K", "kinase K"]]
    assert factoid.relevant_doc_ids == ("pubmed:11111111", "pubmed:22222222")
    snippet = factoid.gold_snippets[0]
    assert (snippet.doc_id, snippet.section, snippet.start, snippet.end) == (
        "pubmed:22222222", "title", 0, 34)
    assert by_id["q-list-1"].gold == [["K"], ["L", "lipase L"]]
    assert by_id["q-list-1"].ideal == ("Drug B targets K and L.",)
    assert by_id["q-summary-1"].gold is None and by_id["q-summary-1"].ideal


def test_synonym_list_shapes_of_different_years():
    assert synonym_lists([["a", "b"]], "factoid") == [["a", "b"]]
    assert synonym_lists(["a", "b"], "factoid") == [["a", "b"]]
    assert synonym_lists("a", "factoid") == [["a"]]
    assert synonym_lists([["a"], ["b", "c"], []], "list") == [["a"], ["b", "c"]]
    assert synonym_lists(["a", "b"], "list") == [["a"], ["b"]]


def test_jsonl_multiple_choice_open_and_yesno():
    bench = load_benchmark("jsonl", FIXTURES / "mc.jsonl")
    by_id = {e.id: e for e in bench.examples}
    assert by_id["mc1"].qtype == "multiple_choice" and by_id["mc1"].gold == "drug A"
    assert by_id["mc2"].gold == "vitamin Z" and by_id["mc2"].choices == ("vitamin Z", "vitamin Q")
    assert by_id["open1"].qtype == "open" and by_id["open1"].ideal == ("systolic blood pressure",)
    assert by_id["yn1"].qtype == "yesno" and by_id["yn1"].gold == "no"


@pytest.mark.parametrize("name, content, message", [
    ("pubmedqa", {"123": {"CONTEXTS": ["x"], "final_decision": "yes"}},
     "PMID 123: missing field 'QUESTION'"),
    ("pubmedqa", {"123": {"QUESTION": "q?", "CONTEXTS": ["x"]}},
     "PMID 123: missing field 'final_decision'"),
    ("pubmedqa", {"123": {"QUESTION": "q?", "CONTEXTS": [], "final_decision": "yes"}},
     "PMID 123: missing field 'CONTEXTS'"),
    ("pubmedqa", {"123": {"QUESTION": "q?", "CONTEXTS": ["x"], "final_decision": "perhaps"}},
     "PMID 123: final_decision 'perhaps'"),
    ("bioasq", {"questions": [{"id": "a1", "type": "yesno", "body": "q?", "documents": [],
                               "exact_answer": "yes"}, {"id": "b2", "type": "factoid",
                                                        "documents": []}]},
     "question #2 (id b2): missing field 'body'"),
    ("bioasq", {"questions": [{"id": "c3", "type": "factoid", "body": "q?", "documents": []}]},
     "question #1 (id c3): missing field 'exact_answer'"),
    ("bioasq", {"questions": [{"type": "summary", "body": "q?", "documents": []}]},
     "question #1: missing field 'id'"),
    ("bioasq", {"questions": [{"id": "d4", "type": "summary", "body": "q?"}]},
     "question #1 (id d4): missing field 'documents'"),
    ("bioasq", {"questions": [{"id": "e5", "type": "yesno", "body": "q?", "documents": [],
                               "exact_answer": "yes", "snippets": [{"text": "t"}]}]},
     "(id e5): snippet #1 lacks a usable"),
    ("bioasq", {"data": []}, "missing field 'questions'"),
])
def test_broken_records_name_the_record_and_field(tmp_path, name, content, message):
    path = tmp_path / "bench.json"
    path.write_text(json.dumps(content))
    with pytest.raises(DatasetError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_benchmark(name, path)


def test_broken_jsonl_and_files(tmp_path):
    path = tmp_path / "b.jsonl"
    path.write_text('{"id": 1, "question": "ok?"}\n{"id": 2}\n')
    with pytest.raises(DatasetError, match=r"line 2 \(id 2\): missing field 'question'"):
        load_benchmark("jsonl", path)
    path.write_text('{"id": 1, "question": "q", "choices": ["a", "b"], "answer": "C"}\n')
    with pytest.raises(DatasetError, match="answer 'C' is none of the choices"):
        load_benchmark("jsonl", path)
    path.write_text('{"id": 1, "question": "q"}\n{"id": 1, "question": "q"}\n')
    with pytest.raises(DatasetError, match="duplicate id"):
        load_benchmark("jsonl", path)
    path.write_text('{"id": 1, "question": "q"\n')
    with pytest.raises(DatasetError, match="line 1: invalid JSON"):
        load_benchmark("jsonl", path)
    truncated = tmp_path / "t.json"
    truncated.write_text('{"123": {"QUESTION": "q?", "CONTEXTS"')
    with pytest.raises(DatasetError, match="invalid JSON at line 1"):
        load_benchmark("pubmedqa", truncated)
    with pytest.raises(DatasetError, match="no such file"):
        load_benchmark("pubmedqa", tmp_path / "missing.json")
    with pytest.raises(DatasetError, match="unknown benchmark"):
        load_benchmark("medqa", truncated)


def test_data_hash_tracks_content(tmp_path):
    a = tmp_path / "a.json"
    a.write_bytes((FIXTURES / "pubmedqa_tiny.json").read_bytes())
    first = load_benchmark("pubmedqa", a).data_hash
    assert load_benchmark("pubmedqa", a).data_hash == first
    a.write_bytes(a.read_bytes().replace(b"200 adults", b"201 adults"))
    assert load_benchmark("pubmedqa", a).data_hash != first


@pytest.mark.data
def test_shared_benchmarks_load_whole():
    pubmedqa = load_benchmark("pubmedqa", shared("pubmedqa", "pqal_train.json"))
    assert len(pubmedqa.examples) == 500
    bioasq = load_benchmark("bioasq", shared("bioasq"))
    assert len(bioasq.examples) == 1983
    assert {e.qtype for e in bioasq.examples} == {"yesno", "factoid", "list", "summary"}
    assert sum(len(e.gold_snippets) for e in bioasq.examples) == 18646

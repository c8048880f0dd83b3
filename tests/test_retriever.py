"""Retriever behaviour on a real (demo) index with the real embedder."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from hypothesis import given, settings as hsettings, strategies as st
from rank_bm25 import BM25Okapi

from clinrag.settings import load_settings
from ingest.errors import IndexMismatch
from ingest.pipeline import run
from ingest.store import IndexStore
from ingest.tokenize import tokenize
from retriever.fusion import fuse_rerank, rrf
from retriever.hybrid import QueryError, Retriever
from retriever.types import Filters
from tests.conftest import SAMPLE


# -- fusion (pure) --------------------------------------------------------------------------
runs_strategy = st.lists(st.lists(st.integers(0, 30), max_size=15, unique=True), min_size=1,
                         max_size=4)


@hsettings(max_examples=200, deadline=None)
@given(runs=runs_strategy, seed=st.integers(0, 1000))
def test_rrf_is_independent_of_run_order(runs, seed):
    shuffled = list(runs)
    random.Random(seed).shuffle(shuffled)
    assert rrf(runs) == rrf(shuffled)


def test_rrf_scores_ties_and_weights():
    fused = rrf([["a", "b"], ["b", "a"]], k=60)
    assert [d for d, _ in fused] == ["a", "b"]          # exact tie: broken by id, stable
    assert fused[0][1] == pytest.approx(1 / 61 + 1 / 62)
    assert [d for d, _ in rrf([["a", "b"], ["b", "c"]])] == ["b", "a", "c"]
    assert [d for d, _ in rrf([["a"], ["b"]], weights=[1.0, 2.0])] == ["b", "a"]
    assert rrf([["a", "a", "b"]]) == rrf([["a", "b"]])  # duplicates count at best rank
    with pytest.raises(ValueError):
        rrf([["a"]], k=0)


def test_reranker_order_alone_or_fused_with_the_first_stage():
    first_stage, scores = ["a", "b", "c", "d"], [0.1, 0.9, 0.5, 0.5]
    # Alone: by score; c and d tie and keep their first-stage order.
    assert fuse_rerank(first_stage, scores) == ["b", "c", "d", "a"]
    # Fused, k=1: a = 1/2 + w/5, b = 1/3 + w/2, c = 1/4 + w/3, d = 1/5 + w/4.
    assert fuse_rerank(first_stage, scores, weight=1.0, k=1) == ["b", "a", "c", "d"]
    assert fuse_rerank(first_stage, scores, weight=4.0, k=1) == ["b", "c", "a", "d"]
    assert fuse_rerank(first_stage, scores, weight=0.0, k=1) == first_stage
    with pytest.raises(ValueError):
        fuse_rerank(first_stage, scores[:2])


# -- on the demo index ----------------------------------------------------------------------
@pytest.fixture(scope="module")
def demo(tmp_path_factory, embedder):
    root = tmp_path_factory.mktemp("demo")
    settings = load_settings({"home": root, "index": root / "index",
                              "retrieve": {"rerank": False}})
    run([SAMPLE / "pubmed", SAMPLE / "pdfs"], settings, embedder=embedder)
    return settings, Retriever.open(settings, embedder=embedder, reranker=None)


QUESTION = "Do SGLT2 inhibitors reduce hospitalisation for heart failure?"


@pytest.mark.parametrize("mode", ["dense", "bm25", "hybrid"])
def test_each_mode_finds_the_answering_abstract(demo, mode):
    _, retriever = demo
    hits = retriever.search(QUESTION, 5, mode=mode)
    assert hits[0].doc_id == "pubmed:90000002"
    hit = hits[0]
    page = retriever.generation.pages[
        next(c.page_id for c in retriever.generation.chunks if c.chunk_id == hit.chunk_id)].page
    assert page.text[hit.start:hit.end] == hit.text
    assert hit.title and hit.year and hit.journal and hit.publication_types
    assert ("dense" in hit.scores) == (mode != "bm25") and ("bm25" in hit.scores) == (mode != "dense")


def test_hybrid_hits_carry_both_stage_scores(demo):
    _, retriever = demo
    hits = retriever.search(QUESTION, 3, mode="hybrid")
    assert {"rrf", "dense", "bm25"} <= set(hits[0].scores)
    assert [h.rank for h in hits] == [1, 2, 3]


def test_filters_apply_before_fusion(demo):
    _, retriever = demo
    hits = retriever.search("heart failure", 10, filters=Filters(year_min=2020, year_max=2022))
    assert hits and all(2020 <= h.year <= 2022 for h in hits)
    hits = retriever.search("heart failure", 10, filters=Filters(sources=("pdf",)))
    assert hits and all(h.source == "pdf" for h in hits)
    hits = retriever.search("trial", 10, filters=Filters(publication_types=("Meta-Analysis",)))
    assert hits and all("Meta-Analysis" in h.publication_types for h in hits)
    hits = retriever.search("heart failure", 10, filters=Filters(doc_ids=("pubmed:90000005",)))
    assert {h.doc_id for h in hits} == {"pubmed:90000005"}
    hits = retriever.search("omega-3 atrial fibrillation surgery", 10,
                            filters=Filters(exclude_retracted=True))
    assert hits and not any(h.retracted for h in hits)
    assert retriever.search("heart failure", 10, filters=Filters(year_min=3000)) == []


def test_per_document_cap(demo):
    settings, retriever = demo
    query = "apixaban dose in atrial fibrillation with chronic kidney disease"
    capped = retriever.search(query, 10)
    counts = {}
    for hit in capped:
        counts[hit.doc_id] = counts.get(hit.doc_id, 0) + 1
    assert max(counts.values()) <= settings.retrieve.max_per_doc
    retriever.config = settings.retrieve.model_copy(update={"max_per_doc": 1})
    try:
        single = retriever.search(query, 10)
        assert len({h.doc_id for h in single}) == len(single)
    finally:
        retriever.config = settings.retrieve


def test_bad_queries_are_refused(demo):
    _, retriever = demo
    with pytest.raises(QueryError):
        retriever.search("   ")
    with pytest.raises(QueryError):
        retriever.search("x" * 5000)
    with pytest.raises(QueryError):
        retriever.search(QUESTION, rerank=True)  # no reranker loaded here


def test_embedder_mismatch_is_a_clear_error(demo, embedder):
    settings, _ = demo
    manifest_path = IndexStore(settings.index_dir).generations_dir / \
        IndexStore(settings.index_dir).current_name() / "manifest.json"
    generation = IndexStore(settings.index_dir).open()
    generation.manifest = json.loads(manifest_path.read_text())
    generation.manifest["embedder"]["revision"] = "sha256:0000000000000000"
    with pytest.raises(IndexMismatch, match="embedded with"):
        Retriever(generation, settings, embedder)


def test_bm25_engine_matches_rank_bm25(demo):
    _, retriever = demo
    generation = retriever.generation
    corpus = [tokenize(retriever._passage(i)) for i in range(len(generation.chunks))]
    reference = BM25Okapi(corpus)
    queries = [QUESTION, "vitamin D fractures elderly", "tranexamic acid trauma bleeding",
               "hand hygiene hospital infection", "proton pump inhibitor Clostridioides difficile"]
    for query in queries:
        expected = np.asarray(reference.get_scores(tokenize(query)))
        got = retriever.bm25.scores(query)
        np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)
        top, _ = retriever.bm25.search(query, 10)
        ref_top = [i for i in np.argsort(-expected, kind="stable") if expected[i] > 0][:10]
        assert np.allclose(expected[list(top)], expected[ref_top], atol=1e-5)


def test_langchain_adapter_in_an_lcel_chain(demo):
    from langchain_core.prompts import PromptTemplate
    from langchain_core.runnables import RunnableLambda, RunnablePassthrough

    _, retriever = demo
    lc = retriever.as_langchain_retriever(k=3)
    docs = lc.invoke(QUESTION)
    assert docs[0].metadata["doc_id"] == "pubmed:90000002" and docs[0].id
    assert {"title", "page_number", "section", "start", "end", "scores"} <= set(docs[0].metadata)

    def cite(documents):
        return "\n".join(f"[{i + 1}] {d.metadata['title']}: {d.page_content[:80]}"
                         for i, d in enumerate(documents))

    chain = ({"context": lc | RunnableLambda(cite), "question": RunnablePassthrough()}
             | PromptTemplate.from_template("Q: {question}\nSources:\n{context}"))
    prompt = chain.invoke(QUESTION).to_string()
    assert prompt.startswith("Q: Do SGLT2") and "[1] Sodium-glucose" in prompt


def test_search_cli_json(demo, capsys):
    from retriever.cli import main

    settings, _ = demo
    code = main([QUESTION, "--index", str(settings.index_dir), "--no-rerank", "--json", "--k", "3"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0 and len(out["hits"]) == 3 and out["hits"][0]["doc_id"] == "pubmed:90000002"
    assert main(["", "--index", str(settings.index_dir), "--no-rerank"]) == 1

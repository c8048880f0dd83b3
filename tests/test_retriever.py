"""Retriever behaviour on a real (demo) index with the real embedder."""

from __future__ import annotations

import json
import random

import numpy as np
import pytest
from hypothesis import given, settings as hsettings, strategies as st
from langchain_tests.integration_tests import RetrieversIntegrationTests
from rank_bm25 import BM25Okapi

from clinrag.settings import load_settings
from ingest.errors import IndexMismatch
from ingest.pipeline import run
from ingest.store import IndexStore
from ingest.tokenize import tokenize
from retriever.fusion import fuse_rerank, rrf
from retriever.hybrid import QueryError, Retriever
from retriever.langchain import ClinragLangChainRetriever
from retriever.types import Filters, SearchParams
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
    hits = retriever.search(QUESTION, SearchParams(k=5, mode=mode)).hits
    assert hits[0].doc_id == "pubmed:90000002"
    hit = hits[0]
    page = retriever.generation.pages[
        next(c.page_id for c in retriever.generation.chunks if c.chunk_id == hit.chunk_id)].page
    assert page.text[hit.start:hit.end] == hit.text
    assert hit.title and hit.year and hit.journal and hit.publication_types
    assert ("dense" in hit.scores) == (mode != "bm25") and ("bm25" in hit.scores) == (mode != "dense")


def test_hybrid_hits_carry_both_stage_scores(demo):
    _, retriever = demo
    hits = retriever.search(QUESTION, SearchParams(k=3, mode="hybrid")).hits
    assert {"rrf", "dense", "bm25"} <= set(hits[0].scores)
    assert [h.rank for h in hits] == [1, 2, 3]


def test_filters_apply_before_fusion(demo):
    _, retriever = demo

    def search(query: str, filters: Filters):
        return retriever.search(query, SearchParams(k=10, filters=filters)).hits

    hits = search("heart failure", Filters(year_min=2020, year_max=2022))
    assert hits and all(2020 <= h.year <= 2022 for h in hits)
    hits = search("heart failure", Filters(sources=("pdf",)))
    assert hits and all(h.source == "pdf" for h in hits)
    hits = search("trial", Filters(publication_types=("Meta-Analysis",)))
    assert hits and all("Meta-Analysis" in h.publication_types for h in hits)
    hits = search("heart failure", Filters(doc_ids=("pubmed:90000005",)))
    assert {h.doc_id for h in hits} == {"pubmed:90000005"}
    hits = search("omega-3 atrial fibrillation surgery", Filters(exclude_retracted=True))
    assert hits and not any(h.retracted for h in hits)
    assert search("heart failure", Filters(year_min=3000)) == []


def test_per_document_cap_and_depth_are_per_call(demo):
    settings, retriever = demo
    query = "apixaban dose in atrial fibrillation with chronic kidney disease"
    capped = retriever.search(query, SearchParams(k=10)).hits
    counts = {}
    for hit in capped:
        counts[hit.doc_id] = counts.get(hit.doc_id, 0) + 1
    assert max(counts.values()) <= settings.retrieve.max_per_doc
    assert max(counts.values()) > 1          # so the cap of 1 below changes something
    single = retriever.search(query, SearchParams(k=10, max_per_doc=1)).hits
    assert len({h.doc_id for h in single}) == len(single)
    # The call changed nothing for the next one: the configured cap applies again.
    assert [h.chunk_id for h in retriever.search(query, SearchParams(k=10)).hits] == \
        [h.chunk_id for h in capped]
    shallow = retriever.search(query, SearchParams(k=3, mode="bm25", depth=3))
    assert len(shallow.hits) <= 3 and shallow.trace.candidates["bm25"] <= 3
    assert retriever.search(query, SearchParams(k=3, mode="bm25")).trace.candidates["bm25"] > 3


def test_search_params_are_checked():
    for bad in ({"k": 0}, {"depth": -1}, {"max_per_doc": 1.5}, {"k": True}, {"mode": "dens"}):
        with pytest.raises(ValueError, match="search parameter"):
            SearchParams(**bad)


def test_the_trace_is_returned_not_kept(demo):
    _, retriever = demo
    result = retriever.search(QUESTION, SearchParams(k=3, mode="bm25"))
    assert set(result.trace.timings_ms) == {"bm25", "fuse"}
    assert not hasattr(retriever, "trace")


def test_bad_queries_are_refused(demo):
    _, retriever = demo
    with pytest.raises(QueryError):
        retriever.search("   ")
    with pytest.raises(QueryError):
        retriever.search("x" * 5000)
    with pytest.raises(QueryError):
        retriever.search(QUESTION, SearchParams(rerank=True))  # no reranker loaded here


def test_embedder_mismatch_is_a_clear_error(demo, embedder):
    settings, _ = demo
    manifest_path = IndexStore(settings.index_dir).generations_dir / \
        IndexStore(settings.index_dir).current_name() / "manifest.json"
    generation = IndexStore(settings.index_dir).open()
    generation.manifest = json.loads(manifest_path.read_text())
    generation.manifest["embedder"]["revision"] = "sha256:0000000000000000"
    with pytest.raises(IndexMismatch, match="embedded with"):
        Retriever.over(generation, settings, embedder)


def test_bm25_engine_matches_rank_bm25(demo):
    _, retriever = demo
    generation = retriever.generation
    corpus = [tokenize(retriever.store.passage(i)) for i in range(len(generation.chunks))]
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


class TestLangChainStandardRetriever(RetrieversIntegrationTests):
    """LangChain's own standard retriever tests (``langchain-tests``) on the demo index:
    ``k`` in the constructor and per ``invoke`` (before: 10 documents either way), sync and
    async invocation."""

    @pytest.fixture(autouse=True)
    def _demo_retriever(self, demo):
        self._retriever = demo[1]

    @property
    def retriever_constructor(self) -> type[ClinragLangChainRetriever]:
        return ClinragLangChainRetriever

    @property
    def retriever_constructor_params(self) -> dict:
        return {"retriever": self._retriever}

    @property
    def retriever_query_example(self) -> str:
        return QUESTION


def test_langchain_adapter_passes_search_parameters(demo):
    _, retriever = demo
    lc = retriever.as_langchain_retriever(k=5, max_per_doc=1, mode="bm25")
    docs = lc.invoke("heart failure")
    assert len(docs) == 5 and len({d.metadata["doc_id"] for d in docs}) == 5
    assert all("dense" not in d.metadata["scores"] for d in docs)
    narrowed = lc.invoke("heart failure", filters=Filters(doc_ids=("pubmed:90000005",)), k=2,
                         mode="hybrid")
    assert [d.metadata["doc_id"] for d in narrowed] == ["pubmed:90000005"]
    with pytest.raises(ValueError, match="unknown search parameter"):
        retriever.as_langchain_retriever(top_k=3)
    with pytest.raises(ValueError, match="unknown search parameter"):
        lc.invoke("heart failure", top_k=3)


def test_the_hnsw_graph_is_built_at_ingest_and_never_when_an_index_is_opened(
        tmp_path, embedder, monkeypatch):
    """From retrieve.ann_threshold chunks on, ingest stores an HNSW graph with the generation
    (checksummed like every file); opening it builds nothing; an incremental run that only
    adds chunks extends the previous graph; ingest verify names a damaged graph."""
    from ingest import pipeline
    from ingest.cli import main as ingest_main
    from ingest.store import IndexStore
    from ingest.store import dense as dense_store
    from retriever.hybrid import Retriever

    settings = load_settings({"home": tmp_path, "index": tmp_path / "index",
                              "retrieve": {"ann_threshold": 50}})
    builds = []
    real_build = dense_store.build_hnsw
    monkeypatch.setattr(dense_store, "build_hnsw",
                        lambda *a, **k: builds.append(1) or real_build(*a, **k))
    first = pipeline.run([SAMPLE / "pubmed"], settings, embedder=embedder)
    assert builds == [1] and first.timings_s["ann"] >= 0
    second = pipeline.run([SAMPLE / "pubmed", SAMPLE / "pdfs"], settings, embedder=embedder)
    assert builds == [1], "adding chunks extends the stored graph, it does not rebuild it"
    generation = IndexStore(settings.index_dir).open()
    assert generation.name == second.generation
    assert generation.ann is not None and generation.ann.ntotal == len(generation.chunks)
    assert generation.manifest["ann"]["type"] == "hnsw"
    assert dense_store.ANN_FILE in generation.manifest["files"]

    def no_build(*args, **kwargs):
        raise AssertionError("an HNSW graph was built while opening the index")

    monkeypatch.setattr(dense_store, "build_hnsw", no_build)
    retriever = Retriever.open(settings, embedder=embedder, reranker=None)
    assert retriever.view.dense.kind == "hnsw"
    exact = Retriever.over(generation, settings.model_copy(update={
        "retrieve": settings.retrieve.model_copy(update={"ann_threshold": 10**6})}),
        embedder, None)
    query = "Does semaglutide reduce body weight in adults with obesity?"
    params = SearchParams(k=5, mode="dense", rerank=False)
    assert [h.chunk_id for h in retriever.search(query, params).hits] == \
        [h.chunk_id for h in exact.search(query, params).hits]
    # Removing a document rebuilds the graph (HNSW cannot delete), still at ingest.
    monkeypatch.setattr(dense_store, "build_hnsw", real_build)
    pipeline.remove(["pubmed:90000012"], settings)
    smaller = IndexStore(settings.index_dir).open()
    assert smaller.ann.ntotal == len(smaller.chunks) < len(generation.chunks)
    # A flipped byte in the stored graph is caught by its checksum.
    path = smaller.path / dense_store.ANN_FILE
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))
    assert ingest_main(["verify", "--index", str(settings.index_dir)]) == 1

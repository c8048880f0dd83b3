"""Chunking offsets, ids and sizes (property tests) and the BM25 tokenizer."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings, strategies as st
from transformers import AutoTokenizer

from clinrag.models import resolve_model
from clinrag.records import Document, Heading, Page
from clinrag.settings import ChunkSettings
from ingest.chunk import Chunker, index_text, passage_text, token_counter
from ingest.tokenize import TokenizerConfig, tokenize


@pytest.fixture(scope="module")
def tokenizer():
    tok = AutoTokenizer.from_pretrained(str(resolve_model("all-MiniLM-L6-v2")))
    tok.model_max_length = 1 << 30
    return tok


@pytest.fixture(scope="module")
def chunker(tokenizer):
    return Chunker.for_tokenizer(ChunkSettings(size=48, overlap=12), tokenizer)


words = st.sampled_from(["metformin", "lactic", "acidosis", "IL-6", "0.5%", "patients", "CKD.",
                         "randomised;", "trial,", "HbA1c", "ﬁbrosis", "the", "of", "95% CI"])
paragraphs = st.lists(words, min_size=1, max_size=120).map(" ".join)
texts = st.lists(paragraphs, min_size=1, max_size=5).map("\n\n".join)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=texts)
def test_chunk_offsets_map_back_and_sizes_hold(chunker, tokenizer, text):
    page = Page(text=text, number=3, section="Intro", headings=(Heading(0, "Intro"),))
    doc = Document(doc_id="d1", source="text", title="T", pages=(page,))
    pages, chunks = chunker.chunk_document(doc)
    assert chunks, "non-empty text yields chunks"
    for chunk in chunks:
        assert text[chunk.start:chunk.end] == chunk.text
        assert chunk.page_number == 3 and chunk.page_id == pages[0].page_id
        assert len(tokenizer.tokenize(chunk.text)) <= 48
    # Every word of the page is covered by some chunk.
    covered = set()
    for chunk in chunks:
        covered.update(range(chunk.start, chunk.end))
    assert all(i in covered for i, ch in enumerate(text) if not ch.isspace())
    # Ids are content hashes: chunking again gives the same ids.
    assert [c.chunk_id for c in chunker.chunk_document(doc)[1]] == [c.chunk_id for c in chunks]
    assert len({c.row_id for c in chunks}) == len(chunks)


def test_chunk_sections_follow_headings(chunker):
    text = "Intro text here. " * 20 + "\n\nMETHODS: " + "We randomised adults. " * 20
    page = Page(text=text, headings=(Heading(0, "Background"),
                                     Heading(text.index("METHODS"), "Methods")))
    doc = Document(doc_id="d", source="pubmed", title="T", pages=(page,))
    chunks = chunker.chunk_document(doc)[1]
    assert chunks[0].section == "Background" and chunks[-1].section == "Methods"


def test_different_documents_same_text_get_different_ids(chunker):
    page = Page(text="Aspirin reduces fever in adults.")
    a = chunker.chunk_document(Document("a", "text", "A", (page,)))[1]
    b = chunker.chunk_document(Document("b", "text", "B", (page,)))[1]
    assert a[0].chunk_id != b[0].chunk_id


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.one_of(texts, st.text(max_size=400), st.lists(paragraphs, min_size=8, max_size=12)
                      .map(" ".join)))
def test_fast_token_count_equals_tokenize(tokenizer, text):
    count = token_counter(tokenizer)
    assert count(text) == len(tokenizer.tokenize(text))
    assert count(text) == count(text)  # cached


def test_fast_token_count_is_not_truncated(tokenizer):
    # The backend of this tokenizer is configured to truncate at 128 tokens; a truncated count
    # would let an oversized page through as one chunk.
    long_text = "metformin lowers HbA1c " * 300
    assert token_counter(tokenizer)(long_text) == len(tokenizer.tokenize(long_text)) > 1000


def test_index_text_prefixes_real_titles_only(chunker):
    page = Page(text="Metformin lowered HbA1c in adults with type 2 diabetes.")
    chunk = chunker.chunk_document(Document("pubmed:1", "bioasq", "x", (page,)))[1][0]
    on = ChunkSettings(size=48, overlap=12)
    assert index_text(chunk, "Metformin in diabetes", on) == f"Metformin in diabetes\n{page.text}"
    # A made-up title carries no topic: it is neither embedded nor BM25-indexed.
    for title in ("PubMed 12345", "", "  "):
        assert index_text(chunk, title, on) == page.text
    assert index_text(chunk, "PubMed 12345 revisited", on).startswith("PubMed 12345 revisited\n")
    assert index_text(chunk, "Metformin", ChunkSettings(prefix_title=False)) == page.text
    # The trained models keep reading the title line they were trained with.
    assert passage_text(chunk, "PubMed 12345", on) == f"PubMed 12345\n{page.text}"
    assert passage_text(chunk, "", on) == page.text


def test_tokenizer_keeps_biomedical_names_and_numbers():
    tokens = tokenize("IL-6 and SGLT2-inhibitors lowered HbA1c by 0.5% (95% CI 0.3-0.7) in COVID-19.")
    for expected in ("il-6", "il", "6", "sglt2-inhibitors", "sglt2", "inhibitors", "hba1c", "0.5",
                     "covid-19", "covid", "19", "0.3-0.7"):
        assert expected in tokens
    assert "and" not in tokens and "in" not in tokens
    assert "and" in tokenize("and", TokenizerConfig(stopwords=False))
    assert tokenize("ﬁbrosis studies", TokenizerConfig(stem=True)) == ["fibrosis", "study"]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(text=st.one_of(texts, paragraphs, st.text(max_size=300)))
def test_one_chunk_shortcut_gives_what_the_splitter_gives(chunker, text):
    # Pages that fit skip the splitter; the chunks must be exactly the splitter's.
    assert chunker._pieces(text) == chunker._splitter.split_text(text)


def test_one_chunk_shortcut_on_the_demo_corpus(tokenizer):
    from ingest.sources import is_supported, loader_for
    from tests.conftest import SAMPLE

    # At the default 200 tokens no demo page fits in one chunk; at 512 most abstracts do.
    default = Chunker.for_tokenizer(ChunkSettings(size=512, overlap=40), tokenizer)
    files = [p for p in sorted(SAMPLE.rglob("*")) if is_supported(p) and p.name != "README.md"]
    pages = [page for path in files for doc in loader_for(path)(path).documents
             for page in doc.pages]
    assert len(pages) >= 33  # 30 abstracts and the PDF pages
    fitting = 0
    for page in pages:
        fitting += default._count(page.text) <= default.settings.size
        assert default._pieces(page.text) == default._splitter.split_text(page.text)
    assert 0 < fitting < len(pages)  # both paths were exercised

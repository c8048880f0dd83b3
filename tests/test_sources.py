"""Loaders on real files: the shared PDFs and benchmark JSON, and hand-written hostile inputs."""

from __future__ import annotations

import json
from pathlib import Path

import pypdf
import pytest

from ingest.errors import SourceError
from ingest.sources import ParseOptions, loader_for
from ingest.sources.benchmark_json import load_benchmark_json
from ingest.sources.jsonl import load_jsonl
from ingest.sources.pdf import detect_heading, load_pdf, reflow_page
from ingest.sources.pubmed import load_pubmed_xml
from ingest.sources.text import load_text
from tests.conftest import shared

PUBMED_XML = """<?xml version="1.0" ?>
<!DOCTYPE PubmedArticleSet PUBLIC "-//NLM//DTD PubMedArticle, 1st January 2024//EN" "https://dtd.nlm.nih.gov/ncbi/pubmed/out/pubmed_240101.dtd">
<PubmedArticleSet>
<PubmedArticle>
  <MedlineCitation Status="MEDLINE" Owner="NLM">
    <PMID Version="1">31535829</PMID>
    <Article PubModel="Print-Electronic">
      <Journal><Title>The New England journal of medicine</Title>
        <JournalIssue><PubDate><Year>2019</Year><Month>Nov</Month></PubDate></JournalIssue></Journal>
      <ArticleTitle>Dapagliflozin in Patients with Heart Failure and Reduced Ejection Fraction.</ArticleTitle>
      <ELocationID EIdType="doi" ValidYN="Y">10.1056/NEJMoa1911303</ELocationID>
      <Abstract>
        <AbstractText Label="BACKGROUND" NlmCategory="BACKGROUND">In patients with type 2 diabetes, inhibitors of sodium-glucose cotransporter 2 (SGLT2) reduce the risk of a first hospitalization for heart failure.</AbstractText>
        <AbstractText Label="RESULTS" NlmCategory="RESULTS">The primary outcome occurred in 386 of 2373 patients (16.3%) in the dapagliflozin group (hazard ratio, 0.74; 95% CI, 0.65 to 0.85; <i>P</i>&lt;0.001).</AbstractText>
      </Abstract>
      <AuthorList><Author><LastName>McMurray</LastName><ForeName>John J V</ForeName></Author>
        <Author><CollectiveName>DAPA-HF Trial Committees and Investigators</CollectiveName></Author></AuthorList>
      <PublicationTypeList><PublicationType UI="D016449">Randomized Controlled Trial</PublicationType></PublicationTypeList>
    </Article>
    <MeshHeadingList><MeshHeading><DescriptorName UI="D006333">Heart Failure</DescriptorName></MeshHeading></MeshHeadingList>
    <CommentsCorrectionsList><CommentsCorrections RefType="RetractionIn"><RefSource>N Engl J Med. 2099</RefSource></CommentsCorrections></CommentsCorrectionsList>
  </MedlineCitation>
</PubmedArticle>
<PubmedArticle><MedlineCitation><PMID>not-a-number</PMID></MedlineCitation></PubmedArticle>
</PubmedArticleSet>
"""

BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<PubmedArticleSet>&lol3;</PubmedArticleSet>
"""

EXTERNAL_ENTITY = """<?xml version="1.0"?>
<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<PubmedArticleSet><PubmedArticle><MedlineCitation><PMID>1</PMID><Article>
<ArticleTitle>&xxe;</ArticleTitle></Article></MedlineCitation></PubmedArticle></PubmedArticleSet>
"""


def test_pubmed_xml_with_doctype_keeps_clinical_metadata(tmp_path):
    path = tmp_path / "pubmed.xml"
    path.write_text(PUBMED_XML)
    loaded = load_pubmed_xml(path)
    assert [d.doc_id for d in loaded.documents] == ["pubmed:31535829"]
    doc = loaded.documents[0]
    assert doc.title.startswith("Dapagliflozin in Patients")
    assert (doc.journal, doc.year, doc.doi) == ("The New England journal of medicine", 2019,
                                                "10.1056/nejmoa1911303")
    assert doc.authors == ("McMurray John J V", "DAPA-HF Trial Committees and Investigators")
    assert doc.publication_types == ("Randomized Controlled Trial",)
    assert doc.mesh_terms == ("Heart Failure",)
    assert doc.retracted is True
    page = doc.pages[0]
    assert [h.title for h in page.headings] == ["Title", "Background", "Results"]
    results_at = page.text.index("RESULTS:")
    assert page.section_at(results_at + 5) == "Results"
    assert "P <0.001" in page.text or "P<0.001" in page.text  # inline <i> text kept
    # The malformed second article is refused on its own, with a reason.
    assert len(loaded.rejected) == 1 and "PMID" in loaded.rejected[0].message


@pytest.mark.parametrize("payload", [BILLION_LAUGHS, EXTERNAL_ENTITY])
def test_pubmed_xml_refuses_entity_attacks(tmp_path, payload):
    path = tmp_path / "evil.xml"
    path.write_text(payload)
    with pytest.raises(SourceError) as err:
        load_pubmed_xml(path)
    assert err.value.category == "unsafe_xml"


def test_sample_corpus_parses():
    xml = Path(__file__).resolve().parent.parent / "data/sample/pubmed/demo_abstracts.xml"
    loaded = load_pubmed_xml(xml)
    assert len(loaded.documents) == 30 and not loaded.rejected
    assert sum(d.retracted for d in loaded.documents) >= 1
    assert all(d.year and d.journal and d.publication_types for d in loaded.documents)


def test_pubmedqa_file_one_document_per_pmid_without_the_conclusion():
    path = shared("pubmedqa", "pqal_train.json")
    raw = json.loads(path.read_text())
    loaded = load_benchmark_json(path)
    assert len(loaded.documents) == len(raw) == 500
    doc = loaded.documents[0]
    record = raw[doc.pmid]
    assert doc.doc_id == f"pubmed:{doc.pmid}"
    assert record["LONG_ANSWER"] not in doc.pages[0].text
    assert record["CONTEXTS"][0] in doc.pages[0].text
    assert doc.extra["final_decision"] == record["final_decision"]


def test_bioasq_golden_snippets_grouped_by_pmid():
    path = shared("bioasq", "Task10BGoldenEnriched", "10B1_golden.json")
    questions = json.loads(path.read_text())["questions"]
    pmids = {s["document"].rsplit("/", 1)[-1] for q in questions for s in q["snippets"]}
    loaded = load_benchmark_json(path)
    assert {d.pmid for d in loaded.documents} == pmids
    assert len({d.doc_id for d in loaded.documents}) == len(loaded.documents)
    # Every gold snippet's text is inside one page of its document.
    by_id = {d.pmid: d for d in loaded.documents}
    for snippet in questions[0]["snippets"]:
        doc = by_id[snippet["document"].rsplit("/", 1)[-1]]
        assert any(" ".join(snippet["text"].split()) in p.text for p in doc.pages)


def test_jsonl_refuses_bad_lines_and_keeps_good_ones(tmp_path):
    path = tmp_path / "records.jsonl"
    path.write_bytes(
        b'{"id": "r1", "title": "Good", "text": "Aspirin lowers fever.", "year": 2020}\n'
        b'{"id": "r2", "title": "Truncated", "text": "cut\n'
        b'{"id": "r3", "text": "bad utf8 \xff\xfe here"}\n'
        b'{"id": "r4", "title": "No text", "text": ""}\n'
        b'{"id": "r5", "text": "Colchicine after myocardial infarction.", "trial": "COLCOT"}\n'
    )
    loaded = load_jsonl(path)
    assert [d.doc_id for d in loaded.documents] == ["r1", "r5"]
    assert loaded.documents[1].extra == {"trial": "COLCOT"}
    assert [r.category for r in loaded.rejected] == ["invalid_json", "invalid_encoding", "no_text"]


def test_markdown_headings_become_sections(tmp_path):
    path = tmp_path / "notes.md"
    path.write_text("# Sepsis bundle\n\nGive antibiotics early.\n\n## Fluids\n\n30 mL/kg crystalloid.\n")
    doc = load_text(path).documents[0]
    assert doc.title == "Sepsis bundle"
    page = doc.pages[0]
    assert page.section_at(page.text.index("30 mL")) == "Fluids"


def test_text_file_that_is_not_utf8_is_refused(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("Fi\xe8vre".encode("latin-1"))
    with pytest.raises(SourceError) as err:
        load_text(path)
    assert err.value.category == "invalid_encoding"


def test_real_pdf_pages_title_doi_sections_and_ligatures():
    path = shared("pdfs", "10.1128%2Fjb.00479-21.pdf")
    doc = load_pdf(path).documents[0]
    assert doc.doi == "10.1128/jb.00479-21"
    assert doc.title.startswith("CsrA-Controlled Proteins Reveal New Dimensions")
    assert [p.number for p in doc.pages] == list(range(1, 13))
    text = " ".join(p.text for p in doc.pages)
    assert "\ufb01" not in text and "identified" in text  # NFKC folded the "fi" ligature
    sections = {h.title for p in doc.pages for h in p.headings}
    assert {"Results", "Discussion", "References"} <= sections
    assert all(p.extractor == "pypdf" for p in doc.pages)


def test_pdf_fallback_extractor_recorded_when_pypdf_finds_no_text(tmp_path, monkeypatch):
    source = shared("pdfs", "10.1128%2Fjb.00479-21.pdf")
    original = pypdf.PageObject.extract_text

    def flaky(self, *args, **kwargs):  # pypdf fails on page 2 of this file
        if self.page_number == 1:
            raise ValueError("broken content stream")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(pypdf.PageObject, "extract_text", flaky)
    doc = load_pdf(source).documents[0]
    assert doc.pages[1].extractor == "pypdfium2" and len(doc.pages[1].text) > 500
    assert doc.pages[0].extractor == "pypdf"


def test_encrypted_pdf_is_reported_as_encrypted(tmp_path):
    writer = pypdf.PdfWriter(clone_from=str(shared("pdfs", "10.1128%2Fjb.00479-21.pdf")))
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="RC4-128")
    path = tmp_path / "locked.pdf"
    with path.open("wb") as handle:
        writer.write(handle)
    with pytest.raises(SourceError) as err:
        load_pdf(path)
    assert err.value.category == "encrypted"


def test_truncated_and_fake_pdfs_are_parse_errors(tmp_path):
    real = shared("pdfs", "10.1128%2Fjb.00479-21.pdf").read_bytes()
    (tmp_path / "truncated.pdf").write_bytes(real[: len(real) // 50])
    (tmp_path / "fake.pdf").write_bytes(b"<html>not a pdf</html>")
    for name in ("truncated.pdf", "fake.pdf"):
        with pytest.raises(SourceError) as err:
            load_pdf(tmp_path / name)
        assert err.value.category in ("parse_error", "no_text"), name


def test_reflow_joins_lines_dehyphenates_and_marks_headings():
    raw = ("2 Methods\nWe enrolled patients with chronic kid-\nney disease who were\n"
           "treated with metformin for at least one year before the study.\nShort end.\n"
           "3. Results\nLactic acidosis was rare.")
    text, headings = reflow_page(raw)
    assert "chronic kidney disease who were treated" in text
    assert [h.title for h in headings] == ["2 Methods", "3 Results"]
    assert text[headings[1].offset:].startswith("3. Results")
    assert detect_heading("1 Department of Biology, Tufts University, Medford, MA") is None


def test_loader_dispatch_refuses_unknown_types(tmp_path):
    with pytest.raises(SourceError) as err:
        loader_for(tmp_path / "slides.pptx")
    assert err.value.category == "unsupported"


def _words(text: str) -> set[str]:
    return {w.lower() for w in text.split() if w.isalpha()}


@pytest.mark.parametrize("name", ["10.1128%2Fjb.00479-21.pdf", "10.1038%2Fs41467-024-44806-1.pdf"])
def test_pdfium_first_reads_real_papers_as_pypdf_does(name):
    path = shared("pdfs", name)
    by_pypdf = load_pdf(path).documents[0]
    by_pdfium = load_pdf(path, extractor="pypdfium2").documents[0]
    assert all(p.extractor == "pypdfium2" for p in by_pdfium.pages)
    assert [p.number for p in by_pdfium.pages] == [p.number for p in by_pypdf.pages]
    assert (by_pdfium.title, by_pdfium.doi) == (by_pypdf.title, by_pypdf.doi)
    for a, b in zip(by_pypdf.pages, by_pdfium.pages):
        wa, wb = _words(a.text), _words(b.text)
        assert len(wa & wb) / len(wa | wb) > 0.9, (a.number, len(wa), len(wb))
        assert "\ufb01" not in b.text
    headings = [[h.title for h in p.headings] for p in by_pdfium.pages]
    assert headings == [[h.title for h in p.headings] for p in by_pypdf.pages]
    assert any(headings)


def test_pdfium_first_falls_back_to_pypdf_for_a_page_without_text(monkeypatch):
    import ingest.sources.pdf as pdf_module

    real = pdf_module._pdfium_all

    def second_page_blank(data, why):
        texts, extractors, metadata = real(data, why)
        texts[1], extractors[1] = "", "none"
        return texts, extractors, metadata

    monkeypatch.setattr(pdf_module, "_pdfium_all", second_page_blank)
    doc = load_pdf(shared("pdfs", "10.1128%2Fjb.00479-21.pdf"), extractor="pypdfium2").documents[0]
    assert doc.pages[1].extractor == "pypdf" and len(doc.pages[1].text) > 500
    assert doc.pages[0].extractor == doc.pages[2].extractor == "pypdfium2"
    assert doc.extra["extractors"] == ["pypdf", "pypdfium2"]


def test_pdfium_first_still_reports_broken_and_locked_files(tmp_path):
    real = shared("pdfs", "10.1128%2Fjb.00479-21.pdf").read_bytes()
    (tmp_path / "fake.pdf").write_bytes(b"<html>not a pdf</html>")
    (tmp_path / "truncated.pdf").write_bytes(real[: len(real) // 50])
    for name in ("fake.pdf", "truncated.pdf"):
        with pytest.raises(SourceError) as err:
            load_pdf(tmp_path / name, extractor="pypdfium2")
        assert err.value.category in ("parse_error", "no_text"), name
    writer = pypdf.PdfWriter(clone_from=str(shared("pdfs", "10.1128%2Fjb.00479-21.pdf")))
    writer.encrypt(user_password="secret", owner_password="owner", algorithm="RC4-128")
    with (tmp_path / "locked.pdf").open("wb") as handle:
        writer.write(handle)
    with pytest.raises(SourceError) as err:
        load_pdf(tmp_path / "locked.pdf", extractor="pypdfium2")
    assert err.value.category == "encrypted"
    with pytest.raises(ValueError, match="unknown PDF extractor"):
        load_pdf(tmp_path / "fake.pdf", extractor="pdfminer")


def test_parse_workers_get_the_extractor_setting_from_the_command_line():
    from ingest.cli import build_parser, settings_from
    from ingest.parse_pool import ParsePool

    args = build_parser().parse_args(["run", "x.pdf", "--pdf-extractor", "pypdfium2"])
    settings = settings_from(args)
    assert settings.ingest.pdf_extractor == "pypdfium2"
    path = shared("pdfs", "10.1128%2Fjb.00479-21.pdf")
    options = ParseOptions(pdf_extractor=settings.ingest.pdf_extractor)
    with ParsePool(1, 60, 2048, options) as pool:
        (outcome,) = list(pool.parse([path]))
    assert outcome.error is None
    assert {p.extractor for p in outcome.loaded.documents[0].pages} == {"pypdfium2"}


def test_a_bioasq_url_with_a_trailing_slash_names_the_same_document_everywhere(tmp_path):
    """Ingest, evaluation and training read a BioASQ document URL the same way; before, a
    URL ending in '/' was refused by ingest and accepted by the evaluation."""
    from eval.datasets import load_benchmark
    from retriever.bioasq import load_questions

    url = "http://www.ncbi.nlm.nih.gov/pubmed/23001136/"
    snippet = {"document": url, "text": "Dapagliflozin lowered HbA1c.", "beginSection":
               "abstract", "endSection": "abstract", "offsetInBeginSection": 0,
               "offsetInEndSection": 28}
    question = {"id": "q1", "body": "Does dapagliflozin lower HbA1c?", "type": "yesno",
                "documents": [url, "http://www.ncbi.nlm.nih.gov/pubmed/23001136"],
                "snippets": [snippet], "exact_answer": "yes", "ideal_answer": ["Yes."]}
    path = tmp_path / "bioasq" / "1B1_golden.json"
    path.parent.mkdir()
    path.write_text(json.dumps({"questions": [question]}))
    loaded = load_benchmark_json(path)
    assert not loaded.rejected and [d.doc_id for d in loaded.documents] == ["pubmed:23001136"]
    example = load_benchmark("bioasq", path).examples[0]
    assert example.relevant_doc_ids == ("pubmed:23001136",)
    assert example.gold_snippets[0].doc_id == "pubmed:23001136"
    assert load_questions(path.parent)[0].gold_doc_ids == ("pubmed:23001136",)


def test_evaluation_and_training_read_the_same_bioasq_questions(tmp_path):
    """One walk over the golden files (clinrag/bioasq.py): a question id already read from
    an earlier file (in path order) is skipped by both, and both know each question's
    round."""
    from clinrag.bioasq import BioASQFormatError, read_golden
    from eval.datasets import load_benchmark
    from retriever.bioasq import load_questions

    def question(qid: str, body: str) -> dict:
        return {"id": qid, "body": body, "type": "yesno", "exact_answer": "yes",
                "documents": ["http://www.ncbi.nlm.nih.gov/pubmed/1"], "snippets": []}

    for folder, questions in (("Task9BGoldenEnriched", [question("a", "First?")]),
                              ("Task10BGoldenEnriched", [question("a", "Again?"),
                                                         question("b", "Second?")])):
        (tmp_path / folder).mkdir()
        (tmp_path / folder / "x_golden.json").write_text(json.dumps({"questions": questions}))
    trained = load_questions(tmp_path)
    evaluated = load_benchmark("bioasq", tmp_path).examples
    assert [(q.qid, q.body, q.round) for q in trained] == [("a", "Again?", "10B"),
                                                          ("b", "Second?", "10B")]
    assert [(e.id, e.question) for e in evaluated] == [(q.qid, q.body) for q in trained]
    (tmp_path / "broken.json").write_text(json.dumps({"questions": [{"body": "no id?"}]}))
    with pytest.raises(BioASQFormatError, match="broken.json: question #1: missing field 'id'"):
        read_golden(tmp_path)

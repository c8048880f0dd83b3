"""`ingest run` end to end with the real embedder: incremental, atomic, reported."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pypdf
import pytest

from ingest.cli import main as ingest_main
from ingest.errors import IndexLocked, IndexMismatch
from ingest.pipeline import remove, run
from ingest.report import EXIT_OK, EXIT_PARTIAL
from ingest.store import IndexStore
from tests.conftest import REPO, shared

ABSTRACTS = {
    "metformin.txt": "# Metformin in CKD\n\nMetformin use in patients with chronic kidney disease "
                     "stage 3 was not associated with lactic acidosis in a cohort of 12,000 adults.",
    "sglt2.txt": "# SGLT2 inhibitors\n\nDapagliflozin reduced hospitalisation for heart failure "
                 "(hazard ratio 0.74) in patients with reduced ejection fraction.",
    "colchicine.md": "# Colchicine after MI\n\nLow-dose colchicine lowered ischaemic events after "
                     "myocardial infarction in the COLCOT trial.",
}


def write_corpus(folder: Path, files: dict[str, str] = ABSTRACTS) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (folder / name).write_text(text)
    return folder


def dense_search(generation, embedder, query: str, k: int = 5) -> list[str]:
    vector = embedder.encode([query])
    _, ids = generation.dense.search(vector, k)
    by_row = {c.row_id: c for c in generation.chunks}
    return [by_row[i].text for i in ids[0] if i != -1]


@pytest.fixture(scope="module")
def pdf_index(tmp_path_factory, embedder):
    from clinrag.settings import load_settings

    root = tmp_path_factory.mktemp("pdfidx")
    settings = load_settings({"home": root, "index": root / "index"})
    report = run([shared("pdfs")], settings, embedder=embedder)
    return settings, report


def test_real_pdfs_citations_map_back_to_pages(pdf_index):
    settings, report = pdf_index
    assert report.exit_code == EXIT_OK and report.summary() == {"ok": 8}
    generation = IndexStore(settings.index_dir).open()
    assert len(generation.documents) == 8
    assert generation.dense.ntotal == generation.sparse.rows == len(generation.chunks) > 500
    for chunk in generation.chunks:
        page = generation.pages[chunk.page_id].page
        assert page.text[chunk.start:chunk.end] == chunk.text
        assert chunk.page_number == page.number
    # A citation resolves to the file's real page: the chunk text is on that PDF page.
    doc = next(d for d in generation.documents.values() if d.doi == "10.1128/jb.00479-21")
    chunk = next(c for c in generation.chunks if c.doc_id == doc.doc_id and c.page_number == 4)
    reader = pypdf.PdfReader(shared("pdfs", "10.1128%2Fjb.00479-21.pdf"))
    raw_page = " ".join(reader.pages[3].extract_text().split())
    assert " ".join(chunk.text.split()[:6]).replace("fi", "\ufb01") in raw_page or \
        " ".join(chunk.text.split()[:6]) in raw_page
    assert any(c.section == "Discussion" for c in generation.chunks if c.doc_id == doc.doc_id)


def test_rerun_is_a_no_op(pdf_index, embedder):
    settings, first = pdf_index
    again = run([shared("pdfs")], settings, embedder=embedder)
    assert not again.changed and again.generation == first.generation
    assert again.summary() == {"skipped": 8} and again.exit_code == EXIT_OK
    assert IndexStore(settings.index_dir).names() == [first.generation]


def test_status_json_has_the_documented_keys(pdf_index, capsys):
    settings, report = pdf_index
    assert ingest_main(["status", "--json", "--index", str(settings.index_dir)]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["documents"] == 8 and data["generation"] == report.generation
    assert data["chunks"] == report.counts["chunks"] and data["failed"] == []


def test_edit_replaces_and_delete_removes(tmp_path, make_settings, embedder):
    settings = make_settings()
    corpus = write_corpus(tmp_path / "lib")
    first = run([corpus], settings, embedder=embedder)
    assert first.summary() == {"ok": 3}
    (corpus / "metformin.txt").write_text(
        "# Metformin in CKD\n\nAn updated analysis found vitamin B12 deficiency with long-term "
        "metformin therapy.")
    (corpus / "colchicine.md").unlink()
    second = run([corpus], settings, embedder=embedder)
    statuses = {Path(f.path).name: f.status for f in second.files}
    assert statuses == {"metformin.txt": "ok", "sglt2.txt": "skipped", "colchicine.md": "removed"}
    generation = IndexStore(settings.index_dir).open()
    texts = " ".join(c.text for c in generation.chunks)
    assert "B12" in texts and "lactic acidosis" not in texts and "COLCOT" not in texts
    assert generation.dense.ntotal == generation.sparse.rows == len(generation.chunks) == 2
    # No stale hit: the best dense match for the old claim is not old text.
    hits = dense_search(generation, embedder, "metformin lactic acidosis kidney disease")
    assert all("lactic" not in h for h in hits)
    # BM25 rows of the removed chunk are gone too: no row has the term "colcot" anymore.
    vocab = generation.sparse.vocab
    if "colcot" in vocab:
        assert generation.sparse.tf[:, vocab.index("colcot")].sum() == 0


def test_models_loaded_during_parsing_keep_the_thread_setting(tmp_path, make_settings,
                                                              embedder, monkeypatch):
    # With no embedder given, run() loads the tokenizer and the embedder in a background
    # thread while files parse. Torch's thread count is per calling thread, so a setting
    # applied only in the loader thread would be lost for the encoding in this one.
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(3)
    monkeypatch.setenv("CLINRAG_THREADS", "1")
    try:
        report = run([write_corpus(tmp_path / "lib")], make_settings())
        assert torch.get_num_threads() == 1
    finally:
        torch.set_num_threads(before)
    assert report.summary() == {"ok": 3} and report.counts["chunks"] == 3
    generation = IndexStore(make_settings().index_dir).open()
    assert "Dapagliflozin" in dense_search(generation, embedder, "SGLT2 heart failure")[0]


def test_bad_files_are_reported_and_the_rest_ingested(tmp_path, make_settings, embedder):
    settings = make_settings()
    corpus = write_corpus(tmp_path / "lib")
    real = shared("pdfs", "10.1128%2Fjb.00479-21.pdf")
    writer = pypdf.PdfWriter(clone_from=str(real))
    writer.encrypt(user_password="secret", algorithm="AES-128" if _has_crypto() else "RC4-128")
    with (corpus / "encrypted.pdf").open("wb") as handle:
        writer.write(handle)
    (corpus / "truncated.pdf").write_bytes(real.read_bytes()[:4000])
    (corpus / "slides.pptx").write_bytes(b"PK\x03\x04")
    report = run([corpus], settings, embedder=embedder)
    by_name = {Path(f.path).name: f for f in report.files}
    assert by_name["encrypted.pdf"].status == "failed"
    assert by_name["encrypted.pdf"].category == "encrypted"
    assert by_name["truncated.pdf"].status == "failed"
    assert by_name["truncated.pdf"].category in ("parse_error", "no_text")
    assert by_name["slides.pptx"].status == "skipped"
    assert sum(f.status == "ok" for f in report.files) == 3
    assert report.exit_code == EXIT_PARTIAL
    saved = json.loads((IndexStore(settings.index_dir).root / "generations" / report.generation
                        / "ingest_report.json").read_text())
    assert {"path", "status", "category", "message", "documents", "chunks"} <= set(saved["files"][0])
    # A second run does not retry unchanged failures but still names them.
    again = run([corpus], settings, embedder=embedder)
    assert not again.changed and again.exit_code == EXIT_PARTIAL
    assert {Path(f.path).name for f in again.failed} == {"encrypted.pdf", "truncated.pdf"}


def _has_crypto() -> bool:
    try:
        import cryptography  # noqa: F401
    except ImportError:
        return False
    return True


def test_parse_timeout_is_reported_not_fatal(tmp_path, make_settings, embedder):
    settings = make_settings(ingest={"parse_timeout_s": 0.05, "workers": 1})
    corpus = write_corpus(tmp_path / "lib", {"a.txt": "Aspirin lowers fever."})
    shutil.copy(shared("pdfs", "10.1101%2F2022.03.19.484946.pdf"), corpus / "slow.pdf")
    report = run([corpus], settings, embedder=embedder)
    by_name = {Path(f.path).name: f for f in report.files}
    assert by_name["slow.pdf"].category == "timeout"
    assert by_name["a.txt"].status in ("ok", "failed")  # may also time out on a slow machine
    assert report.exit_code == EXIT_PARTIAL


def test_changed_chunker_refuses_to_mix_and_rebuild_works(tmp_path, make_settings, embedder):
    corpus = write_corpus(tmp_path / "lib")
    run([corpus], make_settings(), embedder=embedder)
    with pytest.raises(IndexMismatch, match="chunker.size"):
        run([corpus], make_settings(chunk={"size": 100}), embedder=embedder)
    rebuilt = run([corpus], make_settings(chunk={"size": 100}), rebuild=True, embedder=embedder)
    assert rebuilt.changed and rebuilt.counts["documents"] == 3
    manifest = IndexStore(make_settings().index_dir).open().manifest
    assert manifest["chunker"]["size"] == 100


def test_index_that_embedded_placeholder_titles_is_refused(make_settings):
    # Indexes built before placeholder titles were dropped from the embedded text have no
    # such key in their manifest; adding new chunks to them would mix two text formats.
    from ingest.pipeline import wanted_manifest
    from ingest.store.manifest import check_compatible

    wanted = wanted_manifest(make_settings(), 384)
    old = json.loads(json.dumps(wanted))
    del old["chunker"]["placeholder_titles"]
    with pytest.raises(IndexMismatch, match="chunker.placeholder_titles.*--rebuild"):
        check_compatible(old, wanted)
    check_compatible(json.loads(json.dumps(wanted)), wanted)


def test_second_writer_is_refused(tmp_path, make_settings, embedder):
    settings = make_settings()
    store = IndexStore(settings.index_dir)
    with store.writer():
        with pytest.raises(IndexLocked):
            run([write_corpus(tmp_path / "lib")], settings, embedder=embedder)


def test_remove_by_path_and_by_document_id(tmp_path, make_settings, embedder):
    settings = make_settings()
    corpus = write_corpus(tmp_path / "lib")
    run([corpus], settings, embedder=embedder)
    remove([str(corpus / "sglt2.txt")], settings)
    generation = IndexStore(settings.index_dir).open()
    assert "Dapagliflozin" not in " ".join(c.text for c in generation.chunks)
    doc_id = next(d for d, m in generation.documents.items() if m.title == "Colchicine after MI")
    remove([doc_id], settings)
    generation = IndexStore(settings.index_dir).open()
    assert doc_id not in generation.documents and len(generation.documents) == 1
    # Excluded documents stay out on the next run over the same folder.
    again = run([corpus], settings, embedder=embedder)
    assert doc_id not in IndexStore(settings.index_dir).open().documents
    assert {Path(f.path).name for f in again.files if f.status == "ok"} == {"sglt2.txt"}


def test_bioasq_golden_file_ingests_one_document_per_pmid(bioasq_index, embedder):
    settings, path, report = bioasq_index
    questions = json.loads(path.read_text())["questions"]
    pmids = {s["document"].rsplit("/", 1)[-1] for q in questions for s in q["snippets"]}
    generation = IndexStore(settings.index_dir).open()
    assert {d.pmid for d in generation.documents.values()} == pmids
    assert report.exit_code == EXIT_OK
    # The gold snippet of the first question is findable by dense search on its question.
    gold = {s["document"].rsplit("/", 1)[-1] for s in questions[0]["snippets"]}
    vector = embedder.encode([questions[0]["body"]])
    _, ids = generation.dense.search(vector, 10)
    by_row = {c.row_id: c for c in generation.chunks}
    hit_pmids = {generation.documents[by_row[i].doc_id].pmid for i in ids[0]}
    assert hit_pmids & gold


KILL_POINTS = ["parsed-one", "embedded", "tables-half-written", "indexes-written",
               "manifest-written", "renamed"]


@pytest.mark.parametrize("kill_at", KILL_POINTS)
def test_sigkill_mid_run_keeps_old_generation_and_next_run_completes(
        tmp_path, make_settings, embedder, kill_at):
    settings = make_settings()
    corpus = write_corpus(tmp_path / "lib", dict(list(ABSTRACTS.items())[:2]))
    first = run([corpus], settings, embedder=embedder)
    # New and edited files, then a writer killed with SIGKILL at `kill_at`.
    (corpus / "colchicine.md").write_text(ABSTRACTS["colchicine.md"])
    (corpus / "sglt2.txt").write_text(ABSTRACTS["sglt2.txt"] + " Benefit was seen with and "
                                      "without diabetes.")
    env = dict(os.environ, PYTHONPATH=str(REPO))
    proc = subprocess.run([sys.executable, "-m", "ingest.store.faults", kill_at, "run",
                           str(corpus), "--index", str(settings.index_dir), "--quiet"],
                          env=env, capture_output=True, timeout=300)
    assert proc.returncode == -9, proc.stderr.decode()[-2000:]
    store = IndexStore(settings.index_dir)
    assert store.current_name() == first.generation
    assert store.verify() == []
    assert len(store.open().documents) == 2
    resumed = run([corpus], settings, embedder=embedder)
    reference = make_settings(index=tmp_path / "reference")
    run([corpus], reference, embedder=embedder)
    got = {c.chunk_id for c in store.open().chunks}
    want = {c.chunk_id for c in IndexStore(reference.index_dir).open().chunks}
    assert got == want and resumed.generation != first.generation
    assert store.names()[-1] == resumed.generation
    assert not any((store.root / "staging").glob("*"))  # the killed run's leftovers are gone


def test_bit_flip_is_detected_and_previous_generation_served(tmp_path, make_settings, embedder):
    settings = make_settings()
    corpus = write_corpus(tmp_path / "lib")
    first = run([corpus], settings, embedder=embedder)
    (corpus / "extra.txt").write_text("Zinc lozenges shortened common cold duration.")
    second = run([corpus], settings, embedder=embedder)
    store = IndexStore(settings.index_dir)
    target = store.generations_dir / second.generation / "dense.faiss"
    data = bytearray(target.read_bytes())
    data[len(data) // 2] ^= 0x01
    target.write_bytes(bytes(data))
    problems = store.verify()
    assert problems and "dense.faiss" in problems[0]
    assert ingest_main(["verify", "--index", str(settings.index_dir)]) == 1
    assert store.open().name == first.generation  # falls back to the last good generation
    good = store.open(first.generation)
    vector = good.dense.reconstruct(int(good.chunks[0].row_id))  # IDMap2: keys are row ids
    assert vector.shape == (384,) and abs(float(np.linalg.norm(vector)) - 1.0) < 1e-3

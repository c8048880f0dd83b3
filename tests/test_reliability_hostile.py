"""Hostile inputs: fuzzed and known-bad PDFs, XML/JSON/encoding attacks, and path tricks.

Rule for paths (``ingest.scan``): folders are walked without following directory symlinks; a
symlinked file is ingested only if it resolves inside the folder given on the command line
(else ``symlink_escape``); symlink loops are ``unreadable``; FIFOs, devices and sockets are
refused before anything opens them. Nothing is ever written outside the index folder.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
from collections import Counter
from pathlib import Path

import pytest

from bench.fuzz_pdfs import known_bad, make_fuzz_corpus, parse_all
from ingest.pipeline import run
from ingest.report import EXIT_PARTIAL
from ingest.store import IndexStore
from tests.conftest import SAMPLE

CATEGORIES = {"ok", "parse_error", "no_text", "encrypted", "timeout", "memory", "crashed"}
SECRET = "TOPSECRET-OUTSIDE-THE-CORPUS"


@pytest.mark.slow
def test_fuzzed_pdfs_never_crash_the_parser_stage(tmp_path):
    made = make_fuzz_corpus(tmp_path / "fuzz", files=300, seed=2, include_big=False)
    results = parse_all(sorted((tmp_path / "fuzz").iterdir()), workers=2, timeout_s=15)
    assert set(results) == set(made)  # one outcome per file, none lost
    counts = Counter(r["category"] for r in results.values())
    assert set(counts) <= CATEGORIES, counts
    assert counts["ok"] >= 50 and counts["parse_error"] >= 20, counts
    for name, result in results.items():
        if result["category"] != "ok":
            assert result["message"], name  # every failure says why


BILLION_LAUGHS = """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
<!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">]>
<PubmedArticleSet><PubmedArticle><MedlineCitation><PMID>1</PMID><Article>
<ArticleTitle>&lol4;</ArticleTitle></Article></MedlineCitation></PubmedArticle></PubmedArticleSet>
"""


def _xxe(target: Path) -> str:
    return f"""<?xml version="1.0"?>
<!DOCTYPE PubmedArticleSet [<!ENTITY leak SYSTEM "file://{target}">]>
<PubmedArticleSet><PubmedArticle><MedlineCitation><PMID>2</PMID><Article>
<ArticleTitle>Leak &leak;</ArticleTitle></Article></MedlineCitation></PubmedArticle>
</PubmedArticleSet>
"""


def _jsonl_with_bad_records() -> bytes:
    good = [{"id": "ok-1", "title": "Iron dosing", "text": "Alternate-day oral iron improved "
             "fractional absorption in iron-deficient women."},
            {"id": "../../../../tmp/escape", "title": "Traversal id", "text": "A record whose "
             "id looks like a path is only an id."},
            {"id": "ok-2", "title": "Vitamin D", "text": "Vitamin D supplementation did not "
             "prevent fractures in community-dwelling adults."}]
    lines = [json.dumps(good[0]).encode(),
             b'{"id": "bad-utf8", "text": "caf\xe9 \xff"}',
             b'{"id": "cut", "text": "Statins red',
             json.dumps(good[1]).encode(),
             b"[" * 100_000 + b"]" * 100_000,
             b'"just a string"',
             json.dumps(good[2]).encode()]
    return b"\n".join(lines) + b"\n"


def _snapshot(root: Path, skip: Path) -> dict[str, int]:
    out = {}
    for folder, dirs, files in os.walk(root, followlinks=False):
        if Path(folder) == skip or skip in Path(folder).parents:
            continue
        for name in files + dirs:
            path = Path(folder) / name
            if path == skip:
                continue
            out[str(path)] = path.lstat().st_size if not path.is_dir() else -1
    return out


@pytest.mark.slow
def test_hostile_records_and_paths_are_refused_and_real_files_ingested(
        tmp_path, make_settings, embedder):
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "secret.txt").write_text(f"{SECRET} patient list\n")
    (outside / "nested").mkdir()
    (outside / "nested" / "also_secret.txt").write_text(f"{SECRET} nested\n")
    # Real files that must still be ingested.
    shutil.copy(SAMPLE / "pubmed" / "demo_abstracts.xml", corpus)
    shutil.copy(SAMPLE / "pdfs" / "demo_af_anticoagulation_ckd.pdf", corpus)
    (corpus / "notes.md").write_text("# Warfarin\n\nWarfarin dosing follows the INR target.\n")
    (corpus / "odd name ü\u202e.txt").write_text("Odd file names are only names: aspirin.\n")
    # XML attacks.
    (corpus / "billion_laughs.xml").write_text(BILLION_LAUGHS)
    (corpus / "xxe.xml").write_text(_xxe(outside / "secret.txt"))
    (corpus / "gzip_bomb_named.xml").write_bytes(gzip.compress(b"\0" * (50 << 20)))
    # Compressed inputs are not accepted at all.
    (corpus / "abstracts.xml.gz").write_bytes(gzip.compress(BILLION_LAUGHS.encode()))
    (corpus / "bomb.gz").write_bytes(gzip.compress(b"\0" * (10 << 20)))
    # Encoding and JSON.
    (corpus / "latin1.txt").write_bytes("Paracetamol f\xfcr Kinder.\n".encode("latin-1"))
    (corpus / "truncated.json").write_bytes(b'[{"id": "x", "text": "Metformin and lac')
    (corpus / "deep.json").write_bytes(b"[" * 200_000 + b"]" * 200_000)
    (corpus / "records.jsonl").write_bytes(_jsonl_with_bad_records())
    # Known-bad PDFs (small bomb: the parser's memory limit is lowered to match).
    for name, (data, _) in known_bad(bomb_mb=768).items():
        (corpus / name).write_bytes(data)
    # Paths: symlinks out of the corpus, a loop, a FIFO.
    (corpus / "link_out.txt").symlink_to(outside / "secret.txt")
    (corpus / "dir_link").symlink_to(outside / "nested", target_is_directory=True)
    (corpus / "loop_a.txt").symlink_to(corpus / "loop_b.txt")
    (corpus / "loop_b.txt").symlink_to(corpus / "loop_a.txt")
    (corpus / "inside_link.md").symlink_to(corpus / "notes.md")  # inside: same file, once
    os.mkfifo(corpus / "pipe.txt")

    settings = make_settings(ingest={"parse_memory_mb": 1024, "parse_timeout_s": 30})
    before = _snapshot(tmp_path, settings.index_dir)
    report = run([corpus], settings, embedder=embedder)
    after = _snapshot(tmp_path, settings.index_dir)
    assert after == before, "something was written outside the index folder"

    by_name = {Path(f.path).name: f for f in report.files}
    expected = {
        "billion_laughs.xml": ("failed", "unsafe_xml"),
        "xxe.xml": ("failed", "unsafe_xml"),
        "gzip_bomb_named.xml": ("failed", "parse_error"),
        "abstracts.xml.gz": ("skipped", "unsupported"),
        "bomb.gz": ("skipped", "unsupported"),
        "latin1.txt": ("failed", "invalid_encoding"),
        "truncated.json": ("failed", "invalid_json"),
        "deep.json": ("failed", "parse_error"),
        "link_out.txt": ("failed", "symlink_escape"),
        "loop_a.txt": ("failed", "unreadable"),
        "loop_b.txt": ("failed", "unreadable"),
        "pipe.txt": ("skipped", "unsupported"),
        "demo_abstracts.xml": ("ok", None),
        "demo_af_anticoagulation_ckd.pdf": ("ok", None),
        "notes.md": ("ok", None),
        "odd name ü\u202e.txt": ("ok", None),
        "records.jsonl": ("ok", None),
    }
    for name, (status, category) in expected.items():
        assert (by_name[name].status, by_name[name].category) == (status, category), \
            (name, by_name[name])
        if status != "ok":
            assert by_name[name].message, name
    for name, (_, allowed) in known_bad(bomb_mb=1).items():
        got = by_name[name]
        assert (got.category or "ok") in allowed, (name, got)
        assert got.status in ("ok", "failed") and (got.status == "ok" or got.message)
    assert by_name["good_control.pdf"].status == "ok"
    assert by_name["encrypted_owner_only.pdf"].status == "ok"
    assert "inside_link.md" not in by_name  # resolves to notes.md, ingested once
    # The symlinked directory was not walked: nothing from it anywhere.
    assert not any("also_secret" in f.path for f in report.files)

    # Per-record refusals inside the JSONL, each with its reason; good records ingested.
    rejected = {r["record"]: r["category"] for r in by_name["records.jsonl"].rejected}
    assert rejected == {"line 2": "invalid_encoding", "line 3": "invalid_json",
                        "line 5": "parse_error", "line 6": "parse_error"}, rejected
    assert by_name["records.jsonl"].documents == 3
    assert report.exit_code == EXIT_PARTIAL

    generation = IndexStore(settings.index_dir).open()
    text = " ".join(c.text for c in generation.chunks)
    assert SECRET not in text and "lollol" not in text
    assert "../../../../tmp/escape" in generation.documents  # an id, never a path
    assert not (tmp_path.parent / "escape").exists() and not Path("/tmp/escape").exists()
    assert {"Warfarin", "aspirin", "Alternate-day"} <= {w for w in text.replace(".", " ").split()}

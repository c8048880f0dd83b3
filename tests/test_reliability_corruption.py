"""Corruption: every file of a generation truncated and bit-flipped in turn is detected (at
load and by ``ingest verify``, with the file named) and readers fall back to the previous
good generation; a damaged ``CURRENT`` loses nothing."""

from __future__ import annotations

import logging
import random
import shutil
from pathlib import Path

import pytest

from ingest.cli import main as ingest_main
from ingest.errors import IndexCorrupt
from ingest.pipeline import run
from ingest.store import IndexStore
from ingest.store.generation import DATA_FILES, SEAL
from tests.test_ingest_pipeline import ABSTRACTS, write_corpus

GENERATION_FILES = ("manifest.json", SEAL, *DATA_FILES)


def build_two_generations(root: Path, embedder):
    """A small index with two generations (the second adds a document)."""
    from clinrag.settings import load_settings

    settings = load_settings({"home": root / "home", "index": root / "index"})
    corpus = write_corpus(root / "lib", ABSTRACTS)
    first = run([corpus], settings, embedder=embedder)
    (corpus / "zinc.txt").write_text("Zinc lozenges shortened common cold duration by a day.")
    second = run([corpus], settings, embedder=embedder)
    return settings, corpus, first.generation, second.generation


@pytest.fixture(scope="module")
def two_generations(tmp_path_factory, embedder):
    return build_two_generations(tmp_path_factory.mktemp("corrupt"), embedder)


def _damage(data: bytes, how: str, rng: random.Random) -> bytes:
    if how == "empty":
        return b""
    if how == "truncate-half":
        return data[: len(data) // 2]
    if how == "truncate-last-byte":
        return data[:-1]
    position = {"flip-first": 0, "flip-last": len(data) - 1,
                "flip-middle": len(data) // 2}.get(how, rng.randrange(len(data)))
    damaged = bytearray(data)
    damaged[position] ^= 1 << rng.randrange(8)
    return bytes(damaged)


DAMAGES = ["empty", "truncate-half", "truncate-last-byte", "flip-first", "flip-middle",
           "flip-last", "flip-random-1", "flip-random-2", "flip-random-3"]


def test_every_truncation_and_bit_flip_is_detected_and_falls_back(two_generations, caplog,
                                                                   capsys):
    settings, _, first, second = two_generations
    store = IndexStore(settings.index_dir)
    folder = store.generations_dir / second
    rng = random.Random(11)
    cases = detected = fell_back = 0
    for file_name in GENERATION_FILES:
        path = folder / file_name
        original = path.read_bytes()
        for how in DAMAGES:
            path.write_bytes(_damage(original, how, rng))
            try:
                cases += 1
                problems = store.verify()
                if problems and (file_name in problems[0] or "manifest.json" in problems[0]):
                    detected += 1
                else:
                    pytest.fail(f"{how} of {file_name} not detected: {problems}")
                with pytest.raises(IndexCorrupt):
                    store.open(fallback=False)
                caplog.clear()
                with caplog.at_level(logging.ERROR, logger="ingest.store.generation"):
                    generation = store.open()
                assert generation.name == first
                assert second in caplog.text and "serving previous generation" in caplog.text
                fell_back += 1
                if how == "flip-middle":
                    assert ingest_main(["verify", "--index", str(settings.index_dir)]) == 1
                    assert f"BROKEN {second}" in capsys.readouterr().out
            finally:
                path.write_bytes(original)
        assert store.verify() == []
    assert cases == detected == fell_back == len(GENERATION_FILES) * len(DAMAGES)


def test_a_missing_file_is_named(two_generations):
    settings, _, first, second = two_generations
    store = IndexStore(settings.index_dir)
    path = store.generations_dir / second / "bm25_vocab.json"
    saved = path.read_bytes()
    path.unlink()
    try:
        assert "bm25_vocab.json is missing" in store.verify()[0]
        assert store.open().name == first
    finally:
        path.write_bytes(saved)


@pytest.fixture
def index_copy(two_generations, tmp_path):
    """A private copy of the module's two-generation index (its sources stay shared)."""
    settings, corpus, first, second = two_generations
    from clinrag.settings import load_settings

    shutil.copytree(settings.index_dir, tmp_path / "index")
    copy = load_settings({"home": tmp_path / "home", "index": tmp_path / "index"})
    return copy, first, second


@pytest.mark.parametrize("content", [b"", b"g00000\n", b"\xff\xfe garbage", b"../../etc\n"])
def test_damaged_current_pointer_falls_back_and_a_writer_deletes_nothing(
        index_copy, embedder, tmp_path, content):
    settings, first, second = index_copy
    store = IndexStore(settings.index_dir)
    (store.root / "CURRENT").write_bytes(content)
    assert store.verify() and "no CURRENT generation" in store.verify()[0]
    assert store.open().name == second  # the newest generation that verifies
    if content != b"":
        return  # one writer run is enough to show the repair
    # A writer must not take an unreadable CURRENT for "no generation was ever live" and
    # delete the generations; it builds on the newest good one and repairs the pointer.
    more = write_corpus(tmp_path / "more", {"iron.txt": "Oral iron every other day improved "
                                                        "absorption in iron deficiency."})
    report = run([more], settings, embedder=embedder)
    assert report.previous_generation == second and store.current_name() == report.generation
    assert {first, second} <= set(store.names())
    assert store.verify() == []


def test_older_generation_corrupt_too_names_the_error(index_copy, two_generations):
    settings, first, second = index_copy
    store = IndexStore(settings.index_dir)
    for name in (first, second):
        (store.generations_dir / name / "chunks.jsonl").write_bytes(b"{}\n")
    with pytest.raises(IndexCorrupt, match="chunks.jsonl"):
        store.open()
    assert ingest_main(["verify", "--all", "--index", str(settings.index_dir)]) == 1
    # A writer refuses to build on it (exit 1, nothing committed) rather than guess.
    assert ingest_main(["run", str(two_generations[1]), "--index", str(settings.index_dir),
                        "--quiet"]) == 1
    assert store.names() == [first, second]


def test_corrupt_manifest_structure_is_a_named_error_not_a_crash(index_copy):
    # An attacker (or a bad disk) that also rewrites the seal: the manifest must still be
    # rejected with IndexCorrupt, never a KeyError/AttributeError from deep inside the loader.
    from ingest.store.files import sha256_file

    settings, first, second = index_copy
    store = IndexStore(settings.index_dir)
    folder = store.generations_dir / second
    for text in ("[]", '{"format": 1}', '{"format": 1, "files": {}}', "3",
                 '{"format": 1, "files": {"documents.jsonl": 7}}'):
        (folder / "manifest.json").write_text(text)
        (folder / SEAL).write_text(sha256_file(folder / "manifest.json") + "\n")
        with pytest.raises(IndexCorrupt):
            store.open(fallback=False)
        assert store.open().name == first

"""Concurrency: 8 reader threads search (hybrid, no rerank), reopening whenever CURRENT moves,
through a full re-index and 3 generation swaps: no errors, every response from exactly one
generation; a second writer is refused within a second."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import threading
import time

import pytest

from ingest.errors import IndexLocked
from ingest.pipeline import run
from ingest.store import IndexStore
from retriever.hybrid import Retriever
from retriever.types import SearchParams
from tests.conftest import REPO, SAMPLE
from tests.test_ingest_pipeline import ABSTRACTS, write_corpus

QUERIES = ["metformin kidney disease lactic acidosis", "SGLT2 heart failure hospitalisation",
           "colchicine myocardial infarction", "anticoagulation atrial fibrillation",
           "influenza vaccine cardiovascular events", "low back pain physiotherapy",
           "zinc common cold", "vitamin D fractures"]
READERS = 8


@pytest.mark.slow
def test_readers_see_exactly_one_generation_through_reindex_and_swaps(
        tmp_path, make_settings, embedder):
    settings = make_settings(ingest={"workers": 1, "lock_wait_s": 60},
                             retrieve={"rerank": False})
    corpus = write_corpus(tmp_path / "lib", ABSTRACTS)
    shutil.copy(SAMPLE / "pubmed" / "demo_abstracts.xml", corpus)
    first = run([corpus], settings, embedder=embedder)
    store = IndexStore(settings.index_dir)
    tables: dict[str, dict[str, str]] = {}  # generation -> chunk id -> text

    def record(name: str) -> None:
        tables[name] = {c.chunk_id: c.text for c in store.open(name).chunks}

    record(first.generation)
    stop = threading.Event()
    errors: list[str] = []
    responses: list[tuple[str, list[tuple[str, str]]]] = []
    reopened = [0] * READERS

    def reader(slot: int) -> None:
        try:
            retriever = Retriever.open(settings, embedder=embedder, reranker=None)
        except Exception as exc:  # noqa: BLE001 - any failure is the finding
            errors.append(f"open: {exc!r}")
            return
        n = slot
        while not stop.is_set():
            try:
                if store.current_name() != retriever.generation.name:
                    retriever = Retriever.open(settings, embedder=embedder, reranker=None)
                    reopened[slot] += 1
                params = SearchParams(k=5, mode="hybrid", rerank=False)
                hits = retriever.search(QUERIES[n % len(QUERIES)], params).hits
                responses.append((retriever.generation.name,
                                  [(h.chunk_id, h.text) for h in hits]))
            except Exception as exc:  # noqa: BLE001
                errors.append(repr(exc))
            n += 1

    refusals: list[float] = []

    def writer() -> None:
        steps = [
            lambda: (corpus / "zinc.txt").write_text("Zinc lozenges shortened colds."),
            lambda: (corpus / "metformin.txt").write_text(
                "# Metformin\n\nLong-term metformin lowered vitamin B12 levels."),
            lambda: (corpus / "sglt2.txt").unlink(),
            lambda: (corpus / "vitd.txt").write_text("Vitamin D did not prevent fractures."),
        ]
        for number, step in enumerate(steps):
            step()
            # The first update is a full re-index (--rebuild); then 3 incremental swaps.
            report = run([corpus], settings, rebuild=number == 0, embedder=embedder)
            record(report.generation)

    threads = [threading.Thread(target=reader, args=(i,)) for i in range(READERS)]
    for thread in threads:
        thread.start()
    time.sleep(1.0)
    write = threading.Thread(target=writer)
    write.start()
    while write.is_alive():
        # Probe the lock while the writer works: refused, and fast.
        start = time.monotonic()
        try:
            with store.writer(wait_s=0):
                pass
        except IndexLocked:
            refusals.append(time.monotonic() - start)
        time.sleep(0.05)
    write.join()
    time.sleep(1.0)  # let every reader notice the last swap
    stop.set()
    for thread in threads:
        thread.join(timeout=60)

    assert errors == []
    assert len(tables) == 5 and len(set(map(frozenset, tables.values()))) == 5
    seen = {name for name, _ in responses}
    assert len(seen) >= 4 and max(tables) in seen
    mixed = 0
    for name, hits in responses:
        assert hits
        table = tables[name]
        if any(table.get(chunk_id) != text for chunk_id, text in hits):
            mixed += 1
    assert mixed == 0
    assert len(responses) >= 8 * READERS and min(reopened) >= 1
    assert refusals and max(refusals) < 1.0
    print(f"{len(responses)} responses from {len(seen)} generations, {sum(reopened)} reopens, "
          f"{len(refusals)} lock probes refused in at most {max(refusals) * 1000:.1f} ms")


def test_a_second_writer_process_is_refused_within_a_second(tmp_path, make_settings):
    settings = make_settings()
    corpus = write_corpus(tmp_path / "lib", {"a.txt": "Aspirin lowers fever."})
    store = IndexStore(settings.index_dir)
    env = dict(os.environ, PYTHONPATH=str(REPO))
    probe = ("import sys, time; from pathlib import Path; from ingest.store import IndexStore;"
             "from ingest.errors import IndexLocked; store = IndexStore(Path(sys.argv[1]));"
             "t = time.monotonic()\ntry:\n  with store.writer(): sys.exit(9)\n"
             "except IndexLocked as e:\n  print(time.monotonic() - t); print(e)")
    with store.writer():
        proc = subprocess.run([sys.executable, "-c", probe, str(settings.index_dir)],
                              env=env, capture_output=True, text=True, timeout=60)
        assert proc.returncode == 0, proc.stderr
        seconds, message = proc.stdout.splitlines()[:2]
        assert float(seconds) < 1.0 and "one writer at a time" in message
        cli = subprocess.run([sys.executable, "-m", "ingest.cli", "run", str(corpus),
                              "--index", str(settings.index_dir), "--quiet"], env=env,
                             capture_output=True, text=True, timeout=120)
        assert cli.returncode == 1 and "one writer at a time" in cli.stderr
    assert not store.exists()  # the refused writer committed nothing

"""What the crash loop asserts after every kill: the index loads, passes ``ingest verify``,
holds no duplicate chunk, agrees with its ledger, and a committed generation holds exactly the
chunk ids of an uninterrupted run (``reference_ids``).
"""

from __future__ import annotations

import os
import sys
import time
from pathlib import Path


def chunk_ids(index: Path) -> list[str]:
    from ingest.store import IndexStore

    return [c.chunk_id for c in IndexStore(index).open(fallback=False).chunks]


def check_after_kill(index: Path, before: str | None, reference: set[str]) -> tuple[bool, str]:
    """Assert the index is sound; returns (a new generation was committed, current name)."""
    from ingest.cli import main as ingest_main
    from ingest.store import IndexStore

    store = IndexStore(index)
    current = store.current_name()
    if current is None:
        assert before is None, f"CURRENT vanished (was {before})"
        # A generation renamed into place but never made current (killed before the switch)
        # may exist until the next writer cleans up; readers must not be served it.
        try:
            store.open()
        except FileNotFoundError:
            return False, ""
        raise AssertionError("a generation that was never made current was served")
    assert store.verify() == [], store.verify()
    with open(os.devnull, "w") as sink:
        stdout, sys.stdout = sys.stdout, sink
        try:
            assert ingest_main(["verify", "--index", str(index)]) == 0
        finally:
            sys.stdout = stdout
    generation = store.open(fallback=False)
    ids = [c.chunk_id for c in generation.chunks]
    assert len(ids) == len(set(ids)), f"{len(ids) - len(set(ids))} duplicated chunks"
    ledger = {c for e in generation.ledger.values() if e.status == "ok" for c in e.chunk_ids}
    assert ledger == set(ids), "chunk table and ledger disagree"
    committed = current != before
    if committed:
        lost, extra = reference - set(ids), set(ids) - reference
        assert not lost and not extra, f"{len(lost)} lost, {len(extra)} extra chunks"
    return committed, current


def reference_ids(corpus: Path, settings, embedder) -> tuple[set[str], float, float]:
    """Chunk ids of an uninterrupted run into a fresh index; its total and commit seconds."""
    from ingest.pipeline import run

    start = time.monotonic()
    report = run([corpus], settings, embedder=embedder)
    total = time.monotonic() - start
    return set(chunk_ids(settings.index_dir)), total, report.timings_s.get("write", 0.05)


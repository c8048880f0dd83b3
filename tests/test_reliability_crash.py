"""Crash loop (short): SIGKILL the writer 15 times over a mixed corpus; the index always
verifies and the final run holds exactly the chunks of an uninterrupted one.

The full loop (200 files, 100+ kills, real ``ingest run`` processes too) is ``bench/crash.py``;
this is the same code on a 30-file corpus.
"""

from __future__ import annotations

import pytest

from bench.crash import CHECKPOINTS, crash_loop, make_corpus


@pytest.mark.slow
def test_fifteen_kills_lose_and_duplicate_nothing(tmp_path, embedder):
    kinds = make_corpus(tmp_path / "corpus", files=30, seed=3)
    assert {"text", "pubmed", "pdf", "broken"} <= set(kinds)
    summary = crash_loop(tmp_path / "corpus", tmp_path / "work", 15, embedder, seed=3,
                         log=lambda line: None)
    assert summary["killed"] == 15  # SIGKILLs that landed (runs that finished first not counted)
    assert summary["lost"] == summary["extra"] == summary["duplicated"] == 0
    assert summary["staging_left"] == 0
    # Random-time kills landed, and random kills inside the commit were tried (on a loaded
    # machine the commit can outrun its timer; the named checkpoints cover every write step).
    assert summary["by_kind"]["time"]["killed"] >= 1
    assert summary["by_kind"]["commit-time"]["runs"] >= 1
    assert set(CHECKPOINTS[:5]) <= set(summary["by_kind"])
    assert summary["chunks_got"] == summary["chunks_expected"] > 20

"""Shared fixtures: the real packaged embedder (loaded once), shared data paths, settings."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from clinrag.settings import Settings, load_settings

REPO = Path(__file__).resolve().parent.parent
SHARED_DATA = Path(os.environ.get("CLINRAG_SHARED_DATA", REPO.parent / "shared" / "data"))
SAMPLE = REPO / "data" / "sample"


def shared(*parts: str) -> Path:
    """A path in the shared benchmark data, or skip the test with the reason."""
    path = SHARED_DATA.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"shared data not found at {path} (set CLINRAG_SHARED_DATA)")
    return path


@pytest.fixture(scope="session")
def embedder():
    from ingest.embed import Embedder

    return Embedder.load(load_settings().embed)


@pytest.fixture
def make_settings(tmp_path):
    def make(**overrides) -> Settings:
        base = {"home": tmp_path / "home", "index": tmp_path / "index"}
        base.update(overrides)
        return load_settings(base)

    return make


@pytest.fixture(autouse=True)
def _isolated_config(monkeypatch, tmp_path):
    # No user clinrag.toml or CLINRAG_* variable may leak into a test.
    for key in list(os.environ):
        if key.startswith("CLINRAG_") and key != "CLINRAG_SHARED_DATA":
            monkeypatch.delenv(key)
    monkeypatch.setenv("CLINRAG_CONFIG", str(tmp_path / "no-such-clinrag.toml"))


@pytest.fixture(scope="session")
def bioasq_index(tmp_path_factory, embedder):
    """One real BioASQ golden file (10B1) ingested once: (settings, path, report)."""
    from ingest.pipeline import run

    path = shared("bioasq", "Task10BGoldenEnriched", "10B1_golden.json")
    root = tmp_path_factory.mktemp("bioasq10b1")
    settings = load_settings({"home": root, "index": root / "index"})
    report = run([path], settings, embedder=embedder)
    return settings, path, report


@pytest.fixture(scope="session")
def demo_index(tmp_path_factory, embedder):
    """The demo corpus (data/sample: 30 PubMed abstracts and 3 PDFs) ingested once per test
    session: (home folder, index folder). Tests open their own settings over it."""
    from ingest.pipeline import run

    root = tmp_path_factory.mktemp("demo-index")
    run([SAMPLE / "pubmed", SAMPLE / "pdfs"],
        load_settings({"home": root, "index": root / "index"}), embedder=embedder)
    return root, root / "index"

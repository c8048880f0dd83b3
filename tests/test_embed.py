"""The embedder in bf16 (the default on CPUs with bf16 units) against fp32, on real abstracts."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from clinrag.settings import EmbedSettings
from ingest.embed import Embedder
from ingest.sources.pubmed import load_pubmed_xml

from tests.conftest import SAMPLE


@pytest.fixture(scope="module")
def texts() -> list[str]:
    loaded = load_pubmed_xml(SAMPLE / "pubmed" / "demo_abstracts.xml")
    pages = [p.text for d in loaded.documents for p in d.pages]
    # Short titles and whole abstracts: lengths differ, so batches carry padding. Twelve of
    # each: on a CPU without bf16 units bf16 is emulated and slow, and 24 texts of two very
    # different lengths already exercise padding and ranking.
    return [d.title for d in loaded.documents][:12] + pages[:12]


@pytest.fixture(scope="module")
def both() -> tuple[Embedder, Embedder]:
    return (Embedder.load(EmbedSettings(precision="bf16")),
            Embedder.load(EmbedSettings(precision="fp32")))


def test_bf16_embedder_runs_a_bf16_model_and_returns_unit_float32_rows(both, texts):
    bf16, fp32 = both
    assert next(bf16.model.parameters()).dtype == torch.bfloat16
    assert next(fp32.model.parameters()).dtype == torch.float32
    vectors = bf16.encode(texts)
    assert vectors.dtype == np.float32 and vectors.shape == (len(texts), 384)
    # Normalised in fp32: bf16 normalisation would leave norms off by ~1e-3.
    assert np.abs(np.linalg.norm(vectors, axis=1) - 1.0).max() < 1e-5


def test_bf16_vectors_match_fp32_and_rank_the_same(both, texts):
    bf16, fp32 = both
    a, b = bf16.encode(texts), fp32.encode(texts)
    cosine = (a * b).sum(axis=1)
    assert cosine.min() > 0.999, cosine.min()
    queries = ["Does zinc shorten the common cold?", "muscle pain on statins",
               "when can antibiotics be stopped in the intensive care unit",
               "ketamine for depression", "cough caused by an ACE inhibitor"]
    for qa, qb in zip(bf16.encode(queries), fp32.encode(queries)):
        top_bf16, top_fp32 = np.argsort(-(a @ qa))[:5], np.argsort(-(b @ qb))[:5]
        assert top_bf16[0] == top_fp32[0]
        assert len(set(top_bf16) & set(top_fp32)) >= 4

"""The corpus a benchmark is retrieved from: an index built once per data, then reused.

The index is built by the ordinary ingest pipeline from the *whole* benchmark file (a
``--limit`` only limits questions, never the corpus, or retrieval would get easier) plus any
distractor sources. Its folder is named by a hash of those files' bytes and of the settings
that shape an index (embedder, chunker, BM25 tokenizer), so changed data or settings can never
silently reuse an old index. ``CorpusView`` holds the lookups over a built index that scoring
needs.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from pathlib import Path
from typing import Any

from clinrag.settings import Settings
from eval.datasets import Benchmark, files_hash

log = logging.getLogger(__name__)


class CorpusError(RuntimeError):
    """The corpus index cannot be built or opened."""


def corpus_key(benchmark: Benchmark, extra: list[Path], settings: Settings) -> str:
    """Hash of the benchmark data, the distractor files and the index-shaping settings."""
    extra_files = sorted(f for p in extra for f in _files_under(Path(p)))
    shaping = {"embed": settings.embed.model, "chunk": settings.chunk.model_dump(),
               "sparse": settings.sparse.model_dump()}
    digest = hashlib.sha256()
    digest.update(benchmark.data_hash.encode())
    digest.update(files_hash(extra_files).encode() if extra_files else b"-")
    digest.update(json.dumps(shaping, sort_keys=True).encode())
    return digest.hexdigest()[:16]


def cached_index(benchmark: Benchmark, settings: Settings, *, extra: list[Path] = (),
                 index: Path | None = None) -> Path | None:
    """The index to evaluate against if it exists already (None: it must be built).

    Checks the sources first, so a bad ``--index`` or ``--extra-corpus`` fails before any
    model is loaded.
    """
    from ingest.store import IndexStore

    if index is not None:
        if not IndexStore(index).exists():
            raise CorpusError(f"--index {index}: not an index folder (no CURRENT); build it with "
                              "`ingest run` or leave --index out")
        return Path(index)
    if benchmark.name == "jsonl" and not extra:
        raise CorpusError("a jsonl benchmark has no corpus of its own: pass --index DIR or "
                          "--extra-corpus PATH...")
    for p in extra:
        if not Path(p).exists():
            raise CorpusError(f"--extra-corpus {p}: no such file or folder")
    folder = cache_folder(benchmark, settings, extra)
    return folder if IndexStore(folder).exists() else None


def milvus_alias_for(settings: Settings, folder: Path) -> Settings:
    """``settings`` with the Milvus alias of an evaluation corpus folder: the configured
    alias + ``_eval_`` + the folder's name, so publishing it never replaces what the user's
    own index serves."""
    alias = f"{settings.retrieve.milvus_collection}_eval_" + \
        re.sub(r"[^A-Za-z0-9_]", "_", folder.name)
    return settings.model_copy(update={"retrieve": settings.retrieve.model_copy(
        update={"milvus_collection": alias[:200]})})


def cache_folder(benchmark: Benchmark, settings: Settings, extra: list[Path] = ()) -> Path:
    key = corpus_key(benchmark, list(extra), settings)
    return settings.home / "cache" / "eval" / f"{benchmark.name}-{key}"


def ensure_index(benchmark: Benchmark, settings: Settings, *, extra: list[Path] = (),
                 index: Path | None = None, progress: bool = False, embedder=None) -> Path:
    """The index folder to evaluate against: ``index`` as given, or the cached build."""
    found = cached_index(benchmark, settings, extra=extra, index=index)
    if found is not None:
        return found
    folder = cache_folder(benchmark, settings, extra)
    sources = ([] if benchmark.name == "jsonl" else list(benchmark.files)) + list(extra)
    log.info("building the %s corpus index at %s from %d source(s)", benchmark.name, folder,
             len(sources))
    from ingest.pipeline import run as ingest_run

    report = ingest_run(sources, settings.model_copy(update={"index": folder}),
                        progress=progress, embedder=embedder)
    failed = [f for f in report.files if f.status == "failed"]
    if failed or report.generation is None:
        reasons = "; ".join(f"{f.path}: {f.category} {f.message or ''}" for f in failed[:5])
        raise CorpusError(f"building the corpus index at {folder} failed: {reasons or 'empty'}")
    return folder


def _files_under(path: Path) -> list[Path]:
    return sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]


class CorpusView:
    """Lookups over one generation that scoring needs: chunk spans, chunks per document."""

    def __init__(self, generation):
        self.generation = generation
        self._position = {c.chunk_id: i for i, c in enumerate(generation.chunks)}
        self._per_doc: dict[str, int] = {}
        for c in generation.chunks:
            self._per_doc[c.doc_id] = self._per_doc.get(c.doc_id, 0) + 1

    def span(self, hit) -> list[Any]:
        """A hit as (doc, section, start, end) in its source section (BioASQ offsets)."""
        chunk = self.generation.chunks[self._position[hit.chunk_id]]
        page = self.generation.pages[chunk.page_id].page
        section = (chunk.section or page.section or "abstract").lower()
        return [hit.doc_id, section, page.offset + chunk.start, page.offset + chunk.end]

    def chunk_count(self, doc_ids) -> int:
        return sum(self._per_doc.get(d, 0) for d in doc_ids)

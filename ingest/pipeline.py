"""``ingest run``: scan -> parse (isolated) -> chunk -> embed -> write a new generation.

Incremental against the ledger of the current generation, atomic through the store, and
every file ends up in the report as ok / skipped / failed / removed with a reason.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np

from clinrag.models import model_revision
from clinrag.records import Chunk, DocumentMeta, is_placeholder_title
from clinrag.settings import Settings
from ingest.chunk import SEPARATORS, Chunker, PageRef, index_text
from ingest.errors import IndexCorrupt, SourceError
from ingest.parse_pool import ParsePool
from ingest.preload import ModelPreload
from ingest.report import FileReport, RunReport
from ingest.scan import Candidate, expand_inputs, is_unchanged, under_roots
from ingest.sources import ParseOptions
from ingest.store import dense as dense_store
from ingest.store.files import atomic_write_text
from ingest.store.faults import checkpoint
from ingest.store.generation import Generation, GenerationData, IndexStore
from ingest.store.ledger import LedgerEntry
from ingest.backend import check_backend, publish_current
from ingest.store.manifest import check_compatible
from ingest.store.sparse import SparseIndex
from ingest.tokenize import TokenizerConfig, tokenize

log = logging.getLogger(__name__)
TOKENIZER_NAME = "clinrag-bio-v1"


@dataclass
class _Incoming:
    """What this run parsed: new ledger entries plus the records they reference."""

    ledger: dict[str, LedgerEntry] = field(default_factory=dict)
    documents: dict[str, DocumentMeta] = field(default_factory=dict)
    pages: dict[str, PageRef] = field(default_factory=dict)
    chunks: dict[str, Chunk] = field(default_factory=dict)


def wanted_manifest(settings: Settings, dim: int | None) -> dict[str, Any]:
    """The identity the settings ask for (embedder dim filled in once known)."""
    return {
        "embedder": {"name": settings.embed.model, "revision": model_revision(settings.embed.model),
                     "dim": dim, "normalized": True},
        "chunker": {"size": settings.chunk.size, "overlap": settings.chunk.overlap,
                    "prefix_title": settings.chunk.prefix_title,
                    # Placeholder titles were embedded with every chunk before this rule.
                    "placeholder_titles": "not embedded",
                    "splitter": "langchain RecursiveCharacterTextSplitter",
                    "separators": SEPARATORS},
        "sparse": {"tokenizer": TOKENIZER_NAME, "stopwords": settings.sparse.stopwords,
                   "stem": settings.sparse.stem},
    }


def run(paths: list[Path], settings: Settings, *, rebuild: bool = False, prune: bool = False,
        checksum: bool = False, embedder=None, progress: bool = False,
        on_event: Callable[[str], None] | None = None) -> RunReport:
    """Bring the index up to date with ``paths``; returns the run's report."""
    report = RunReport(started=_now())
    timings = {"scan": 0.0, "parse": 0.0, "chunk": 0.0, "embed": 0.0, "write": 0.0}
    store = IndexStore(settings.index_dir)
    t0 = time.perf_counter()
    candidates, refused, roots = expand_inputs(paths)
    for item in refused:
        status = "failed" if item.category in ("not_found", "unreadable", "symlink_escape") \
            else "skipped"
        report.files.append(FileReport(str(item.path), status, item.category, item.message))

    check_backend(settings)
    with store.writer(wait_s=settings.ingest.lock_wait_s) as writer:
        current = _open_base(store)
        report.previous_generation = current.name if current else None
        wanted = wanted_manifest(settings, current.manifest["embedder"]["dim"] if current else None)
        if current is not None and not rebuild:
            check_compatible(current.manifest, wanted)
        old_ledger = dict(current.ledger) if current and not rebuild else {}
        excluded = set(current.manifest.get("excluded_doc_ids", ())) if current else set()
        if rebuild and current is not None:
            # A rebuild re-reads every source the old index knew that still exists.
            extra, _, _ = expand_inputs(
                [Path(p) for p in current.ledger if Path(p).exists()])
            known = {c.path for c in candidates}
            candidates += [c for c in extra if c.path not in known]
        base = None if rebuild else current

        todo: list[Candidate] = []
        new_ledger = dict(old_ledger)
        for cand in candidates:
            entry = old_ledger.get(str(cand.path))
            if is_unchanged(cand, entry, checksum):
                if entry.status == "ok":
                    report.files.append(FileReport(str(cand.path), "skipped", "unchanged",
                                                   None, len(entry.doc_ids), len(entry.chunk_ids)))
                else:
                    report.files.append(FileReport(
                        str(cand.path), "failed", entry.category,
                        f"unchanged since an earlier failure: {entry.message}"))
                continue
            todo.append(cand)
        for path, entry in old_ledger.items():
            gone = not Path(path).exists()
            if gone and (prune or under_roots(path, roots)):
                del new_ledger[path]
                report.files.append(FileReport(path, "removed", "deleted",
                                               "source file no longer exists",
                                               len(entry.doc_ids), len(entry.chunk_ids)))
        timings["scan"] = time.perf_counter() - t0

        models = ModelPreload(settings, embedder)
        incoming = _parse_and_chunk(todo, settings, excluded, report, timings, progress, models)
        new_ledger.update(incoming.ledger)
        unchanged = base is not None and _ledger_json(new_ledger) == _ledger_json(base.ledger)
        empty = base is None and not any(e.status == "ok" for e in new_ledger.values())
        if unchanged or empty:
            report.generation = base.name if base else None
            report.counts = dict(base.manifest["counts"]) if base else {}
            report.timings_s = {k: round(v, 3) for k, v in timings.items()}
            publish_current(store, settings, report)
            _finish(store, report)
            return report
        data = _assemble(base, new_ledger, incoming, settings, wanted, excluded, models,
                         progress, timings, report)
        t_write = time.perf_counter()
        report.changed = True
        report.timings_s = {k: round(v, 3) for k, v in timings.items()}
        report.counts = {"documents": len(data.documents), "chunks": len(data.chunks),
                         "files": len(data.ledger)}
        data.report = report.to_json()
        report.generation = writer.commit(data, keep=settings.ingest.keep_generations)
        timings["write"] = time.perf_counter() - t_write
        report.timings_s = {k: round(v, 3) for k, v in timings.items()}
        publish_current(store, settings, report)
        _finish(store, report)
        return report


def remove(targets: list[str], settings: Settings) -> RunReport:
    """``ingest remove ID|PATH``: drop files from the ledger, or exclude document ids."""
    report = RunReport(started=_now())
    store = IndexStore(settings.index_dir)
    check_backend(settings)
    with store.writer(wait_s=settings.ingest.lock_wait_s) as writer:
        current = _open_base(store)
        if current is None:
            raise FileNotFoundError(f"no index at {store.root}")
        report.previous_generation = current.name
        ledger = dict(current.ledger)
        excluded = set(current.manifest.get("excluded_doc_ids", ()))
        doc_of_chunk = {c.chunk_id: c.doc_id for c in current.chunks}
        for target in targets:
            path = str(Path(target).expanduser().resolve())
            if path in ledger:
                entry = ledger.pop(path)
                report.files.append(FileReport(path, "removed", "requested", None,
                                               len(entry.doc_ids), len(entry.chunk_ids)))
            elif target in current.documents:
                excluded.add(target)
                for entry in ledger.values():
                    if target in entry.doc_ids:
                        entry.doc_ids = [d for d in entry.doc_ids if d != target]
                        entry.chunk_ids = [c for c in entry.chunk_ids
                                           if doc_of_chunk.get(c) != target]
                report.files.append(FileReport(target, "removed", "requested",
                                               "document excluded from future ingests", 1))
            else:
                raise SourceError("not_found", f"{target!r} is neither an ingested file path "
                                  "nor a document id in the index")
        wanted = dict(current.manifest)
        data = _assemble(current, ledger, _Incoming(), settings, wanted, excluded,
                         ModelPreload(settings), False, {}, report)
        data.report = report.to_json()
        report.changed = True
        report.generation = writer.commit(data, keep=settings.ingest.keep_generations)
        report.counts = {"documents": len(data.documents), "chunks": len(data.chunks),
                         "files": len(data.ledger)}
        publish_current(store, settings, report)
        _finish(store, report)
        return report


def _open_base(store: IndexStore) -> Generation | None:
    """The generation to build on: the current one, or the newest good one if it is corrupt."""
    if not store.exists():
        return None
    try:
        return store.open(verify=True, fallback=True)
    except (IndexCorrupt, FileNotFoundError) as exc:
        raise IndexCorrupt(f"no usable generation in {store.root}: {exc}. "
                           "Re-run with --rebuild after removing the index folder.") from exc


def _parse_and_chunk(todo: list[Candidate], settings: Settings, excluded: set[str],
                     report: RunReport, timings: dict[str, float], progress: bool,
                     models: ModelPreload) -> _Incoming:
    incoming = _Incoming()
    if not todo:
        return incoming
    limit = settings.ingest.max_file_mb * 1024 * 1024
    parseable = []
    for cand in todo:
        if cand.size > limit:
            _fail(incoming, report, cand, "too_large",
                  f"{cand.size / 1e6:.1f} MB is over the {settings.ingest.max_file_mb:g} MB limit")
        else:
            parseable.append(cand)
    # Largest first, so that the last file to finish is a small one and no worker sits idle
    # at the end waiting for one big file (file size stands in for parse time).
    parseable.sort(key=lambda c: (-c.size, str(c.path)))
    by_path = {c.path: c for c in parseable}
    models.start()  # tokenizer, then embedder, load while the parser processes work
    chunker: Chunker | None = None
    t_parse = time.perf_counter()
    chunk_time = 0.0
    bar = _progress(len(parseable), "parse", progress)
    with ParsePool(settings.ingest.workers, settings.ingest.parse_timeout_s,
                   settings.ingest.parse_memory_mb,
                   ParseOptions(pdf_extractor=settings.ingest.pdf_extractor)) as pool:
        for outcome in pool.parse(list(by_path)):
            bar.update(1)
            cand = by_path[outcome.path]
            checkpoint("parsed-one")
            if outcome.error is not None:
                _fail(incoming, report, cand, outcome.error.category, outcome.error.message,
                      outcome.seconds)
                continue
            if chunker is None:
                chunker = models.chunker()  # loaded meanwhile; waiting counts as parse time
            t_chunk = time.perf_counter()
            doc_ids, chunk_ids = [], []
            for document in outcome.loaded.documents:
                if document.doc_id in excluded:
                    continue
                pages, chunks = chunker.chunk_document(document)
                if not chunks:
                    continue
                doc_ids.append(document.doc_id)
                incoming.documents[document.doc_id] = _preferred(
                    incoming.documents.get(document.doc_id),
                    DocumentMeta.from_json(document.metadata_json()))
                for ref in pages:
                    incoming.pages[ref.page_id] = ref
                for chunk in chunks:
                    incoming.chunks[chunk.chunk_id] = chunk
                    chunk_ids.append(chunk.chunk_id)
            chunk_time += time.perf_counter() - t_chunk
            rejected = [r.__dict__ for r in outcome.loaded.rejected]
            if not doc_ids and not rejected and outcome.loaded.documents:
                _fail(incoming, report, cand, "excluded", "every document in it was removed "
                      "with `ingest remove`", outcome.seconds)
                continue
            if not doc_ids:
                category = rejected[0]["category"] if rejected else "no_text"
                _fail(incoming, report, cand, category, "no ingestible records"
                      + (f"; first refusal: {rejected[0]['message']}" if rejected else ""),
                      outcome.seconds, rejected)
                continue
            incoming.ledger[str(cand.path)] = LedgerEntry(
                str(cand.path), cand.content_hash(), cand.size, cand.mtime_ns, "ok",
                doc_ids=doc_ids, chunk_ids=list(dict.fromkeys(chunk_ids)), rejected=len(rejected))
            report.files.append(FileReport(str(cand.path), "ok", None, None, len(doc_ids),
                                           len(set(chunk_ids)), rejected, round(outcome.seconds, 3)))
    bar.close()
    timings["chunk"] += chunk_time
    timings["parse"] += time.perf_counter() - t_parse - chunk_time
    return incoming


def _preferred(old: DocumentMeta | None, new: DocumentMeta) -> DocumentMeta:
    """The same document from two files (e.g. one PMID in several BioASQ files): keep the
    metadata with a real title, independent of which parser finished first. The title is
    embedded with every chunk, so this choice must not depend on timing."""
    if old is None:
        return new
    return min((old, new), key=lambda m: (is_placeholder_title(m.title), -len(m.title), m.title))


def _fail(incoming: _Incoming, report: RunReport, cand: Candidate, category: str, message: str,
          seconds: float = 0.0, rejected: list | None = None) -> None:
    incoming.ledger[str(cand.path)] = LedgerEntry(
        str(cand.path), cand.content_hash(), cand.size, cand.mtime_ns, "failed",
        category=category, message=message)
    report.files.append(FileReport(str(cand.path), "failed", category, message,
                                   rejected=rejected or [], seconds=round(seconds, 3)))


def _assemble(base: Generation | None, ledger: dict[str, LedgerEntry], incoming: _Incoming,
              settings: Settings, wanted: dict[str, Any], excluded: set[str],
              models: ModelPreload, progress: bool, timings: dict[str, float],
              report: RunReport) -> GenerationData:
    """The next generation's tables and indexes: base minus dead chunks plus new ones."""
    live_chunks = {c for e in ledger.values() if e.status == "ok" for c in e.chunk_ids}
    live_docs = {d for e in ledger.values() if e.status == "ok" for d in e.doc_ids}
    old_chunks = base.chunks if base else []
    kept_positions = [i for i, c in enumerate(old_chunks) if c.chunk_id in live_chunks]
    kept = [old_chunks[i] for i in kept_positions]
    have = {c.chunk_id for c in kept}
    added = [incoming.chunks[c] for c in sorted(live_chunks - have) if c in incoming.chunks]
    missing = live_chunks - have - {c.chunk_id for c in added}
    if missing:
        raise IndexCorrupt(f"{len(missing)} chunks in the ledger are in neither the index nor "
                           "this run; re-run with --rebuild")
    removed_rows = np.array([c.row_id for c in old_chunks if c.chunk_id not in live_chunks],
                            dtype=np.int64)
    row_ids = {c.row_id for c in kept}
    for chunk in added:
        if chunk.row_id in row_ids:
            raise IndexCorrupt(f"row id collision for chunk {chunk.chunk_id}")
        row_ids.add(chunk.row_id)

    documents = {}
    for doc_id in sorted(live_docs):
        meta = incoming.documents.get(doc_id) or (base.documents.get(doc_id) if base else None)
        if meta is not None:
            documents[doc_id] = meta
    chunks = kept + added
    page_ids = {c.page_id for c in chunks}
    pages = {}
    for pid in sorted(page_ids):
        ref = incoming.pages.get(pid) or (base.pages.get(pid) if base else None)
        pages[pid] = ref

    texts = [index_text(c, documents[c.doc_id].title, settings.chunk) for c in added]
    t_embed = time.perf_counter()
    dim = wanted["embedder"]["dim"]
    vectors = np.zeros((0, dim or 0), dtype=np.float32)
    if added:
        embedder = models.embedder()
        if dim is not None and embedder.info.dim != dim:
            raise IndexCorrupt(f"embedder dimension {embedder.info.dim} != index {dim}")
        dim = embedder.info.dim
        wanted["embedder"]["dim"] = dim
        wanted["embedder"]["precision"] = embedder.precision
        vectors = embedder.encode(texts, show_progress=progress)
        checkpoint("embedded")
    timings["embed"] = timings.get("embed", 0.0) + time.perf_counter() - t_embed
    if dim is None:
        raise SourceError("no_text", "nothing to index: no file produced any text")
    dense = base.dense if base else dense_store.empty_index(dim)
    added_ids = np.array([c.row_id for c in added], dtype=np.int64)
    dense = dense_store.updated(dense, removed_rows, added_ids, vectors)
    t_ann = time.perf_counter()
    threshold = settings.retrieve.ann_threshold
    ann = dense_store.ann_of(dense, base.ann if base else None, len(removed_rows), added_ids,
                             vectors, threshold)
    if ann is not None:
        timings["ann"] = timings.get("ann", 0.0) + time.perf_counter() - t_ann
    tok_config = TokenizerConfig(settings.sparse.stopwords, settings.sparse.stem)
    sparse = (base.sparse if base else SparseIndex.empty()).updated(
        np.array(kept_positions, dtype=np.int64), [tokenize(t, tok_config) for t in texts])
    report.added_chunks = len(added)
    report.removed_chunks = len(removed_rows)
    manifest = dict(wanted)
    manifest["excluded_doc_ids"] = sorted(excluded)
    manifest["ann"] = {"type": "flat", "threshold": threshold} if ann is None else {
        "type": "hnsw", "m": dense_store.HNSW_M,
        "ef_construction": dense_store.HNSW_EF_CONSTRUCTION, "threshold": threshold}
    return GenerationData(manifest, documents, pages, chunks, dense, sparse, ledger, {}, ann)


def _ledger_json(ledger: dict[str, LedgerEntry]) -> list[dict[str, Any]]:
    return sorted((e.to_json() for e in ledger.values()), key=lambda e: e["path"])


def _finish(store: IndexStore, report: RunReport) -> None:
    import json

    report.finished = _now()
    try:
        store.root.mkdir(parents=True, exist_ok=True)
        atomic_write_text(store.root / "last_report.json",
                          json.dumps(report.to_json(), indent=1, sort_keys=True))
    except OSError as exc:
        # The generation is already committed (or unchanged); a full disk here must not turn
        # a successful run into a failed one. The same report is inside the generation.
        log.error("could not write %s/last_report.json: %s", store.root, exc)


def _progress(total: int, desc: str, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="file", disable=not enabled or total == 0)


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")

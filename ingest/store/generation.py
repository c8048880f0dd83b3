"""Generations: immutable index folders behind one pointer that is switched atomically.

Layout of an index folder::

    CURRENT               name of the live generation (replaced with os.replace)
    LOCK                  flock'ed by the one writer; released by the kernel if it dies
    generations/g000007/  manifest.json, manifest.sha256, documents.jsonl, pages.jsonl,
                          chunks.jsonl, dense.faiss, [dense_ann.faiss: the HNSW graph, from
                          retrieve.ann_threshold chunks on], bm25_*.npy, bm25_vocab.json,
                          ledger.json, ingest_report.json
    staging/              generations being written (deleted if a writer died)

A writer builds the next generation in ``staging/``, fsyncs every file, verifies counts and
checksums, renames the folder into ``generations/`` and only then switches ``CURRENT``. A
crash at any point leaves the previous generation current and intact.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import re
import shutil
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import faiss

from clinrag.records import Chunk, DocumentMeta, Page
from ingest.chunk import PageRef
from ingest.errors import IndexCorrupt, IndexLocked, IndexWriteFailed
from ingest.store import dense as dense_store
from ingest.store.files import read_jsonl, sha256_file
from ingest.store.ledger import LedgerEntry
from ingest.store.manifest import FORMAT_VERSION
from ingest.store.sparse import SparseIndex

if TYPE_CHECKING:
    from ingest.store.writer import Writer

log = logging.getLogger(__name__)

_NAME = re.compile(r"^g(\d{6,})$")
DATA_FILES = ("documents.jsonl", "pages.jsonl", "chunks.jsonl", "dense.faiss",
              "bm25_indptr.npy", "bm25_indices.npy", "bm25_data.npy", "bm25_vocab.json",
              "ledger.json", "ingest_report.json")


def data_files(manifest: dict[str, Any]) -> tuple[str, ...]:
    """The files a generation's manifest vouches for: every one of ``DATA_FILES``, and the
    HNSW graph where the generation stores one."""
    extra = (dense_store.ANN_FILE,) if dense_store.ANN_FILE in manifest.get("files", {}) else ()
    return DATA_FILES + extra


# sha256 of manifest.json, so a flipped bit in the manifest itself is caught before it is
# trusted. Generations written before it existed have none and are read without it.
SEAL = "manifest.sha256"
_LOAD_ERRORS = (KeyError, TypeError, ValueError, AttributeError, IndexError, RuntimeError)


@dataclass
class Generation:
    """One loaded, verified generation of the index (read-only by convention)."""

    name: str
    path: Path
    manifest: dict[str, Any]
    documents: dict[str, DocumentMeta]
    pages: dict[str, PageRef]
    chunks: list[Chunk]
    dense: faiss.Index
    sparse: SparseIndex
    ledger: dict[str, LedgerEntry]
    report: dict[str, Any] = field(default_factory=dict)
    ann: faiss.Index | None = None      # the stored HNSW graph (ingest/store/dense.py)
    _row_of: dict[int, int] | None = None

    @property
    def row_position(self) -> dict[int, int]:
        """row_id -> position in ``chunks`` (and in the BM25 matrix)."""
        if self._row_of is None:
            self._row_of = {c.row_id: i for i, c in enumerate(self.chunks)}
        return self._row_of

    def page_text(self, chunk: Chunk) -> str:
        return self.pages[chunk.page_id].page.text


def document_paths(generation: Generation) -> dict[str, str]:
    """doc id -> the file it came from (first file in path order), for citations."""
    paths: dict[str, str] = {}
    for path, entry in sorted(generation.ledger.items()):
        for doc_id in entry.doc_ids:
            paths.setdefault(doc_id, entry.path or path)
    return paths


@dataclass
class GenerationData:
    """Everything a writer commits as a new generation."""

    manifest: dict[str, Any]
    documents: dict[str, DocumentMeta]
    pages: dict[str, PageRef]
    chunks: list[Chunk]
    dense: faiss.Index
    sparse: SparseIndex
    ledger: dict[str, LedgerEntry]
    report: dict[str, Any]
    ann: faiss.Index | None = None


class IndexStore:
    """An index folder: open generations, verify them, and (one writer) commit new ones."""

    def __init__(self, root: Path):
        self.root = Path(root)
        self.generations_dir = self.root / "generations"
        self.staging_dir = self.root / "staging"

    # -- reading ---------------------------------------------------------------------------
    def exists(self) -> bool:
        return (self.root / "CURRENT").exists()

    def current_name(self) -> str | None:
        try:
            name = (self.root / "CURRENT").read_bytes().decode("ascii", "replace").strip()
        except FileNotFoundError:
            return None
        return name if _NAME.match(name) else None

    def names(self) -> list[str]:
        if not self.generations_dir.exists():
            return []
        return sorted(p.name for p in self.generations_dir.iterdir() if _NAME.match(p.name))

    def open(self, name: str | None = None, verify: bool = True,
             fallback: bool = True) -> Generation:
        """Load a generation (default: the current one), verifying its checksums.

        With ``fallback``, a corrupt current generation (or an unreadable ``CURRENT``) is
        reported and the newest older one that verifies is loaded instead.
        """
        pinned = name is not None
        for _attempt in range(5):
            if not pinned:
                name = self.current_name()
            if name is None:
                if fallback and (self.root / "CURRENT").exists():
                    return self._fallback(None, verify, IndexCorrupt(
                        f"{self.root}/CURRENT does not name a generation"))
                raise FileNotFoundError(
                    f"no index at {self.root} (run `ingest run PATH...` first)")
            try:
                return self._load(name, verify)
            except (IndexCorrupt, FileNotFoundError, ValueError, RuntimeError) as exc:
                if not pinned and isinstance(exc, FileNotFoundError) \
                        and self.current_name() != name:
                    continue  # a writer switched CURRENT and pruned `name` meanwhile: reread
                if not fallback:
                    raise
                return self._fallback(name, verify, exc)
        raise IndexCorrupt(f"{self.root}: CURRENT kept changing while the index was opened")

    def _fallback(self, name: str | None, verify: bool, exc: Exception) -> Generation:
        """The newest generation older than ``name`` (any, if None) that verifies."""
        for older in reversed([n for n in self.names() if name is None or n < name]):
            try:
                generation = self._load(older, verify)
            except (IndexCorrupt, FileNotFoundError, ValueError, RuntimeError):
                continue
            log.error("generation %s is unusable (%s); serving previous generation %s",
                      name or "CURRENT", exc, older)
            return generation
        raise exc

    def verify(self, name: str | None = None) -> list[str]:
        """Problems found in a generation (empty when it is sound): checksums and counts."""
        name = name or self.current_name()
        if name is None:
            return [f"no CURRENT generation in {self.root}"]
        try:
            self._load(name, verify=True)
        except (IndexCorrupt, FileNotFoundError, ValueError, RuntimeError) as exc:
            return [str(exc)]
        return []

    def _load(self, name: str, verify: bool, path: Path | None = None) -> Generation:
        path = path or self.generations_dir / name
        try:
            return self._load_unchecked(name, verify, path)
        except _LOAD_ERRORS as exc:
            # A damaged file that slipped past the checks (or verify=False) must still be
            # named as corruption, never surface as a library's stray exception.
            raise IndexCorrupt(f"{name}: malformed index data: {exc!r}"[:500]) from exc

    def _load_unchecked(self, name: str, verify: bool, path: Path) -> Generation:
        manifest_path = path / "manifest.json"
        seal = path / SEAL
        if seal.exists() and seal.read_bytes() != f"{sha256_file(manifest_path)}\n".encode():
            raise IndexCorrupt(f"{name}/manifest.json fails its checksum ({SEAL})")
        try:
            manifest = json.loads(manifest_path.read_text("utf-8"))
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise IndexCorrupt(f"{name}/manifest.json is not valid JSON: {exc}") from exc
        if not isinstance(manifest, dict) or not isinstance(manifest.get("files"), dict):
            raise IndexCorrupt(f"{name}/manifest.json has no file table")
        if manifest.get("format") != FORMAT_VERSION:
            raise IndexCorrupt(f"{name}: unsupported index format {manifest.get('format')!r}")
        unlisted = set(DATA_FILES) - set(manifest["files"])
        if unlisted:
            raise IndexCorrupt(f"{name}/manifest.json lists no checksum for "
                               + ", ".join(sorted(unlisted)))
        if verify:
            for file_name in data_files(manifest):
                expected = manifest["files"][file_name]
                file_path = path / file_name
                if not file_path.exists():
                    raise IndexCorrupt(f"{name}/{file_name} is missing")
                if file_path.stat().st_size != expected["bytes"]:
                    raise IndexCorrupt(f"{name}/{file_name} has {file_path.stat().st_size} "
                                       f"bytes, manifest says {expected['bytes']}")
                if sha256_file(file_path) != expected["sha256"]:
                    raise IndexCorrupt(f"{name}/{file_name} fails its sha256 checksum")
        documents = {d["doc_id"]: DocumentMeta.from_json(d)
                     for d in read_jsonl(path / "documents.jsonl")}
        pages = {}
        for row in read_jsonl(path / "pages.jsonl"):
            pages[row["page_id"]] = PageRef(row["page_id"], row["doc_id"],
                                            Page.from_json(row["page"]))
        chunks = [Chunk.from_json(c) for c in read_jsonl(path / "chunks.jsonl")]
        ledger = {e["path"]: LedgerEntry.from_json(e)
                  for e in json.loads((path / "ledger.json").read_text("utf-8"))}
        report = json.loads((path / "ingest_report.json").read_text("utf-8"))
        dense = dense_store.load(path / "dense.faiss")
        sparse = SparseIndex.load(path)
        ann = dense_store.load(path / dense_store.ANN_FILE) \
            if dense_store.ANN_FILE in manifest["files"] else None
        generation = Generation(name, path, manifest, documents, pages, chunks, dense, sparse,
                                ledger, report, ann)
        check_counts(generation)
        return generation

    # -- writing ---------------------------------------------------------------------------
    @contextlib.contextmanager
    def writer(self, wait_s: float = 0.0) -> Iterator[Writer]:
        """Hold the index's single-writer lock for the block."""
        try:
            self.root.mkdir(parents=True, exist_ok=True)
            handle = (self.root / "LOCK").open("a+")
        except OSError as exc:
            raise IndexWriteFailed(f"cannot create the lock file in {self.root}: "
                                   f"{exc.strerror or exc}") from exc
        deadline = time.monotonic() + wait_s
        while True:
            try:
                fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except OSError as exc:
                if exc.errno not in (errno.EAGAIN, errno.EACCES):
                    raise
                if time.monotonic() >= deadline:
                    handle.seek(0)
                    holder = handle.read().strip() or "another process"
                    handle.close()
                    raise IndexLocked(f"index {self.root} is being written by {holder}; "
                                      "one writer at a time") from None
                time.sleep(0.1)
        try:
            try:
                handle.seek(0)
                handle.truncate()
                handle.write(f"pid {os.getpid()}")
                handle.flush()
                self._clean_up_after_crash()
            except OSError as exc:
                raise IndexWriteFailed(f"cannot prepare {self.root} for writing (lock file or "
                                       f"leftovers of a killed writer): {exc}") from exc
            from ingest.store.writer import Writer  # it imports this module

            yield Writer(self)
        finally:
            fcntl.flock(handle.fileno(), fcntl.LOCK_UN)
            handle.close()

    def _clean_up_after_crash(self) -> None:
        """Remove what a killed writer left: staging folders and never-current generations."""
        if self.staging_dir.exists():
            shutil.rmtree(self.staging_dir)
        for litter in self.root.glob(".*.tmp"):  # atomic_write_text's temp of a dead writer
            litter.unlink(missing_ok=True)
        current = self.current_name()
        if current is None and (self.root / "CURRENT").exists():
            # CURRENT is damaged, not absent: which generation was live is unknown, so
            # nothing may be deleted (readers fall back to the newest good one).
            log.error("%s/CURRENT is unreadable; keeping every generation", self.root)
            return
        for name in self.names():
            if current is None or name > current:
                log.warning("removing generation %s, written but never made current", name)
                shutil.rmtree(self.generations_dir / name)


def check_counts(generation: Generation) -> None:
    """FAISS ntotal == chunk rows == BM25 rows == manifest counts; ids agree."""
    n = len(generation.chunks)
    counts = generation.manifest.get("counts", {})
    problems = []
    if generation.dense.ntotal != n:
        problems.append(f"dense index has {generation.dense.ntotal} vectors for {n} chunks")
    if generation.ann is not None and generation.ann.ntotal != n:
        problems.append(f"HNSW graph has {generation.ann.ntotal} vectors for {n} chunks")
    if generation.sparse.rows != n:
        problems.append(f"BM25 index has {generation.sparse.rows} rows for {n} chunks")
    if counts.get("chunks") != n:
        problems.append(f"manifest counts {counts.get('chunks')} chunks, table has {n}")
    if counts.get("documents") != len(generation.documents):
        problems.append("manifest document count differs from the document table")
    if not problems:
        ids = dense_store.ids_of(generation.dense)
        if set(ids.tolist()) != {c.row_id for c in generation.chunks}:
            problems.append("dense index ids differ from the chunk table's row ids")
        missing = {c.page_id for c in generation.chunks} - set(generation.pages)
        if missing:
            problems.append(f"{len(missing)} chunks point to pages that are not stored")
    if problems:
        raise IndexCorrupt(f"{generation.name}: " + "; ".join(problems))

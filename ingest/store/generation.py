"""Generations: immutable index folders behind one pointer that is switched atomically.

Layout of an index folder::

    CURRENT               name of the live generation (replaced with os.replace)
    LOCK                  flock'ed by the one writer; released by the kernel if it dies
    generations/g000007/  manifest.json, manifest.sha256, documents.jsonl, pages.jsonl,
                          chunks.jsonl, dense.faiss, bm25_*.npy, bm25_vocab.json,
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
import signal
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import faiss

from clinrag.records import Chunk, DocumentMeta, Page
from ingest.chunk import PageRef
from ingest.errors import IndexCorrupt, IndexLocked, IndexWriteFailed
from ingest.store import dense as dense_store
from ingest.store.files import (
    atomic_write_text, fsync_dir, fsync_file, read_jsonl, sha256_file, write_json, write_jsonl,
)
from ingest.store.ledger import LedgerEntry
from ingest.store.manifest import FORMAT_VERSION, library_versions
from ingest.store.sparse import SparseIndex

log = logging.getLogger(__name__)

_NAME = re.compile(r"^g(\d{6,})$")
DATA_FILES = ("documents.jsonl", "pages.jsonl", "chunks.jsonl", "dense.faiss",
              "bm25_indptr.npy", "bm25_indices.npy", "bm25_data.npy", "bm25_vocab.json",
              "ledger.json", "ingest_report.json")
# sha256 of manifest.json, so a flipped bit in the manifest itself is caught before it is
# trusted. Generations written before it existed have none and are read without it.
SEAL = "manifest.sha256"
_LOAD_ERRORS = (KeyError, TypeError, ValueError, AttributeError, IndexError, RuntimeError)


def checkpoint(step: str) -> None:
    """Fault-injection point: ``CLINRAG_KILL_AT=step`` SIGKILLs the process here (tests)."""
    if os.environ.get("CLINRAG_KILL_AT") == step:
        os.kill(os.getpid(), signal.SIGKILL)


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
    _row_of: dict[int, int] | None = None

    @property
    def row_position(self) -> dict[int, int]:
        """row_id -> position in ``chunks`` (and in the BM25 matrix)."""
        if self._row_of is None:
            self._row_of = {c.row_id: i for i, c in enumerate(self.chunks)}
        return self._row_of

    def page_text(self, chunk: Chunk) -> str:
        return self.pages[chunk.page_id].page.text


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
            for file_name in DATA_FILES:
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
        generation = Generation(name, path, manifest, documents, pages, chunks, dense, sparse,
                                ledger, report)
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


class Writer:
    """Commits generations; only obtainable through :meth:`IndexStore.writer`."""

    def __init__(self, store: IndexStore):
        self.store = store

    def next_name(self) -> str:
        numbers = [int(_NAME.match(n).group(1)) for n in self.store.names()]
        current = self.store.current_name()
        if current:
            numbers.append(int(_NAME.match(current).group(1)))
        return f"g{max(numbers, default=0) + 1:06d}"

    def commit(self, data: GenerationData, keep: int) -> str:
        """Write ``data`` as the next generation, make it current, prune old ones.

        Any I/O failure (disk full, EIO, a failing fsync or rename) before the switch leaves
        the previous generation current, removes the partial one and raises IndexWriteFailed
        naming the step that failed.
        """
        store = self.store
        name = self.next_name()
        previous = store.current_name()
        step = ["creating the staging folder"]
        try:
            self._write(data, name, step)
        except (OSError, RuntimeError, IndexCorrupt) as exc:
            if store.current_name() == name:
                # Only the directory fsync after the switch failed: the generation is live.
                log.error("generation %s is current, but %s failed: %s", name, step[0], exc)
            else:
                shutil.rmtree(store.staging_dir / f"{name}.{os.getpid()}", ignore_errors=True)
                shutil.rmtree(store.generations_dir / name, ignore_errors=True)
                if isinstance(exc, IndexCorrupt):
                    raise
                code = errno.errorcode.get(getattr(exc, "errno", None) or 0, "")
                reason = f"{code + ': ' if code else ''}{getattr(exc, 'strerror', None) or exc}"
                raise IndexWriteFailed(
                    f"could not write generation {name} in {store.root}: {step[0]} failed "
                    f"({reason}); {previous or 'no generation'} stays current") from exc
        self._prune(keep)
        return name

    def _write(self, data: GenerationData, name: str, step: list[str]) -> None:
        """The commit's steps; ``step[0]`` names the one in progress (for error messages)."""
        store = self.store
        stage = store.staging_dir / f"{name}.{os.getpid()}"
        stage.mkdir(parents=True)
        checkpoint("stage-created")
        step[0] = "writing documents.jsonl"
        write_jsonl(stage / "documents.jsonl",
                    (_document_json(d) for d in data.documents.values()))
        step[0] = "writing pages.jsonl"
        write_jsonl(stage / "pages.jsonl",
                    ({"page_id": p.page_id, "doc_id": p.doc_id, "page": p.page.to_json()}
                     for p in data.pages.values()))
        checkpoint("tables-half-written")
        step[0] = "writing chunks.jsonl"
        write_jsonl(stage / "chunks.jsonl", (c.to_json() for c in data.chunks))
        checkpoint("tables-written")
        step[0] = "writing dense.faiss"
        dense_store.save(data.dense, stage / "dense.faiss")
        step[0] = "writing the BM25 arrays"
        data.sparse.save(stage)
        checkpoint("indexes-written")
        step[0] = "writing ledger.json"
        write_json(stage / "ledger.json", [e.to_json() for e in data.ledger.values()])
        report = dict(data.report, generation=name)
        step[0] = "writing ingest_report.json"
        write_json(stage / "ingest_report.json", report)
        for file_name in DATA_FILES:
            step[0] = f"syncing {file_name}"
            fsync_file(stage / file_name)
        manifest = dict(data.manifest)
        step[0] = "checksumming the generation"
        manifest.update(
            format=FORMAT_VERSION,
            generation=name,
            parent=store.current_name(),
            created=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            libraries=library_versions(),
            counts={
                "documents": len(data.documents), "pages": len(data.pages),
                "chunks": len(data.chunks), "dense": int(data.dense.ntotal),
                "sparse_rows": data.sparse.rows, "files": len(data.ledger),
            },
            files={f: {"sha256": sha256_file(stage / f), "bytes": (stage / f).stat().st_size}
                   for f in DATA_FILES},
        )
        step[0] = "writing manifest.json"
        write_json(stage / "manifest.json", manifest)
        step[0] = f"writing {SEAL}"
        atomic_write_text(stage / SEAL, sha256_file(stage / "manifest.json") + "\n")
        step[0] = "syncing the staging folder"
        fsync_dir(stage)
        checkpoint("manifest-written")
        store.generations_dir.mkdir(parents=True, exist_ok=True)
        step[0] = "verifying the staged generation"
        store._load(name, verify=True, path=stage)  # the commit's final verification
        step[0] = "renaming the staged generation into generations/"
        os.rename(stage, store.generations_dir / name)
        step[0] = "syncing generations/"
        fsync_dir(store.generations_dir)
        checkpoint("renamed")
        step[0] = "switching CURRENT"
        atomic_write_text(store.root / "CURRENT", name + "\n")
        checkpoint("switched")

    def _prune(self, keep: int) -> None:
        names = self.store.names()
        current = self.store.current_name()
        old = [n for n in names if n != current and current is not None and n < current]
        for name in old[: max(0, len(old) - (keep - 1))]:
            shutil.rmtree(self.store.generations_dir / name, ignore_errors=True)


def check_counts(generation: Generation) -> None:
    """FAISS ntotal == chunk rows == BM25 rows == manifest counts; ids agree."""
    n = len(generation.chunks)
    counts = generation.manifest.get("counts", {})
    problems = []
    if generation.dense.ntotal != n:
        problems.append(f"dense index has {generation.dense.ntotal} vectors for {n} chunks")
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


def _document_json(meta: DocumentMeta) -> dict[str, Any]:
    return {
        "doc_id": meta.doc_id, "source": meta.source, "title": meta.title, "pmid": meta.pmid,
        "doi": meta.doi, "journal": meta.journal, "year": meta.year,
        "authors": list(meta.authors), "mesh_terms": list(meta.mesh_terms),
        "publication_types": list(meta.publication_types), "retracted": meta.retracted,
        "extra": meta.extra,
    }

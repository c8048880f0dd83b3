"""Committing a generation: write every file in staging/, fsync, verify, rename, switch CURRENT.

Each step is named while it runs so that a failure (disk full, EIO, a failing fsync or rename)
is reported as the step that failed, and ``checkpoint`` marks the points the crash tests kill
the writer at. A failure before the switch leaves the previous generation current.
"""

from __future__ import annotations

import errno
import logging
import os
import shutil
from datetime import datetime, timezone
from typing import Any

from clinrag.records import DocumentMeta
from ingest.errors import IndexCorrupt, IndexWriteFailed
from ingest.store import dense as dense_store
from ingest.store.files import (
    atomic_write_text, fsync_dir, fsync_file, sha256_file, write_json, write_jsonl,
)
from ingest.store.generation import (
    _NAME, DATA_FILES, SEAL, GenerationData, IndexStore,
)
from ingest.store.faults import checkpoint
from ingest.store.manifest import FORMAT_VERSION, library_versions

log = logging.getLogger(__name__)


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
        if data.ann is not None:
            step[0] = f"writing {dense_store.ANN_FILE}"
            dense_store.save(data.ann, stage / dense_store.ANN_FILE)
        step[0] = "writing the BM25 arrays"
        data.sparse.save(stage)
        checkpoint("indexes-written")
        step[0] = "writing ledger.json"
        write_json(stage / "ledger.json", [e.to_json() for e in data.ledger.values()])
        report = dict(data.report, generation=name)
        step[0] = "writing ingest_report.json"
        write_json(stage / "ingest_report.json", report)
        files = DATA_FILES + ((dense_store.ANN_FILE,) if data.ann is not None else ())
        for file_name in files:
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
                   for f in files},
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


def _document_json(meta: DocumentMeta) -> dict[str, Any]:
    return {
        "doc_id": meta.doc_id, "source": meta.source, "title": meta.title, "pmid": meta.pmid,
        "doi": meta.doi, "journal": meta.journal, "year": meta.year,
        "authors": list(meta.authors), "mesh_terms": list(meta.mesh_terms),
        "publication_types": list(meta.publication_types), "retracted": meta.retracted,
        "extra": meta.extra,
    }

"""Finding input files and deciding, against the ledger, what a run has to do (pure logic
plus stat/hash I/O)."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass
from pathlib import Path
from stat import S_ISREG

from ingest.sources import is_supported
from ingest.store.ledger import LedgerEntry


@dataclass
class Candidate:
    """An input file with its identity on disk."""

    path: Path
    size: int
    mtime_ns: int
    sha256: str | None = None

    def content_hash(self) -> str:
        if self.sha256 is None:
            digest = hashlib.sha256()
            with self.path.open("rb") as handle:
                for block in iter(lambda: handle.read(1 << 20), b""):
                    digest.update(block)
            self.sha256 = digest.hexdigest()
        return self.sha256


@dataclass
class Skipped:
    path: Path
    category: str
    message: str


def expand_inputs(paths: list[Path]) -> tuple[list[Candidate], list[Skipped], list[Path]]:
    """Files to consider, files refused before parsing, and the resolved roots.

    Directories are walked recursively without following directory symlinks; a symlinked file
    that resolves outside the directory it was found in is refused (no escapes).
    """
    found: dict[Path, Candidate] = {}
    skipped: list[Skipped] = []
    roots: list[Path] = []
    for raw in paths:
        path = Path(raw).expanduser()
        if not path.exists():
            skipped.append(Skipped(path, "not_found", "no such file or directory"))
            continue
        root = path.resolve()
        roots.append(root)
        if root.is_file():
            _add(found, skipped, root, path)
            continue
        for folder, dirnames, filenames in os.walk(root, followlinks=False):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            for name in sorted(filenames):
                if name.startswith("."):
                    continue
                file_path = Path(folder) / name
                try:
                    resolved = file_path.resolve()
                except (OSError, RuntimeError) as exc:  # a symlink loop
                    skipped.append(Skipped(file_path, "unreadable", f"cannot resolve: {exc}"))
                    continue
                if file_path.is_symlink() and not resolved.is_relative_to(root):
                    skipped.append(Skipped(file_path, "symlink_escape",
                                           f"symlink points outside {root}: refused"))
                    continue
                _add(found, skipped, resolved, file_path)
    return sorted(found.values(), key=lambda c: str(c.path)), skipped, roots


def _add(found: dict[Path, Candidate], skipped: list[Skipped], resolved: Path, shown: Path) -> None:
    if not is_supported(resolved):
        skipped.append(Skipped(shown, "unsupported", f"not an ingestible file type "
                               f"({resolved.suffix or 'no extension'})"))
        return
    try:
        stat = resolved.stat()
    except OSError as exc:
        skipped.append(Skipped(shown, "unreadable", str(exc)))
        return
    if not S_ISREG(stat.st_mode):
        # A FIFO or device named *.txt would block (or never end) when hashed or read.
        skipped.append(Skipped(shown, "unsupported", "not a regular file (FIFO, device or "
                               "socket): refused"))
        return
    found[resolved] = Candidate(resolved, stat.st_size, stat.st_mtime_ns)


def is_unchanged(candidate: Candidate, entry: LedgerEntry | None, checksum: bool) -> bool:
    """Same size and mtime (or, with ``checksum``/changed stat, the same content hash)."""
    if entry is None:
        return False
    if not checksum and entry.size == candidate.size and entry.mtime_ns == candidate.mtime_ns:
        return True
    return entry.sha256 == candidate.content_hash()


def under_roots(path: str, roots: list[Path]) -> bool:
    return any(Path(path) == root or Path(path).is_relative_to(root) for root in roots)

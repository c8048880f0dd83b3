"""The ledger: which source file produced which documents and chunks, by content hash.

It is what makes ``ingest run`` incremental: unchanged files are skipped, changed ones have
their old chunks replaced, deleted ones have them removed. A chunk stays in the index while
at least one ledger entry references it.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass
class LedgerEntry:
    path: str
    sha256: str
    size: int
    mtime_ns: int
    status: str  # "ok" or "failed"
    category: str | None = None
    message: str | None = None
    doc_ids: list[str] = field(default_factory=list)
    chunk_ids: list[str] = field(default_factory=list)
    rejected: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> LedgerEntry:
        return cls(**data)

"""Records the retriever returns and accepts."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

Mode = Literal["dense", "bm25", "hybrid"]


@dataclass(frozen=True)
class Filters:
    """Metadata filters, applied to candidates before fusion."""

    year_min: int | None = None
    year_max: int | None = None
    sources: tuple[str, ...] = ()
    publication_types: tuple[str, ...] = ()
    doc_ids: tuple[str, ...] = ()
    exclude_retracted: bool = False

    @property
    def active(self) -> bool:
        return bool(self.year_min is not None or self.year_max is not None or self.sources
                    or self.publication_types or self.doc_ids or self.exclude_retracted)


@dataclass
class Hit:
    """One retrieved chunk with what a citation needs and the score of every stage."""

    rank: int
    chunk_id: str
    doc_id: str
    title: str
    text: str
    page_number: int | None
    section: str | None
    start: int
    end: int
    score: float
    scores: dict[str, float] = field(default_factory=dict)
    source: str = ""
    year: int | None = None
    journal: str | None = None
    pmid: str | None = None
    doi: str | None = None
    publication_types: tuple[str, ...] = ()
    retracted: bool = False

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["publication_types"] = list(self.publication_types)
        return data

    def citation(self) -> str:
        """A human-readable locator: title, page or section."""
        where = f"p. {self.page_number}" if self.page_number else (self.section or "abstract")
        return f"{self.title} ({where})"

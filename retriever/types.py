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


@dataclass(frozen=True)
class SearchParams:
    """What one search asks for. None = the retriever's configured value (``retrieve.*``).

    Everything that may change from one call to the next is here, so one opened retriever
    serves every caller (the evaluation ranks documents with ``max_per_doc=1``, the answerer
    passages with the configured cap) and concurrent requests never share state."""

    k: int | None = None
    mode: Mode | None = None
    rerank: bool | None = None
    depth: int | None = None           # candidates taken from each retriever
    rerank_top_n: int | None = None    # fused candidates the cross-encoder reorders
    max_per_doc: int | None = None
    filters: Filters = Filters()

    def __post_init__(self) -> None:
        for name in ("k", "depth", "rerank_top_n", "max_per_doc"):
            value = getattr(self, name)
            if value is not None and (isinstance(value, bool) or not isinstance(value, int)
                                      or value < 1):
                raise ValueError(f"search parameter {name} must be a positive integer, "
                                 f"not {value!r}")
        if self.mode not in (None, "dense", "bm25", "hybrid"):
            raise ValueError(f"search parameter mode must be dense, bm25 or hybrid, "
                             f"not {self.mode!r}")


@dataclass
class SearchTrace:
    """Per-stage timings and candidate counts of one search (for benches and logs)."""

    timings_ms: dict[str, float] = field(default_factory=dict)
    candidates: dict[str, int] = field(default_factory=dict)


@dataclass
class SearchResult:
    """The hits of one search and how it went; returned, never kept by the retriever."""

    hits: list[Hit]
    trace: SearchTrace


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
    path: str | None = None       # the file its document was ingested from

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["publication_types"] = list(self.publication_types)
        return data

    def citation(self) -> str:
        """A human-readable locator: title, page or section."""
        where = f"p. {self.page_number}" if self.page_number else (self.section or "abstract")
        return f"{self.title} ({where})"

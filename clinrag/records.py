"""Typed records that flow between the pipeline stages.

Plain dataclasses with explicit JSON round-trips: the index stores them as JSON lines, never
pickle, so a record read back from disk is exactly as typed here.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field
from typing import Any

_PLACEHOLDER_TITLE = re.compile(r"PubMed \d+")


def placeholder_title(pmid: str) -> str:
    """What a record without a title is called in listings and citations."""
    return f"PubMed {pmid}"


def is_placeholder_title(title: str) -> bool:
    """True for a missing or made-up title. Such a title names no topic, so it is never
    embedded or BM25-indexed with the chunks (it cost BioASQ ingest 19% more tokens)."""
    return not title.strip() or _PLACEHOLDER_TITLE.fullmatch(title) is not None


@dataclass(frozen=True)
class Heading:
    """A section heading found at ``offset`` in a page's text."""

    offset: int
    title: str


@dataclass(frozen=True)
class Page:
    """One unit of citable text: a PDF page, an abstract, a BioASQ snippet.

    ``number`` is the 1-based PDF page number (None for records without pages).
    ``section`` is the section in force where the page starts; ``headings`` are the section
    starts found inside it. ``offset`` is where this text starts in the original source
    section (BioASQ snippets carry their offset into the abstract).
    """

    text: str
    number: int | None = None
    section: str | None = None
    headings: tuple[Heading, ...] = ()
    extractor: str = "text"
    offset: int = 0

    def section_at(self, pos: int) -> str | None:
        """The section heading in force at character ``pos`` of this page."""
        current = self.section
        for heading in self.headings:
            if heading.offset <= pos:
                current = heading.title
            else:
                break
        return current

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data["headings"] = [[h.offset, h.title] for h in self.headings]
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Page:
        return cls(
            text=data["text"],
            number=data.get("number"),
            section=data.get("section"),
            headings=tuple(Heading(int(o), str(t)) for o, t in data.get("headings", ())),
            extractor=data.get("extractor", "text"),
            offset=int(data.get("offset", 0)),
        )


@dataclass(frozen=True)
class Document:
    """A parsed source document: identity, bibliographic metadata and its pages.

    ``doc_id`` is stable across re-ingests (``pubmed:<pmid>``, ``doi:<doi>`` or a content
    hash), so the same paper from two files is one document.
    """

    doc_id: str
    source: str
    title: str
    pages: tuple[Page, ...]
    pmid: str | None = None
    doi: str | None = None
    journal: str | None = None
    year: int | None = None
    authors: tuple[str, ...] = ()
    mesh_terms: tuple[str, ...] = ()
    publication_types: tuple[str, ...] = ()
    retracted: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    def metadata_json(self) -> dict[str, Any]:
        """Everything but the pages, as stored in the document table."""
        return {
            "doc_id": self.doc_id,
            "source": self.source,
            "title": self.title,
            "pmid": self.pmid,
            "doi": self.doi,
            "journal": self.journal,
            "year": self.year,
            "authors": list(self.authors),
            "mesh_terms": list(self.mesh_terms),
            "publication_types": list(self.publication_types),
            "retracted": self.retracted,
            "extra": self.extra,
        }


@dataclass(frozen=True)
class DocumentMeta:
    """A document's metadata as read back from the index (pages live in the page table)."""

    doc_id: str
    source: str
    title: str
    pmid: str | None = None
    doi: str | None = None
    journal: str | None = None
    year: int | None = None
    authors: tuple[str, ...] = ()
    mesh_terms: tuple[str, ...] = ()
    publication_types: tuple[str, ...] = ()
    retracted: bool = False
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> DocumentMeta:
        return cls(
            doc_id=data["doc_id"],
            source=data["source"],
            title=data.get("title") or "",
            pmid=data.get("pmid"),
            doi=data.get("doi"),
            journal=data.get("journal"),
            year=data.get("year"),
            authors=tuple(data.get("authors", ())),
            mesh_terms=tuple(data.get("mesh_terms", ())),
            publication_types=tuple(data.get("publication_types", ())),
            retracted=bool(data.get("retracted", False)),
            extra=dict(data.get("extra", {})),
        )


@dataclass(frozen=True)
class Chunk:
    """A retrievable span of one page: ``page.text[start:end] == text``.

    ``chunk_id`` is a content hash (document, page, span, text), so re-ingesting identical
    content yields identical ids. ``row_id`` is the int64 key used by the dense and sparse
    indexes, derived from the chunk id.
    """

    chunk_id: str
    row_id: int
    doc_id: str
    page_id: str
    page_number: int | None
    section: str | None
    start: int
    end: int
    text: str

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Chunk:
        return cls(
            chunk_id=data["chunk_id"],
            row_id=int(data["row_id"]),
            doc_id=data["doc_id"],
            page_id=data["page_id"],
            page_number=data.get("page_number"),
            section=data.get("section"),
            start=int(data["start"]),
            end=int(data["end"]),
            text=data["text"],
        )


def document_to_json(document: Document) -> dict[str, Any]:
    """A whole Document (metadata and pages) as JSON-safe data."""
    data = document.metadata_json()
    data["pages"] = [page.to_json() for page in document.pages]
    return data


def document_from_json(data: dict[str, Any]) -> Document:
    meta = DocumentMeta.from_json(data)
    return Document(
        doc_id=meta.doc_id, source=meta.source, title=meta.title,
        pages=tuple(Page.from_json(p) for p in data.get("pages", ())),
        pmid=meta.pmid, doi=meta.doi, journal=meta.journal, year=meta.year,
        authors=meta.authors, mesh_terms=meta.mesh_terms,
        publication_types=meta.publication_types, retracted=meta.retracted, extra=meta.extra,
    )

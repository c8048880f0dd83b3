"""Source loaders: one pure function per format, from a file to Documents.

:func:`loader_for` picks the loader by extension (and, for ``.json``, by content shape).
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from clinrag.records import Document
from ingest.errors import SourceError


@dataclass
class Rejected:
    """One record of a multi-record file that was refused, and why."""

    record: str
    category: str
    message: str


@dataclass
class Loaded:
    """What a loader returns: the documents it parsed and the records it refused."""

    documents: list[Document]
    rejected: list[Rejected] = field(default_factory=list)


Loader = Callable[[Path], Loaded]


@dataclass(frozen=True)
class ParseOptions:
    """How the loaders read files (from the ingest settings); crosses to the parse workers
    as JSON, so fields stay plain values."""

    pdf_extractor: str = "pypdf"  # which library reads PDF pages first; the other falls back

PDF_SUFFIXES = {".pdf"}
TEXT_SUFFIXES = {".txt", ".md", ".markdown", ".text"}
XML_SUFFIXES = {".xml"}
JSON_SUFFIXES = {".json"}
JSONL_SUFFIXES = {".jsonl", ".ndjson"}
SUPPORTED_SUFFIXES = PDF_SUFFIXES | TEXT_SUFFIXES | XML_SUFFIXES | JSON_SUFFIXES | JSONL_SUFFIXES


def is_supported(path: Path) -> bool:
    return path.suffix.lower() in SUPPORTED_SUFFIXES


def loader_for(path: Path, options: ParseOptions = ParseOptions()) -> Loader:
    """The loader for ``path``; raises SourceError("unsupported") for other files."""
    suffix = path.suffix.lower()
    if suffix in PDF_SUFFIXES:
        from ingest.sources.pdf import load_pdf

        return functools.partial(load_pdf, extractor=options.pdf_extractor)
    if suffix in TEXT_SUFFIXES:
        from ingest.sources.text import load_text

        return load_text
    if suffix in XML_SUFFIXES:
        from ingest.sources.pubmed import load_pubmed_xml

        return load_pubmed_xml
    if suffix in JSONL_SUFFIXES:
        from ingest.sources.jsonl import load_jsonl

        return load_jsonl
    if suffix in JSON_SUFFIXES:
        from ingest.sources.benchmark_json import load_benchmark_json

        return load_benchmark_json
    raise SourceError("unsupported", f"unsupported file type {suffix or '(none)'!r}")

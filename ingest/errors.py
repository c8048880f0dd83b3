"""Typed failures with a report category, so every rejected file says why."""

from __future__ import annotations


class SourceError(Exception):
    """A file (or one record in it) could not be ingested.

    ``category`` is a short machine-readable reason used in the ingest report: encrypted,
    no_text, timeout, parse_error, too_large, memory, unsupported, unsafe_xml, invalid_json,
    invalid_encoding, empty, crashed.
    """

    def __init__(self, category: str, message: str):
        super().__init__(message)
        self.category = category
        self.message = message


class IndexError_(Exception):
    """Base for index-level failures (not per file)."""


class IndexLocked(IndexError_):
    """Another writer holds the index lock."""


class IndexMismatch(IndexError_):
    """The index was built with a different embedder, chunker or tokeniser."""


class IndexCorrupt(IndexError_):
    """A file of a generation fails its checksum or the counts disagree."""


class IndexWriteFailed(IndexError_):
    """Writing a new generation failed (disk full, I/O error); the previous one stays current."""

"""JSON Lines records ``{id, title, text, ...metadata}``, one document each."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from clinrag.records import Document, Page
from ingest.errors import SourceError
from ingest.normalize import normalize_inline, normalize_text
from ingest.sources import Loaded, Rejected
from ingest.sources.decode import decode_utf8

_KNOWN = {"id", "title", "text", "pmid", "doi", "journal", "year", "authors", "mesh_terms",
          "publication_types", "retracted", "source"}


def load_jsonl(path: Path) -> Loaded:
    loaded = Loaded([])
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            if not raw.strip():
                continue
            try:
                record = json.loads(decode_utf8(raw, f"line {number}"))
                loaded.documents.append(record_document(record))
            except json.JSONDecodeError as exc:
                loaded.rejected.append(Rejected(f"line {number}", "invalid_json", exc.msg))
            except RecursionError:  # one absurdly nested record must not cost the whole file
                loaded.rejected.append(Rejected(f"line {number}", "parse_error",
                                                "structure nested too deeply"))
            except SourceError as exc:
                loaded.rejected.append(Rejected(f"line {number}", exc.category, exc.message))
    if not loaded.documents and not loaded.rejected:
        raise SourceError("empty", "no records")
    return loaded


def record_document(record: Any) -> Document:
    """A ``{id, title, text, ...}`` object to a Document; unknown keys go to ``extra``."""
    if not isinstance(record, dict):
        raise SourceError("parse_error", "record is not a JSON object")
    doc_id = str(record.get("id") or "").strip()
    text = normalize_text(str(record.get("text") or ""))
    if not doc_id:
        raise SourceError("parse_error", "record has no id")
    if not text:
        raise SourceError("no_text", f"record {doc_id!r} has no text")
    year = record.get("year")
    try:
        year = int(year) if year not in (None, "") else None
    except (TypeError, ValueError):
        raise SourceError("parse_error", f"record {doc_id!r}: year {year!r} is not a number")
    return Document(
        doc_id=doc_id,
        source=str(record.get("source") or "jsonl"),
        title=normalize_inline(str(record.get("title") or doc_id)),
        pages=(Page(text=text, extractor="jsonl"),),
        pmid=str(record["pmid"]) if record.get("pmid") else None,
        doi=str(record["doi"]).lower() if record.get("doi") else None,
        journal=record.get("journal"),
        year=year,
        authors=tuple(str(a) for a in record.get("authors") or ()),
        mesh_terms=tuple(str(m) for m in record.get("mesh_terms") or ()),
        publication_types=tuple(str(t) for t in record.get("publication_types") or ()),
        retracted=bool(record.get("retracted", False)),
        extra={k: v for k, v in record.items() if k not in _KNOWN},
    )

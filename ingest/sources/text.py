"""Plain text and Markdown: one document, Markdown ``#`` lines as section headings."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

from clinrag.records import Document, Heading, Page
from ingest.errors import SourceError
from ingest.normalize import normalize_text
from ingest.sources import Loaded
from ingest.sources.decode import decode_utf8

_MD_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*#*\s*$", re.MULTILINE)


def load_text(path: Path) -> Loaded:
    data = path.read_bytes()
    text = normalize_text(decode_utf8(data, path.name))
    if not text:
        raise SourceError("no_text", "empty text file")
    headings = tuple(Heading(m.start(), m.group(1)) for m in _MD_HEADING.finditer(text))
    first_line = text.split("\n", 1)[0].lstrip("#").strip()
    title = headings[0].title if headings and headings[0].offset == 0 else first_line[:200]
    digest = hashlib.sha256(data).hexdigest()[:16]
    page = Page(text=text, headings=headings, extractor="text")
    return Loaded([Document(doc_id=f"text:{digest}", source="text", title=title or path.stem,
                            pages=(page,), extra={"file_name": path.name})])

"""PDF loader: pypdf page by page, pypdfium2 where pypdf fails or finds no text.

Pure function of the file. It can hang or blow up memory on hostile files, so the pipeline
runs it in a limited worker process (:mod:`ingest.parse_pool`), never in the main process.
"""

from __future__ import annotations

import hashlib
import logging
import re
import statistics
from pathlib import Path

from clinrag.records import Document, Heading, Page
from ingest.errors import SourceError
from ingest.normalize import normalize_inline, normalize_text
from ingest.sources import Loaded

log = logging.getLogger(__name__)

_KNOWN_SECTIONS = (
    "abstract", "summary", "introduction", "background", "methods", "method",
    "materials and methods", "methods and materials", "patients and methods", "study design",
    "results", "discussion", "conclusion", "conclusions", "references", "acknowledgements",
    "acknowledgments", "funding", "data availability", "author contributions",
    "competing interests", "conflicts of interest", "supplementary material",
    "supplementary information", "limitations", "results and discussion", "bibliography",
)
_NUMBERED = re.compile(r"^(\d{1,2}(?:\.\d{1,2}){0,2})\.?\s+([A-Z][A-Za-z0-9 ,:;()/'&-]{2,70})$")
_DOI = re.compile(r"\b(10\.\d{4,9}/[^\s\"<>;,]+)", re.IGNORECASE)
_BOILERPLATE = re.compile(
    r"(biorxiv|medrxiv|preprint|doi[:.]|https?://|www\.|©|copyright|licen[cs]e|"
    r"received:|accepted:|published|^article$|^research article|open access|demo document)",
    re.IGNORECASE,
)
_JUNK_TITLES = re.compile(r"^(untitled|microsoft word|.*\.(docx?|pdf|tex)$)", re.IGNORECASE)


EXTRACTORS = ("pypdf", "pypdfium2")


def load_pdf(path: Path, extractor: str = "pypdf") -> Loaded:
    """Parse one PDF into a Document with one Page per PDF page that has text.

    ``extractor`` reads every page first; the other library is tried for the pages it fails
    on or finds no text in (or for the whole file when it cannot open it).
    """
    if extractor not in EXTRACTORS:
        raise ValueError(f"unknown PDF extractor {extractor!r}; expected one of {EXTRACTORS}")
    data = path.read_bytes()
    if extractor == "pypdfium2":
        raw_pages, extractors, metadata = _extract_pages_pdfium_first(path, data)
    else:
        raw_pages, extractors, metadata = _extract_pages(path, data)
    pages: list[Page] = []
    section: str | None = None
    for number, (raw, page_extractor) in enumerate(zip(raw_pages, extractors), start=1):
        text, headings = reflow_page(raw)
        if not text:
            continue
        pages.append(Page(text=text, number=number, section=section, headings=headings,
                          extractor=page_extractor))
        if headings:
            section = headings[-1].title
    if not pages:
        raise SourceError("no_text", f"no extractable text on any of {len(raw_pages)} pages "
                          "(scanned or image-only PDF?)")
    first = normalize_text(raw_pages[0] or "") if raw_pages else ""
    title = _pick_title(metadata.get("title"), first) or path.stem
    doi = _find_doi(" ".join(filter(None, (metadata.get("doi"), metadata.get("subject")))))
    doi = doi or _find_doi(first)
    digest = hashlib.sha256(data).hexdigest()[:16]
    extra = {"file_name": path.name, "page_count": len(raw_pages),
             "extractors": sorted(set(extractors) - {"none"})}
    document = Document(
        doc_id=f"pdf:{digest}", source="pdf", title=title, pages=tuple(pages), doi=doi,
        authors=tuple(a for a in [metadata.get("author")] if a), extra=extra,
    )
    return Loaded([document])


def _extract_pages(path: Path, data: bytes) -> tuple[list[str], list[str], dict[str, str]]:
    """Text of every page and which extractor produced it ('none' when neither found text)."""
    texts: list[str] = []
    extractors: list[str] = []
    metadata: dict[str, str] = {}
    try:
        import pypdf

        reader = pypdf.PdfReader(path)
        if reader.is_encrypted:
            try:
                ok = reader.decrypt("")
            except Exception as exc:  # unsupported crypto or malformed encryption dict
                raise SourceError("encrypted", f"encrypted PDF: {exc}") from exc
            if not ok:
                raise SourceError("encrypted", "encrypted PDF (a password is required)")
        metadata = _pypdf_metadata(reader)
        page_count = len(reader.pages)
    except SourceError:
        raise
    except Exception as exc:  # pypdf raises many types on malformed files; try pdfium whole
        log.debug("pypdf could not open %s: %s", path.name, exc)
        return _pdfium_all(data, f"{type(exc).__name__}: {exc}")
    if page_count == 0:
        raise SourceError("no_text", "PDF has zero pages")
    fallback: list[int] = []
    for index in range(page_count):
        try:
            text = reader.pages[index].extract_text() or ""
        except Exception as exc:  # a broken content stream on one page
            log.debug("pypdf failed on page %d of %s: %s", index + 1, path.name, exc)
            text = ""
        texts.append(text)
        extractors.append("pypdf")
        if not text.strip():
            fallback.append(index)
    if fallback:
        _pdfium_fill(data, fallback, texts, extractors)
    return texts, extractors, metadata


def _extract_pages_pdfium_first(path: Path, data: bytes
                                 ) -> tuple[list[str], list[str], dict[str, str]]:
    """Like :func:`_extract_pages` with the roles swapped: pypdfium2 first, pypdf after."""
    try:
        texts, extractors, metadata = _pdfium_all(data, "not tried (pypdfium2 reads first)")
    except SourceError as exc:
        if exc.category != "parse_error":
            raise  # encrypted or zero pages: pypdf would find the same
        log.debug("pypdfium2 could not open %s: %s", path.name, exc.message)
        return _extract_pages(path, data)  # pypdf first, then pypdfium2 again: both reported
    missing = [i for i, e in enumerate(extractors) if e == "none"]
    if missing:
        _pypdf_fill(path, missing, texts, extractors)
    return texts, extractors, metadata


def _pypdf_fill(path: Path, indices: list[int], texts: list[str], extractors: list[str]) -> None:
    try:
        import pypdf

        reader = pypdf.PdfReader(path)
        if reader.is_encrypted:
            reader.decrypt("")
    except Exception:  # the pages stay 'none': pypdfium2 already found nothing there
        return
    for index in indices:
        try:
            text = reader.pages[index].extract_text() or ""
        except Exception:
            text = ""
        if text.strip():
            texts[index] = text
            extractors[index] = "pypdf"


def _pypdf_metadata(reader) -> dict[str, str]:
    try:
        meta = reader.metadata or {}
        return {
            key.lstrip("/").lower(): normalize_inline(str(value))
            for key, value in meta.items()
            if isinstance(key, str) and value is not None and str(value).strip()
        }
    except Exception:  # metadata is optional; a broken info dict must not lose the text
        return {}


def _pdfium_fill(data: bytes, indices: list[int], texts: list[str], extractors: list[str]) -> None:
    try:
        import pypdfium2 as pdfium

        doc = pdfium.PdfDocument(data)
    except Exception:
        for index in indices:
            extractors[index] = "none"
        return
    try:
        for index in indices:
            try:
                text = doc[index].get_textpage().get_text_range()
            except Exception:
                text = ""
            texts[index] = text
            extractors[index] = "pypdfium2" if text.strip() else "none"
    finally:
        doc.close()


def _pdfium_all(data: bytes, pypdf_error: str) -> tuple[list[str], list[str], dict[str, str]]:
    try:
        import pypdfium2 as pdfium

        doc = pdfium.PdfDocument(data)
    except Exception as exc:
        message = str(exc)
        if "password" in message.lower():
            raise SourceError("encrypted", f"encrypted PDF: {message}") from exc
        raise SourceError("parse_error", f"not a readable PDF (pypdf: {pypdf_error}; "
                          f"pdfium: {message})") from exc
    try:
        if len(doc) == 0:
            raise SourceError("no_text", "PDF has zero pages")
        texts = []
        for index in range(len(doc)):
            try:
                texts.append(doc[index].get_textpage().get_text_range())
            except Exception:
                texts.append("")
        extractors = ["pypdfium2" if t.strip() else "none" for t in texts]
        return texts, extractors, _pdfium_metadata(doc)
    finally:
        doc.close()


def _pdfium_metadata(doc) -> dict[str, str]:
    """The document information fields the loader reads, keyed like pypdf's (lower case)."""
    try:
        info = doc.get_metadata_dict()
    except Exception:  # metadata is optional; a broken info dict must not lose the text
        return {}
    fields = {key.lower(): normalize_inline(str(info.get(key) or ""))
              for key in ("Title", "Author", "Subject", "Keywords")}
    return {key: value for key, value in fields.items() if value}


def reflow_page(raw: str) -> tuple[str, tuple[Heading, ...]]:
    """Join a PDF page's layout lines into paragraphs and find section headings.

    Lines are joined with spaces (a hyphen at a line end joins the word when the next line
    continues in lower case); a short line ending a sentence closes a paragraph; a heading line
    becomes its own paragraph and is recorded with its offset in the returned text.
    """
    lines = [line.strip() for line in normalize_text(raw).split("\n")]
    lengths = [len(line) for line in lines if len(line) > 20]
    typical = statistics.median(lengths) if lengths else 80
    out: list[str] = []
    headings: list[Heading] = []
    pending = ""

    def flush() -> None:
        nonlocal pending
        if pending:
            out.append(pending)
            pending = ""

    for line in lines:
        if not line:
            flush()
            continue
        heading = detect_heading(line)
        if heading:
            flush()
            offset = sum(len(p) + 2 for p in out)
            headings.append(Heading(offset, heading))
            out.append(line)
            continue
        if not pending:
            pending = line
        elif pending.endswith("-") and len(pending) > 1 and pending[-2].isalpha() and line[:1].islower():
            pending = pending[:-1] + line
        else:
            pending = pending + " " + line
        if line[-1:] in ".?!:" and len(line) < 0.7 * typical:
            flush()
    flush()
    return "\n\n".join(out), tuple(headings)


def detect_heading(line: str) -> str | None:
    """The canonical section name if ``line`` is a section heading, else None."""
    if len(line) > 80:
        return None
    bare = line.rstrip(".:").strip()
    lowered = bare.lower()
    match = _NUMBERED.match(bare)
    if match:
        rest = match.group(2).strip()
        top = int(match.group(1).split(".")[0])
        if rest.lower() in _KNOWN_SECTIONS or (
            top <= 12 and len(rest.split()) <= 8 and not re.search(r"[,;:]|\d{3}", rest)
        ):
            return f"{match.group(1)} {rest}"
        return None
    if lowered in _KNOWN_SECTIONS:
        return bare.title() if bare.isupper() else bare
    return None


def _pick_title(meta_title: str | None, first_page: str) -> str | None:
    if meta_title and len(meta_title) > 8 and not _JUNK_TITLES.match(meta_title):
        return meta_title
    for line in first_page.split("\n")[:15]:
        line = line.strip()
        if 15 <= len(line) <= 250 and not _BOILERPLATE.search(line) and not line[:1].isdigit():
            return line
    return None


def _find_doi(text: str) -> str | None:
    match = _DOI.search(text or "")
    if not match:
        return None
    # Layout extraction glues the next word on ("...484946doi:"): cut known tails.
    doi = re.sub(r"(doi:?|https?:?|biorxiv|medrxiv)$", "", match.group(1), flags=re.IGNORECASE)
    return doi.rstrip(".)]").lower()

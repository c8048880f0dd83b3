"""JSON benchmark files as corpora: PubMedQA ``ori_pqal.json``, BioASQ Task B golden files and
SQuAD-format extractive QA (e.g. COVID-QA: questions over the full text of papers).

The shape of the content decides the format, so users need not rename files.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from clinrag.pubmed_ids import pmid_of
from clinrag.pubmedqa import PubMedQAFormatError, is_pubmedqa, read_record
from clinrag.records import Document, Heading, Page, placeholder_title
from ingest.errors import SourceError
from ingest.normalize import normalize_text
from ingest.sources import Loaded, Rejected
from ingest.sources.decode import decode_utf8

def load_benchmark_json(path: Path) -> Loaded:
    try:
        data = json.loads(decode_utf8(path.read_bytes(), path.name))
    except json.JSONDecodeError as exc:
        raise SourceError("invalid_json", f"invalid JSON at line {exc.lineno} col {exc.colno}: "
                          f"{exc.msg}") from exc
    if isinstance(data, dict) and isinstance(data.get("questions"), list):
        return bioasq_documents(data["questions"])
    if is_pubmedqa(data):
        return pubmedqa_documents(data)
    if is_squad(data):
        return squad_documents(data["data"])
    if isinstance(data, list):
        from ingest.sources.jsonl import record_document

        loaded = Loaded([])
        for position, record in enumerate(data, start=1):
            try:
                loaded.documents.append(record_document(record))
            except SourceError as exc:
                loaded.rejected.append(Rejected(f"record #{position}", exc.category, exc.message))
        return loaded
    raise SourceError("unsupported", "JSON is neither BioASQ golden, PubMedQA, SQuAD-format "
                      "nor a list of {id, title, text} records")


def pubmedqa_documents(data: dict[str, Any]) -> Loaded:
    """One document per PMID: the abstract sections (CONTEXTS with their LABELS), each
    record read by clinrag/pubmedqa.py (a record without a question is still an abstract).

    The conclusion (LONG_ANSWER) is left out, as in the benchmark, so the corpus does not
    hand the answer over; the decision stays in ``extra`` for evaluation.
    """
    loaded = Loaded([])
    for pmid, raw in data.items():
        try:
            record = read_record(pmid, raw, need_answer=False, where="PubMedQA")
        except PubMedQAFormatError as exc:
            loaded.rejected.append(Rejected(f"PMID {pmid}", exc.category, str(exc)))
            continue
        labels = record.labels or (None,) * len(record.contexts)
        parts, headings, offset = [], [], 0
        for label, context in zip(labels, record.contexts):
            text = normalize_text(context)
            if not text:
                continue
            section = label.capitalize() if label else "Abstract"
            headings.append(Heading(offset, section))
            paragraph = f"{label.upper()}: {text}" if label else text
            parts.append(paragraph)
            offset += len(paragraph) + 2
        if not parts:
            loaded.rejected.append(Rejected(f"PMID {pmid}", "no_text",
                                            f"PMID {pmid}: empty CONTEXTS"))
            continue
        loaded.documents.append(Document(
            doc_id=record.doc_id, source="pubmedqa", title=placeholder_title(record.pmid),
            pages=(Page(text="\n\n".join(parts), headings=tuple(headings),
                        extractor="pubmedqa-json"),),
            pmid=record.pmid, year=record.year, mesh_terms=record.meshes,
            extra={"final_decision": raw.get("final_decision")},
        ))
    return loaded


def bioasq_documents(questions: list[Any]) -> Loaded:
    """Gold snippets grouped by PubMed id: one document per PMID, one page per snippet.

    Each distinct snippet is a page (section = title/abstract, offset = its position in that
    section), so identical snippets in several golden files become identical chunks.
    """
    snippets: dict[str, dict[tuple[str, int, str], None]] = {}
    loaded = Loaded([])
    for q_index, question in enumerate(questions, start=1):
        if not isinstance(question, dict):
            loaded.rejected.append(Rejected(f"question #{q_index}", "parse_error", "not an object"))
            continue
        for snippet in question.get("snippets") or ():
            try:
                pmid = _pmid(snippet.get("document", ""))
                text = normalize_text(str(snippet.get("text", "")))
                if not text:
                    continue
                section = str(snippet.get("beginSection") or "abstract")
                offset = int(snippet.get("offsetInBeginSection") or 0)
            except (AttributeError, SourceError, TypeError, ValueError) as exc:
                category = getattr(exc, "category", "parse_error")
                loaded.rejected.append(Rejected(f"question #{q_index} snippet", category, str(exc)))
                continue
            snippets.setdefault(pmid, {})[(section, offset, text)] = None
    for pmid in sorted(snippets, key=int):
        keys = sorted(snippets[pmid], key=lambda k: (k[0] != "title", k[1], -len(k[2])))
        pages = tuple(
            Page(text=text, section=section.capitalize(), offset=offset, extractor="bioasq-json")
            for section, offset, text in _drop_contained(keys)
        )
        title = next((p.text for p in pages if p.section == "Title"), placeholder_title(pmid))
        loaded.documents.append(
            Document(doc_id=f"pubmed:{pmid}", source="bioasq", title=title, pages=pages, pmid=pmid)
        )
    return loaded


def _drop_contained(keys: list[tuple[str, int, str]]) -> list[tuple[str, int, str]]:
    """Drop snippets whose text lies inside a longer snippet of the same section."""
    kept: list[tuple[str, int, str]] = []
    for key in sorted(keys, key=lambda k: -len(k[2])):
        if not any(key[0] == other[0] and key[2] in other[2] for other in kept):
            kept.append(key)
    return sorted(kept, key=lambda k: (k[0] != "title", k[1]))


def _pmid(url: str) -> str:
    pmid = pmid_of(url)
    if pmid is None:
        raise SourceError("parse_error", f"snippet document {url!r} has no PubMed id")
    return pmid


# -- SQuAD format --------------------------------------------------------------------------------
def is_squad(data: Any) -> bool:
    """``{"data": [{"paragraphs": [{"context": ..., "qas": [...]}, ...]}, ...]}``."""
    articles = data.get("data") if isinstance(data, dict) else None
    return (isinstance(articles, list) and bool(articles)
            and all(isinstance(a, dict) and isinstance(a.get("paragraphs"), list)
                    for a in articles))


def squad_doc_id(paragraph: dict[str, Any], text: str) -> str:
    """The document id of one SQuAD context, shared with eval/datasets.py's gold spans.

    COVID-QA gives each paper a ``document_id``; plain SQuAD does not, so the id is then a
    hash of ``text``, the normalised context (the same context in two files is one document).
    """
    if paragraph.get("document_id") not in (None, ""):
        return f"squad:{paragraph['document_id']}"
    return "squad:" + hashlib.sha256(text.encode()).hexdigest()[:16]


def squad_documents(articles: list[Any]) -> Loaded:
    """One document per context (for COVID-QA: one paper's full text), section "Body".

    The text is the normalised context, so character offsets into it are what the answer
    spans are mapped to (eval/datasets.py). The questions stay out of the corpus. A title is
    the article's ``title`` or, failing that, the context's first line when it is short (COVID-QA
    contexts start with the paper's title).
    """
    loaded = Loaded([])
    seen: set[str] = set()
    for a_index, article in enumerate(articles, start=1):
        for p_index, paragraph in enumerate(article.get("paragraphs") or (), start=1):
            where = f"article #{a_index} paragraph #{p_index}"
            if not isinstance(paragraph, dict):
                loaded.rejected.append(Rejected(where, "parse_error", "not an object"))
                continue
            text = normalize_text(str(paragraph.get("context") or ""))
            if not text:
                loaded.rejected.append(Rejected(where, "no_text", "empty context"))
                continue
            doc_id = squad_doc_id(paragraph, text)
            if doc_id in seen:
                continue
            seen.add(doc_id)
            first_line = text.split("\n", 1)[0].strip()
            title = str(article.get("title") or "").strip() or (
                first_line if len(first_line) <= 300 else "")
            loaded.documents.append(Document(
                doc_id=doc_id, source="squad", title=title,
                pages=(Page(text=text, section="Body", extractor="squad-json"),)))
    return loaded


@dataclass(frozen=True)
class SquadQuestion:
    """One answerable SQuAD question with its answer spans in the normalised context."""

    qid: str
    question: str
    doc_id: str
    spans: tuple[tuple[int, int], ...]


def squad_questions(data: Any) -> list[SquadQuestion]:
    """Every answerable question whose answer is found in its context (training data: a
    malformed or unanswerable item is skipped here; eval/squad.py reports them instead)."""
    out: list[SquadQuestion] = []
    articles = (data.get("data") or ()) if isinstance(data, dict) else ()
    for article in articles:
        paragraphs = (article.get("paragraphs") or ()) if isinstance(article, dict) else ()
        for paragraph in paragraphs:
            if not isinstance(paragraph, dict) or not paragraph.get("context"):
                continue
            raw = str(paragraph["context"])
            text = normalize_text(raw)
            doc_id = squad_doc_id(paragraph, text)
            for qa in paragraph.get("qas") or ():
                if not isinstance(qa, dict):
                    continue
                question = " ".join(str(qa.get("question") or "").split())
                spans = tuple(dict.fromkeys(
                    span for a in qa.get("answers") or () if isinstance(a, dict)
                    for span in [answer_span(raw, text, str(a.get("text") or ""),
                                             a.get("answer_start"))] if span))
                if question and spans and qa.get("id") is not None:
                    out.append(SquadQuestion(str(qa["id"]), question, doc_id, spans))
    return out


def answer_span(raw: str, text: str, answer: str, start: Any) -> tuple[int, int] | None:
    """(start, end) of ``answer`` in the normalised context ``text``, or None if absent.

    ``start`` is the offset into the raw context; its place in the normalised text is
    estimated by normalising the prefix, and the nearest occurrence of the normalised answer
    wins (an answer that occurs twice keeps the one the annotator marked).
    """
    needle = normalize_text(answer)
    if not needle:
        return None
    try:
        expected = len(normalize_text(raw[: max(0, int(start))]))
    except (TypeError, ValueError):
        expected = 0
    best, found = None, text.find(needle)
    while found >= 0:
        if best is None or abs(found - expected) < abs(best - expected):
            best = found
        found = text.find(needle, found + 1)
    return None if best is None else (best, best + len(needle))

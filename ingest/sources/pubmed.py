"""PubMed/MEDLINE XML loader (the E-utilities ``PubmedArticleSet`` format).

Parsed with defusedxml: a DOCTYPE line (as every real E-utilities file has) is fine, but entity
declarations (billion laughs) and external entities are refused.
"""

from __future__ import annotations

import re
from pathlib import Path
from xml.etree.ElementTree import Element

import defusedxml
import defusedxml.ElementTree as SafeET

from clinrag.records import Document, Heading, Page, placeholder_title
from ingest.errors import SourceError
from ingest.normalize import normalize_inline, normalize_text
from ingest.sources import Loaded, Rejected

_YEAR = re.compile(r"\b(1[89]\d\d|20\d\d)\b")


def load_pubmed_xml(path: Path) -> Loaded:
    """Every ``PubmedArticle`` in the file becomes a Document ``pubmed:<PMID>``."""
    try:
        root = SafeET.parse(
            str(path), forbid_dtd=False, forbid_entities=True, forbid_external=True
        ).getroot()
    except defusedxml.DefusedXmlException as exc:
        raise SourceError("unsafe_xml", f"refused unsafe XML construct: {exc!r}") from exc
    except SafeET.ParseError as exc:
        raise SourceError("parse_error", f"malformed XML: {exc}") from exc
    if root.tag not in ("PubmedArticleSet", "PubmedArticle"):
        raise SourceError("unsupported", f"XML root <{root.tag}> is not a PubmedArticleSet")
    articles = [root] if root.tag == "PubmedArticle" else root.findall("PubmedArticle")
    loaded = Loaded([])
    for position, article in enumerate(articles, start=1):
        try:
            loaded.documents.append(parse_article(article))
        except SourceError as exc:
            loaded.rejected.append(Rejected(f"article #{position}", exc.category, exc.message))
    return loaded


def parse_article(article: Element) -> Document:
    """One ``PubmedArticle`` element to a Document (pure)."""
    citation = article.find("MedlineCitation")
    if citation is None:
        raise SourceError("parse_error", "PubmedArticle without MedlineCitation")
    pmid = _text(citation.find("PMID"))
    if not pmid or not pmid.isdigit():
        raise SourceError("parse_error", f"missing or invalid PMID {pmid!r}")
    art = citation.find("Article")
    if art is None:
        raise SourceError("parse_error", f"PMID {pmid}: no Article element")
    title = _text(art.find("ArticleTitle")) or _text(art.find("VernacularTitle"))
    page = _abstract_page(art, title)
    if page is None:
        raise SourceError("no_text", f"PMID {pmid}: neither title nor abstract text")
    pub_types = tuple(
        t for t in (_text(e) for e in art.findall("PublicationTypeList/PublicationType")) if t
    )
    retracted = "Retracted Publication" in pub_types or any(
        c.get("RefType") == "RetractionIn"
        for c in citation.findall("CommentsCorrectionsList/CommentsCorrections")
    )
    return Document(
        doc_id=f"pubmed:{pmid}",
        source="pubmed",
        title=title or placeholder_title(pmid),
        pages=(page,),
        pmid=pmid,
        doi=_doi(article, art),
        journal=_text(art.find("Journal/Title")) or _text(art.find("Journal/ISOAbbreviation")),
        year=_year(art, citation),
        authors=_authors(art),
        mesh_terms=tuple(
            t for t in (_text(e) for e in citation.findall("MeshHeadingList/MeshHeading/DescriptorName")) if t
        ),
        publication_types=pub_types,
        retracted=retracted,
        extra={"retraction_notice": "Retraction of Publication" in pub_types},
    )


def _abstract_page(art: Element, title: str) -> Page | None:
    """Title, then each labelled abstract section as its own paragraph with a heading."""
    parts: list[str] = []
    headings: list[Heading] = []
    offset = 0
    if title:
        parts.append(title)
        headings.append(Heading(0, "Title"))
        offset = len(title) + 2
    for node in art.findall("Abstract/AbstractText"):
        text = _text(node)
        if not text:
            continue
        label = node.get("Label") or node.get("NlmCategory")
        section = label.strip().capitalize() if label else "Abstract"
        if not headings or headings[-1].title != section:
            headings.append(Heading(offset, section))
        paragraph = f"{label.strip().upper()}: {text}" if label else text
        parts.append(paragraph)
        offset += len(paragraph) + 2
    if not parts:
        return None
    return Page(text="\n\n".join(parts), headings=tuple(headings), extractor="pubmed-xml")


def _text(node: Element | None) -> str:
    """All text inside ``node`` (inline <i>, <sup>, ... included), normalised."""
    if node is None:
        return ""
    return normalize_text(" ".join("".join(node.itertext()).split()))


def _doi(article: Element, art: Element) -> str | None:
    for node in article.findall("PubmedData/ArticleIdList/ArticleId"):
        if node.get("IdType") == "doi" and _text(node):
            return _text(node).lower()
    for node in art.findall("ELocationID"):
        if node.get("EIdType") == "doi" and _text(node):
            return _text(node).lower()
    return None


def _year(art: Element, citation: Element) -> int | None:
    for path in ("Journal/JournalIssue/PubDate/Year", "Journal/JournalIssue/PubDate/MedlineDate",
                 "ArticleDate/Year"):
        match = _YEAR.search(_text(art.find(path)))
        if match:
            return int(match.group(1))
    match = _YEAR.search(_text(citation.find("DateCompleted/Year")))
    return int(match.group(1)) if match else None


def _authors(art: Element) -> tuple[str, ...]:
    names = []
    for author in art.findall("AuthorList/Author"):
        collective = _text(author.find("CollectiveName"))
        if collective:
            names.append(collective)
            continue
        last = _text(author.find("LastName"))
        first = _text(author.find("ForeName")) or _text(author.find("Initials"))
        if last:
            names.append(normalize_inline(f"{last} {first}"))
    return tuple(names)
